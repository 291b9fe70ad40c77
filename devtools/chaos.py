"""A chaos run: many generations through the whole product while the sandbox injects
faults at random and a worker is killed and replaced, then an audit of the outcome.

Every task must end finished; a failed one must carry a classified reason; no task
may have reached the provider twice; no stored file may be left without its card.

    .venv/bin/python -m devtools chaos --jobs 50      (or: make chaos)
"""

from __future__ import annotations

import logging
import os
import random
import re
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from credits.models import EntryKind, Tier, Wallet
from credits.selectors import entries_for_tasks
from credits.services import price_of, set_tier, top_up
from devtools.localstack import LocalStack
from devtools.sandbox import run_sandbox
from generation.catalog import MODELS
from generation.models import FINISHED, Task, TaskStatus
from generation.services import start_generation
from history.models import HistoryItem

# Each fault the sandbox can inject on its own, at rates that leave most videos to
# finish. Lost submit answers are left out: combined with a lost webhook they are the
# one case nobody can tell apart from a request that never arrived (see README).
DEFAULT_FAULTS = (
    "submit_500=0.08,submit_429=0.08,submit_timeout=0.03,no_webhook=0.1,duplicate_webhook=0.1,"
    "late_webhook=0.08,error=0.05,result_500=0.04,result_truncated=0.04,result_wrong_type=0.03,"
    "result_slow=0.05,result_not_video=0.03"
)
# Short clocks, so that retries, grace periods and leases all play out within minutes.
FAST_CLOCKS = {
    "SUBMIT_GRACE_SECONDS": 8,
    "DOWNLOAD_LEASE_SECONDS": 6,
    "STATUS_POLL_SECONDS": 2,
    "WEBHOOK_OVERDUE_SECONDS": 5,
    "FAL_CLIENT_TIMEOUT": 2,
    "RETRY_BASE_SECONDS": 0.3,
    "SUBMIT_MAX_ATTEMPTS": 6,
    "DOWNLOAD_MAX_ATTEMPTS": 4,
    "DOWNLOAD_TIMEOUT_SECONDS": 15,
}
_TASK_IN_WEBHOOK = re.compile(r"[?&]task=([0-9a-f-]{36})")


@dataclass
class ChaosReport:
    jobs: int
    completed: int = 0
    failed: int = 0
    lost: int = 0
    duplicate_submissions: int = 0
    orphan_files: int = 0
    fell_back: int = 0  # first attempts a fallback model took over (each video counts once, by its last attempt)
    unclassified_failures: int = 0
    credit_errors: list[str] = field(default_factory=list)
    kills: int = 0
    seconds: float = 0.0
    failure_kinds: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.duplicate_submissions or self.orphan_files or self.unclassified_failures or self.credit_errors
        )

    def line(self) -> str:
        return (
            f"chaos: jobs={self.jobs} completed={self.completed} failed={self.failed} lost={self.lost} "
            f"duplicate_submissions={self.duplicate_submissions} orphan_files={self.orphan_files} fell_back={self.fell_back}"
        )


def _database_url() -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{settings.BASE_DIR / 'db.sqlite3'}"


def run_chaos(
    *,
    jobs: int,
    workers: int = 2,
    faults: str = DEFAULT_FAULTS,
    sandbox_seconds: float = 1.5,
    timeout: float = 600,
    kill_every: float = 8.0,
    seed: int | None = None,
    say: Callable[[str], None] = print,
) -> ChaosReport:
    rng = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix="videoplanet-chaos-"))
    # A user of its own per run, with the credits and quota for exactly this run.
    user = get_user_model().objects.create_user(username=f"chaos-{uuid.uuid4().hex[:8]}")
    set_tier(user=user, tier=Tier.PRO)
    top_up(user=user, to=jobs * max(model.credits_per_video for model in MODELS), note="chaos run")
    granted = Wallet.objects.get(user=user).balance
    report = ChaosReport(jobs=jobs)
    started = time.monotonic()
    sandbox_args = ("--hang-seconds", "3") + (("--random-seed", str(seed)) if seed is not None else ())
    with run_sandbox(seconds=sandbox_seconds, faults=faults, extra_args=sandbox_args) as sandbox:
        stack = LocalStack(workdir, _database_url(), sandbox.url, **FAST_CLOCKS)
        try:
            stack.start_web()
            for number in range(1, workers + 1):
                stack.start_worker(f"worker{number}")
            stack.start_reconciler(every=1.0)
            say(f"chaos: {jobs} jobs, {workers} workers, sandbox {sandbox.url}, logs in {workdir / 'logs'}")
            text_models = [m for m in MODELS if not m.requires_image]
            logging.getLogger("generation").setLevel(logging.WARNING)  # one line per job is noise here
            job_ids = [_start_one(user, rng, text_models, number, jobs) for number in range(jobs)]
            tasks = Task.objects.filter(job__in=job_ids)

            next_kill = time.monotonic() + kill_every
            while time.monotonic() - started < timeout:
                unfinished = tasks.exclude(status__in=FINISHED).count()
                if not unfinished:
                    break
                if time.monotonic() >= next_kill:
                    victim = rng.choice([name for name in stack.processes if name.startswith("worker")])
                    stack.kill(victim)
                    report.kills += 1
                    stack.start_worker(f"{victim.split('-')[0]}-{report.kills}")
                    say(f"chaos: killed {victim} with SIGKILL and started a new worker ({unfinished} unfinished)")
                    next_kill = time.monotonic() + kill_every
                time.sleep(0.5)
            report.seconds = time.monotonic() - started
            _audit(report, tasks, sandbox.requests(), workdir / "media")
            _audit_credits(report, user, tasks, granted)
        finally:
            stack.stop()
    return report


