"""Run VideoPlanet locally: web server, task workers, reconciler and (without a
FAL_KEY) the local fal sandbox, as one supervised group.

Usage: .venv/bin/python -m devtools.serve [--dry-run]    (normally via `make run`)

The processes themselves are described in devtools.processes, shared with the tests;
this module adds what a person at the console needs: a banner, prefixed output, Ctrl-C.

Environment: PORT (8000), HOST (127.0.0.1), SANDBOX_PORT (8001), WORKERS (2),
FAL_KEY, DATABASE_URL, PUBLIC_BASE_URL. Values in .env are honoured like the
settings do (the real environment wins).

Each child runs in its own process group with its output prefixed by its name.
Ctrl-C / SIGTERM stops everything (SIGTERM, then SIGKILL after 5 s); if any
child exits on its own, everything is stopped and the exit status is 1.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from devtools import processes
from devtools.processes import ROOT, ProcessSpec

STOP_GRACE = 5.0


@dataclass
class Config:
    host: str
    port: int
    sandbox_port: int
    workers: int
    use_sandbox: bool
    database_url: str
    env: dict  # environment for the children


def read_dotenv(path):
    values = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line.startswith("export "):
                line = line[7:].lstrip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip("'\"")
    return values


def load_config(environ):
    settings_env = {**read_dotenv(ROOT / ".env"), **environ}  # what the settings will see
    cfg = Config(
        host=environ.get("HOST") or "127.0.0.1",
        port=int(environ.get("PORT") or 8000),
        sandbox_port=int(environ.get("SANDBOX_PORT") or 8001),
        workers=int(environ.get("WORKERS") or 2),
        use_sandbox=not settings_env.get("FAL_KEY"),
        database_url=settings_env.get("DATABASE_URL", ""),
        env={**environ, "PYTHONUNBUFFERED": "1"},
    )
    if not settings_env.get("PUBLIC_BASE_URL"):
        cfg.env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{cfg.port}"
    if cfg.use_sandbox:
        cfg.env["FAL_SANDBOX_URL"] = f"http://127.0.0.1:{cfg.sandbox_port}"
        # Long enough to watch a card go queued -> processing; ask often enough to see it.
        cfg.env.setdefault("SANDBOX_SECONDS", "8")
        if not settings_env.get("STATUS_POLL_SECONDS"):
            cfg.env["STATUS_POLL_SECONDS"] = "2"
    return cfg


def build_plan(cfg, python=sys.executable):
    """(sandbox or None, [web, workers..., reconcile, prune])"""
    sandbox = None
    if cfg.use_sandbox:
        sandbox = processes.sandbox(port=cfg.sandbox_port, key_file="var/sandbox-key.pem", python=python)
    rest = [processes.web(bind=f"{cfg.host}:{cfg.port}", access_log=True, python=python)]
    rest += [processes.worker(f"worker{i}", python=python) for i in range(1, cfg.workers + 1)]
    rest.append(processes.reconciler(python=python))
    rest.append(processes.pruner(python=python))
    return sandbox, rest


def port_in_use(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def describe_database(url):
    if not url:
        return "SQLite (db.sqlite3)"
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return f"SQLite ({url.partition(':///')[2] or 'in memory'})"
    where = f"{parts.hostname or 'local socket'}{':%s' % parts.port if parts.port else ''}"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme} {user}{where}{parts.path}"


class Supervisor:
    def __init__(self, env, width=9):
        self.env = env
        self.width = width
        self.children = []  # (Proc, Popen, reader thread)
        self.lock = threading.RLock()
        self.stop_requested = False
        self.force = False

    def say(self, text, name="serve"):
        with self.lock:
            sys.stdout.write(f"{name:<{self.width}} | {text}\n")
            sys.stdout.flush()

    def on_signal(self, signum, _frame):
        if self.stop_requested:
            self.force = True
        else:
            self.stop_requested = True
            self.say(f"got {signal.Signals(signum).name}, stopping (again to kill now)")

    def start(self, proc: ProcessSpec):
        popen = subprocess.Popen(
            proc.argv, cwd=ROOT, env=self.env, process_group=0,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        reader = threading.Thread(target=self._pump, args=(proc.name, popen.stdout), daemon=True)
        reader.start()
        self.children.append((proc, popen, reader))

    def _pump(self, name, stream):
        for raw in iter(stream.readline, b""):
            self.say(raw.decode(errors="replace").rstrip("\n"), name)

    def dead_child(self):
        for proc, popen, _ in self.children:
            if popen.poll() is not None:
                return proc, popen.returncode
        return None

    def wait_until_answering(self, url, **options):
        """Wait for url to answer. Returns 'ok', 'stop', 'died' or 'timeout'."""
        try:
            processes.wait_until_answering(
                url, alive=lambda: not (self.stop_requested or self.dead_child()), **options)
            return "ok"
        except processes.NotReady:
            return "stop" if self.stop_requested else "died" if self.dead_child() else "timeout"

    def supervise(self, interval=0.5):
        """Until Ctrl-C or a child exits on its own. Returns 'stop' or 'died'."""
        while not self.stop_requested and not self.dead_child():
            time.sleep(interval)
        return "stop" if self.stop_requested else "died"

    def report_death(self):
        proc, code = self.dead_child()
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        self.say(f"ERROR: {proc.name} {how} unexpectedly; stopping everything")

    @staticmethod
    def _group_alive(popen):
        popen.poll()  # reap the leader if it is gone
        try:
            os.killpg(popen.pid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def stop_all(self):
        for _, popen, _ in self.children:
            try:
                os.killpg(popen.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + STOP_GRACE
        while (time.monotonic() < deadline and not self.force
               and any(self._group_alive(p) for _, p, _ in self.children)):
            time.sleep(0.1)
        for proc, popen, _ in self.children:
            if self._group_alive(popen):
                self.say(f"{proc.name} still running; sending SIGKILL")
                try:
                    os.killpg(popen.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for _, popen, reader in self.children:
            popen.wait()
            reader.join(timeout=1)


def banner(cfg, sup):
    shown_host = "127.0.0.1" if cfg.host in ("127.0.0.1", "0.0.0.0", "localhost") else cfg.host
    url = f"http://{shown_host}:{cfg.port}/"
    provider = (f"local fal sandbox (http://127.0.0.1:{cfg.sandbox_port}, no FAL_KEY)"
                if cfg.use_sandbox else "fal.ai (FAL_KEY is set)")
    lines = [
        f"VideoPlanet is running at {url}",
        *(["Log in with:  demo / demo"] if cfg.use_sandbox else []),
        f"Admin:        {url}admin/",
        f"Database:     {describe_database(cfg.database_url)}",
        f"Provider:     {provider}",
        *(["Listening on all interfaces (HOST=0.0.0.0)"] if cfg.host == "0.0.0.0" else []),
        "Press Ctrl-C to stop.",
    ]
    rule = "=" * max(len(line) for line in lines)
    with sup.lock:  # keep the banner in one piece
        for line in [rule, *lines, rule]:
            sup.say(line)


def run(cfg, sandbox, rest):
    busy = [(h, p, var) for h, p, var in [(cfg.host, cfg.port, "PORT"),
                                          ("127.0.0.1", cfg.sandbox_port, "SANDBOX_PORT")]
            if (var == "PORT" or sandbox) and port_in_use(h, p)]
    for host, port, var in busy:
        print(f"serve: ERROR: port {port} on {host} is already in use (is another `make run` "
              f"still running?). Stop it, or choose another port, e.g. {var}={port + 10} make run.",
              file=sys.stderr)
    if busy:
        return 1
    for d in ("var", "media"):
        (ROOT / d).mkdir(exist_ok=True)

    names = ([sandbox] if sandbox else []) + rest
    sup = Supervisor(cfg.env, width=max(len(p.name) for p in names))
    signal.signal(signal.SIGINT, sup.on_signal)
    signal.signal(signal.SIGTERM, sup.on_signal)
    web_host = "127.0.0.1" if cfg.host in ("0.0.0.0", "localhost") else cfg.host
    status = 0
    try:
        if sandbox:
            sup.start(sandbox)
            result = sup.wait_until_answering(
                f"http://127.0.0.1:{cfg.sandbox_port}/health", ok=lambda response: response.status_code == 200)
            if result != "ok":
                return finish(sup, result, "the sandbox did not answer GET /health in time")
            sup.say(f"sandbox is up on http://127.0.0.1:{cfg.sandbox_port}")
        for proc in rest:
            sup.start(proc)
        result = sup.wait_until_answering(f"http://{web_host}:{cfg.port}/")
        if result != "ok":
            return finish(sup, result, f"the web server did not answer on port {cfg.port} in time")
        banner(cfg, sup)
        status = finish(sup, sup.supervise(), "")
    finally:
        sup.stop_all()
        sup.say("all stopped")
    return status


def finish(sup, result, timeout_message):
    if result == "stop":
        return 0
    if result == "died":
        sup.report_death()
    else:
        sup.say(f"ERROR: {timeout_message}; stopping everything")
    return 1


def main(argv):
    os.chdir(ROOT)
    cfg = load_config(dict(os.environ))
    sandbox, rest = build_plan(cfg)
    if "--dry-run" in argv:
        for key in ("PUBLIC_BASE_URL", "FAL_SANDBOX_URL"):
            if key in cfg.env and cfg.env.get(key) != os.environ.get(key):
                print(f"export {key}={cfg.env[key]}")
        for proc in ([sandbox] if sandbox else []) + rest:
            print(f"{proc.name}: {' '.join(proc.argv)}")
        return 0
    return run(cfg, sandbox, rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
