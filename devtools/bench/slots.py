"""The provider guardrails' slot bookkeeping: how long it adds to the claim of each
submit (lock the task, take a slot of its group under the group's row lock, move it to
SUBMITTING) beside the same claim without it, at 1, 4 and 16 workers claiming at once.
No provider is called: only the database work around the call is timed. The cap is
set out of reach, so every claim is granted and the figure is the bookkeeping's cost,
contention on the group's row included.

The workers are threads of this process, each with its own database connection; the
database does the waiting, so the GIL is not what they queue on.

Run by the suite in a process of its own with DATABASE_URL naming a fresh database."""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videoplanet.settings")
os.environ["PROVIDER_MIN_INTERVAL_SECONDS"] = "0"
os.environ["PROVIDER_MAX_IN_FLIGHT"] = str(10**6)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from devtools.bench.common import emit, row  # noqa: E402
from generation.catalog import get_model  # noqa: E402
from generation.models import Job, Task, TaskStatus  # noqa: E402
from generation.transitions import transition_task  # noqa: E402
from operations import services as guardrails  # noqa: E402

QUICK = "--quick" in sys.argv
PER_WORKER = 20 if QUICK else 60
WORKER_COUNTS = (1, 4, 16)
MODEL = get_model("kling-3-t2v")


def make_tasks(count: int) -> list[str]:
    user, _ = get_user_model().objects.get_or_create(username="bench-slots")
    job = Job.objects.create(user=user, model_key=MODEL.key, prompt="bench slots", params={})
    tasks = Task.objects.bulk_create(
        Task(job=job, endpoint=MODEL.endpoint, arguments={"prompt": "bench slots"}) for _ in range(count)
    )
    return [str(task.pk) for task in tasks]


def claim(task_id: str, *, with_slot: bool) -> float:
    """One submit's claim, as `generation.submission.submit_task` makes it; seconds."""
    started = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        pending = Task.objects.select_for_update().filter(pk=task_id, status=TaskStatus.PENDING).first()
        if with_slot and not guardrails.take_slot(task=pending, now=now).granted:
            raise RuntimeError("a claim was refused: the bench means every claim to be granted")
        transition_task(task_id, TaskStatus.SUBMITTING, submit_attempts=1, lease_until=now + timedelta(seconds=600))
    elapsed = time.perf_counter() - started
    # Out of flight again (untimed), so the count of requests in flight stays as small
    # as a real group's.
    transition_task(task_id, TaskStatus.FAILED, error_message="bench")
    return elapsed


def run(workers: int, *, with_slot: bool) -> float:
    """Median seconds per claim with `workers` claiming at once."""
    batches = [make_tasks(PER_WORKER) for _ in range(workers)]
    samples: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(workers)

    def worker(task_ids: list[str]) -> None:
        try:
            start.wait()
            mine = [claim(task_id, with_slot=with_slot) for task_id in task_ids]
            with lock:
                samples.extend(mine)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statistics.median(samples)


def main() -> None:
    call_command("migrate", "--noinput", verbosity=0)
    rows = []
    for workers in WORKER_COUNTS:
        run(workers, with_slot=True)  # warm-up: connections, plans, the group's row
        without = run(workers, with_slot=False)
        with_slot = run(workers, with_slot=True)
        added = (with_slot - without) * 1000
        print(f"slots: {workers} worker(s): claim {without * 1000:.2f} ms, with the slot {with_slot * 1000:.2f} ms, "
              f"+{added:.2f} ms per submit", flush=True)
        rows.append(
            row(
                f"submit claim with slot bookkeeping, {workers} worker(s)",
                with_slot * 1000,
                "ms",
                without * 1000,
                "the same claim without it",
                f"adds {added:.2f} ms per submit (median of {workers * PER_WORKER})",
            )
        )
    emit(rows)


if __name__ == "__main__":
    main()
