import logging
import threading
import time
from datetime import timedelta

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.models import Min
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker, logger as worker_logger
from django_tasks_db.models import DBTaskResult, get_date_max

from generation.wakeup import CHANNEL, QuietWorkerLog
from operations.models import ProcessKind
from operations.services import record_heartbeat

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run background steps with django-tasks-db's worker, woken by PostgreSQL NOTIFY when a step "
        "is enqueued rather than polling the queue (elsewhere it polls every --interval, as db_worker)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--worker-id", default="worker")
        parser.add_argument("--interval", type=float, default=1.0, help="Polling interval where LISTEN is not available.")
        parser.add_argument(
            "--idle-seconds", type=float, default=30.0,
            help="Longest sleep without a wake-up (a safety net: a NOTIFY is never missed by a running worker).",
        )

    def handle(self, *args, worker_id: str, interval: float, idle_seconds: float, **options):
        worker_logger.addFilter(QuietWorkerLog())
        # A sign of life on its own thread, so a long step or a long sleep does not
        # make a live worker look dead to /readyz.
        threading.Thread(target=_beat, args=(worker_id,), name="heartbeat", daemon=True).start()
        if connection.vendor != "postgresql":
            worker = self._worker(worker_id=worker_id, interval=interval, batch=False)
            worker.configure_signals()
            worker.run()
            return
        worker = self._worker(worker_id=worker_id, interval=0, batch=True)
        worker.configure_signals()
        # LISTEN first, then drain: a step enqueued in between is either seen by the
        # drain or its notification is waiting on the listener.
        params = {**connection.get_connection_params(), "autocommit": True}
        with psycopg.connect(**params) as listener:
            listener.execute(f"LISTEN {CHANNEL}")
            while worker.running:
                worker.run()  # every ready step, then back here
                # Any notification (or the timeout) means: look again. Several that piled up
                # while draining are served by one look; the extra ones cost a short look each.
                for _ in listener.notifies(timeout=self._sleep(idle_seconds), stop_after=1):
                    pass

    def _worker(self, *, worker_id: str, interval: float, batch: bool) -> Worker:
        return Worker(
            queue_names=["default"], interval=interval, batch=batch, backend_name="default", startup_delay=False,
            max_tasks=None, worker_id=worker_id, excluded_queue_names=[],
        )

    def _sleep(self, idle_seconds: float) -> float:
        """Until the next delayed step (a retry's backoff) is due, at most idle_seconds."""
        now = timezone.now()
        due = (
            DBTaskResult.objects.filter(status="READY", run_after__gt=now)
            .exclude(run_after=get_date_max())
            .aggregate(next=Min("run_after"))["next"]
        )
        if due is None:
            return idle_seconds
        return max(0.05, min(idle_seconds, (due - now + timedelta(milliseconds=20)).total_seconds()))


def _beat(worker_id: str) -> None:
    while True:
        try:
            record_heartbeat(kind=ProcessKind.WORKER, label=worker_id)
        except Exception:  # the database away for a moment: try again next time
            logger.warning("worker %s: could not record its heartbeat", worker_id, exc_info=True)
            connection.close()  # this thread's own connection
        time.sleep(settings.WORKER_HEARTBEAT_SECONDS)
