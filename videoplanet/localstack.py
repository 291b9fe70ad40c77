"""The product as separate local processes: web server (gunicorn), background
workers and the reconciler, all sharing one database through DATABASE_URL. Used by
the chaos run and the end-to-end tests; `make run` has its own friendlier supervisor."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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

    def start(self, name: str, *command: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, *command], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        return process

    def start_web(self) -> None:
        self.start(
            "web", "-m", "gunicorn", "videoplanet.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
            "--workers", "2", "--threads", "4", "--graceful-timeout", "2",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}/accounts/login/", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError(f"web server did not start:\n{self.log('web')}")

    def start_worker(self, name: str = "worker") -> subprocess.Popen:
        return self.start(name, "manage.py", "db_worker", "--interval", "0.2", "--worker-id", name)

    def start_reconciler(self, every: float = 1.0) -> subprocess.Popen:
        return self.start("reconcile", "manage.py", "reconcile", "--every", str(every))

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
