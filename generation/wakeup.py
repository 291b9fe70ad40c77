"""Waking the workers when there is work, instead of having them poll the queue.

django-tasks-db's worker looks for work, and when there is none sleeps `--interval`
and looks again: a query every interval per idle worker, and a step that arrives
meanwhile waits for the sleep to end. On PostgreSQL every enqueue also sends a
NOTIFY on one channel; PostgreSQL delivers it when the enqueuing transaction commits
(never for one that rolls back), and an idle worker (`manage.py worker`) blocks on
LISTEN until one arrives or its next delayed step is due. The library's own worker
still runs every step; we only decide when it next looks."""

from __future__ import annotations

import logging

from django.db import connections
from django.dispatch import receiver
from django.tasks.signals import task_enqueued

CHANNEL = "videoplanet_tasks"


def _database_of(sender) -> str | None:
    """The database alias a queue backend stores its steps in, if it is one that does."""
    if not getattr(sender, "__module__", "").startswith("django_tasks_db"):
        return None
    from django_tasks_db.models import DBTaskResult
    from django.db import router

    return router.db_for_write(DBTaskResult)


@receiver(task_enqueued, dispatch_uid="generation.wakeup.notify_workers")
def notify_workers(sender, task_result, **kwargs) -> None:
    alias = _database_of(sender)
    if alias is None or connections[alias].vendor != "postgresql":
        return
    with connections[alias].cursor() as cursor:
        cursor.execute(f"NOTIFY {CHANNEL}")


class QuietWorkerLog(logging.Filter):
    """The library's worker says hello and goodbye each time it drains the queue; with
    a wake-up per burst of work that is noise, so those two lines are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (message.startswith("Starting worker") or message.startswith("No more tasks to run"))
