"""The product as separate local processes: web server (gunicorn), background
workers and the reconciler, all sharing one database through DATABASE_URL, with their
output in log files. Used by the end-to-end tests, the chaos run and the benchmarks;
`make run` shows the same processes on the console (devtools.serve)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from devtools import processes
from devtools.processes import ROOT, ProcessSpec, free_port


@contextmanager
def fresh_database(workdir: Path):
    """A DATABASE_URL for a new, empty database of the configured kind, dropped afterwards."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        yield f"sqlite:///{workdir / 'localstack.sqlite3'}"
        return
    import psycopg

    name = f"videoplanet_local_{uuid.uuid4().hex[:10]}"
    host, port, user = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432, db.get("USER") or "postgres"
    admin = dict(host=host, port=port, user=user, password=db.get("PASSWORD") or None, dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
        yield f"postgres://{auth}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(**admin) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class LocalStack:
    def __init__(self, workdir: Path, database_url: str, sandbox_url: str, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "videoplanet.settings",
            "DATABASE_URL": database_url,
            "MEDIA_ROOT": str(workdir / "media"),
            "FAL_KEY": "",
            "FAL_SANDBOX_URL": sandbox_url,
            "FAL_JWKS_URL": f"{sandbox_url}/.well-known/jwks.json",
            "PUBLIC_BASE_URL": self.url,
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in env.items()},
        }

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self, spec: ProcessSpec) -> subprocess.Popen:
        with open(self.logs / f"{spec.name}.log", "ab") as log:
            process = subprocess.Popen(
                spec.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes[spec.name] = process
        return process

    def start_web(self, *, access_log: bool = False) -> None:
        web = self.start(processes.web(bind=f"127.0.0.1:{self.port}", access_log=access_log))
        processes.wait_until_answering(
            f"{self.url}/accounts/login/", alive=lambda: web.poll() is None, describe=lambda: self.log("web")
        )

    def start_worker(self, name: str = "worker") -> subprocess.Popen:
        return self.start(processes.worker(name, interval=0.2))

    def start_reconciler(self, every: float = 1.0) -> subprocess.Popen:
        return self.start(processes.reconciler(every=every))

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, sig)
        process.wait(10)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        self.processes.clear()