def _start_one(user, rng: random.Random, models, number: int, jobs: int):
    model = rng.choice(models)
    job = start_generation(
        user=user,
        model_key=model.key,
        prompt=f"chaos run video {number} of {jobs}",
        duration=model.durations[0],
        aspect_ratio=rng.choice(model.aspect_ratios) if model.aspect_ratios else "",
    )
    return job.pk


def _audit_credits(report: ChaosReport, user, tasks, granted: int) -> None:
    """Each completed video charged once, each failed one released once, nothing held."""
    task_ids = [task.pk for task in tasks]
    charged = entries_for_tasks(task_ids, kind=EntryKind.CHARGE)
    released = entries_for_tasks(task_ids, kind=EntryKind.RELEASE)
    wallet = Wallet.objects.get(user=user)
    price = {task.pk: price_of(task) for task in tasks.select_related("job")}
    should_charge = sum(price[task.pk] for task in tasks if task.status == TaskStatus.COMPLETED)
    # A first attempt cancelled for its model's fallback gave its credits back too.
    should_release = sum(price[task.pk] for task in tasks if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED))
    expected = {"charged": should_charge, "released": should_release, "reserved": 0, "balance": granted - should_charge}
    actual = {"charged": charged, "released": released, "reserved": wallet.reserved, "balance": wallet.balance}
    report.credit_errors = [f"{name}: {actual[name]} != {expected[name]}" for name in expected if actual[name] != expected[name]]


def _audit(report: ChaosReport, tasks, provider_requests: list[dict], media_root: Path) -> None:
    items = {item.task_id: item for item in HistoryItem.objects.filter(task__in=tasks)}
    kept_files = set()
    taken_over = set(Task.objects.filter(retried_from__in=tasks).values_list("retried_from_id", flat=True))
    for task in tasks:
        item = items.get(task.pk)
        if task.pk in taken_over:
            # Chaos never retries by hand: a later attempt is its model's fallback
            # (generation.fallback), and this one must have finished, saying why.
            if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED) and task.error_kind and task.error_message:
                report.fell_back += 1
            else:
                report.lost += 1
            continue
        if task.status == TaskStatus.COMPLETED:
            stored = media_root / item.video.name if item and item.video else None
            if stored is None or not stored.is_file() or stored.stat().st_size != item.size_bytes:
                report.lost += 1
                continue
            report.completed += 1
            kept_files.update({item.video.name, item.poster.name})
        elif task.status == TaskStatus.FAILED:
            report.failed += 1
            report.failure_kinds[task.error_kind or "unclassified"] += 1
            if not task.error_kind or not task.error_message:
                report.unclassified_failures += 1
        else:
            report.lost += 1  # unfinished when time ran out (or cancelled, which chaos never does)

    ours = {str(task.pk) for task in tasks}
    per_task = Counter(
        match.group(1)
        for request in provider_requests
        if (match := _TASK_IN_WEBHOOK.search(request.get("webhook_url") or "")) and match.group(1) in ours
    )
    report.duplicate_submissions = sum(count - 1 for count in per_task.values() if count > 1)

    stored = [p.relative_to(media_root).as_posix() for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []
    report.orphan_files = sum(1 for name in stored if not name.startswith("inputs/") and name not in kept_files)
