"""The product as separate local processes: web server (gunicorn), background
workers and the reconciler, all sharing one database through DATABASE_URL, with their
output in log files. Used by the end-to-end tests, the chaos run and the benchmarks;
`make run` shows the same processes on the console (devtools.serve)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from devtools import processes
from devtools.processes import ROOT, ProcessSpec, free_port


def _postgres() -> dict | None:
    """How to reach the configured PostgreSQL server as an administrator, or None on SQLite."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return None
    host, port, user = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432, db.get("USER") or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
    return {
        "connect": dict(host=host, port=port, user=user, password=db.get("PASSWORD") or None, dbname="postgres", autocommit=True),
        "url": f"postgres://{auth}@{host}:{port}/",
    }


def _create_database(server: dict, name: str, template: str | None = None) -> str:
    import psycopg

    with psycopg.connect(**server["connect"]) as connection:
        connection.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return server["url"] + name


def _drop_database(server: dict, name: str) -> None:
    import psycopg

    with psycopg.connect(**server["connect"]) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class MigratedTemplate:
    """A database migrated once, with the demo account, for `fresh_database` to copy.
    PostgreSQL copies a database (CREATE DATABASE ... TEMPLATE) in a fraction of a second
    where `migrate` takes seconds, so a test session migrates once instead of once per
    stack; on SQLite the file is copied. Made on first use; `drop()` removes it."""

    def __init__(self) -> None:
        self._source: str | None = None
        self._workdir: Path | None = None

    def source(self) -> str:
        """The template's database name (PostgreSQL) or file path (SQLite), made if need be."""
        if self._source is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="videoplanet-template-"))
            server = _postgres()
            if server:
                source = f"videoplanet_template_{uuid.uuid4().hex[:10]}"
                database_url = _create_database(server, source)
            else:
                source = str(self._workdir / "template.sqlite3")
                database_url = f"sqlite:///{source}"
            self._source = source
            try:
                maker = LocalStack(self._workdir, database_url, "http://127.0.0.1:9")
                maker.manage("migrate", "--noinput")
                maker.manage("ensure_demo_account")
            except BaseException:
                self.drop()
                raise
        return self._source

    def drop(self) -> None:
        if self._source is not None and (server := _postgres()):
            _drop_database(server, self._source)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._source = self._workdir = None


@contextmanager
def fresh_database(workdir: Path, *, template: MigratedTemplate | None = None):
    """A DATABASE_URL for a new database of the configured kind, dropped afterwards:
    empty, or a copy of `template` (migrated, with the demo account)."""
    server = _postgres()
    if not server:
        path = workdir / "localstack.sqlite3"
        if template is not None:
            shutil.copyfile(template.source(), path)
        yield f"sqlite:///{path}"
        return
    name = f"videoplanet_local_{uuid.uuid4().hex[:10]}"
    database_url = _create_database(server, name, template.source() if template is not None else None)
    try:
        yield database_url
    finally:
        _drop_database(server, name)


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
