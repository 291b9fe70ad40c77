"""The whole product as separate processes in a fresh database of its own (a new
PostgreSQL database when the tests run on PostgreSQL, else a SQLite file); the local
fal sandbox is started by the caller and passed in."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from videoplanet.localstack import LocalStack


@contextmanager
def fresh_database(tmp_path: Path):
    """A DATABASE_URL for a new, empty database, dropped afterwards."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        yield f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
        return
    import psycopg

    name = f"videoplanet_e2e_{uuid.uuid4().hex[:10]}"
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


@contextmanager
def running_stack(tmp_path: Path, sandbox_url: str, *, workers: int = 1, reconciler: bool = False, **env):
    with fresh_database(tmp_path) as database_url:
        stack = LocalStack(tmp_path, database_url, sandbox_url, **env)
        try:
            stack.manage("migrate", "--noinput")
            stack.manage("ensure_demo_account")
            stack.start_web()
            for number in range(1, workers + 1):
                stack.start_worker(f"worker{number}")
            if reconciler:
                stack.start_reconciler()
            yield stack
        finally:
            stack.stop()
