"""A static file server for the download benchmark, in a process of its own so that it
never competes with the measured download for one interpreter: GET /<name> answers
with the file through sendfile(2). Prints its address on its first line."""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = (ROOT / self.path.lstrip("/").split("?")[0]).resolve()
        if path.parent != ROOT or not path.is_file():
            self.send_error(404)
            return
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.flush()
        with open(path, "rb") as handle:
            self.connection.sendfile(handle)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    os.set_blocking(sys.stdout.fileno(), True)
    server.serve_forever()
