"""The whole product as separate processes in a fresh database of its own (a new
PostgreSQL database when the tests run on PostgreSQL, else a SQLite file); the local
fal sandbox is started by the caller and passed in."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from devtools.localstack import LocalStack, fresh_database


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
