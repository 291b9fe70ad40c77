"""The whole product as separate processes in a fresh database of its own (a new
PostgreSQL database when the tests run on PostgreSQL, else a SQLite file); the local
fal sandbox is started by the caller and passed in.

Every stack's database is a copy of one migrated in this test process (with the demo
account): copying takes a fraction of a second, migrating takes seconds."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from devtools.localstack import LocalStack, MigratedTemplate, fresh_database

# Made on first use; tests/conftest.py drops it when the session ends.
TEMPLATE = MigratedTemplate()


@contextmanager
def running_stack(tmp_path: Path, sandbox_url: str, *, workers: int = 1, reconciler: bool = False, **env):
    with fresh_database(tmp_path, template=TEMPLATE) as database_url:
        stack = LocalStack(tmp_path, database_url, sandbox_url, **env)
        try:
            stack.start_web()
            for number in range(1, workers + 1):
                stack.start_worker(f"worker{number}")
            if reconciler:
                stack.start_reconciler()
            yield stack
        finally:
            stack.stop()
