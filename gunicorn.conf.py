"""gunicorn reads this file by itself when it starts in the project folder (as `make
run`, the tests and the documented production command do)."""

# The request line without its query string: fal's webhook URL carries the task's
# secret token there, and an access log is no place for secrets.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s"'
