"""Workers are woken by the enqueue itself (PostgreSQL NOTIFY) instead of polling the
queue: a worker whose idle sleep is far longer than the test's deadline still runs a
step enqueued while it sleeps, and a delayed step when it comes due."""

import time

import psycopg
import pytest
from django.db import connection

from devtools import processes
from generation.wakeup import CHANNEL
from tests.stack import running_stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY is PostgreSQL's"),
]

ENQUEUE = """
from datetime import timedelta
from django.utils import timezone
from generation import tasks
now = timezone.now()
print(tasks.refresh_from_provider.enqueue("00000000-0000-4000-8000-000000000001").id)
print(tasks.refresh_from_provider.using(run_after=now + timedelta(seconds=2)).enqueue("00000000-0000-4000-8000-000000000002").id)
"""

STATUSES = """
from django_tasks_db.models import DBTaskResult
print(",".join(DBTaskResult.objects.filter(pk__in={ids!r}).order_by("enqueued_at").values_list("status", flat=True)))
"""


def wait_until_listening(stack, worker) -> None:
    """Until the worker has drained the (empty) queue and sleeps on LISTEN: from then
    on only a notification can wake it before its hour is up."""
    deadline = time.monotonic() + 120
    with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as probe:
        while time.monotonic() < deadline and worker.poll() is None:
            listening = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
                [f"LISTEN {CHANNEL}"],
            ).fetchone()[0]
            if listening:
                time.sleep(2)  # its first look at the queue takes milliseconds; then it sleeps
                return
            time.sleep(0.2)
    raise AssertionError(f"the worker never listened:\n{stack.log('sleepy')}")


def test_an_idle_worker_is_woken_by_the_enqueue_not_by_its_timer(tmp_path):
    with running_stack(tmp_path, "http://127.0.0.1:9") as stack:
        worker = stack.start(processes.worker("sleepy", idle_seconds=3600))
        wait_until_listening(stack, worker)
        ids = stack.manage("shell", "-v0", "-c", ENQUEUE).split()
        deadline = time.monotonic() + 120
        statuses = ""
        while time.monotonic() < deadline:
            statuses = stack.manage("shell", "-v0", "-c", STATUSES.format(ids=ids)).strip()
            if statuses == "SUCCESSFUL,SUCCESSFUL":
                break
            time.sleep(0.5)
        assert worker.poll() is None, stack.log("sleepy")
        assert statuses == "SUCCESSFUL,SUCCESSFUL", stack.log("sleepy")
