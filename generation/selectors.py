"""Reads of jobs: how far a job has come, counted over its current attempts (a task
that was retried is represented by its newest attempt)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext

from generation.models import Job, Task, TaskStatus


@dataclass(frozen=True)
class JobProgress:
    total: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    @classmethod
    def of(cls, statuses: Iterable[str]) -> JobProgress:
        """From the statuses of a job's current tasks."""
        counts = Counter(statuses)
        return cls(
            total=sum(counts.values()),
            completed=counts[TaskStatus.COMPLETED],
            failed=counts[TaskStatus.FAILED],
            cancelled=counts[TaskStatus.CANCELLED],
        )

    @property
    def active(self) -> int:
        return self.total - self.completed - self.failed - self.cancelled

    @property
    def is_finished(self) -> bool:
        return self.active == 0

    @property
    def label(self) -> str:
        """ "3 of 6 done, 1 failed" """
        parts = [gettext("%(completed)s of %(total)s done") % {"completed": self.completed, "total": self.total}]
        if self.failed:
            parts.append(gettext("%(count)s failed") % {"count": self.failed})
        if self.cancelled:
            parts.append(gettext("%(count)s cancelled") % {"count": self.cancelled})
        return ", ".join(parts)


def current_tasks(job: Job) -> QuerySet[Task]:
    return job.tasks.current().order_by("variant_index")


def jobs_with_tasks(jobs: QuerySet[Job]) -> QuerySet[Job]:
    """Jobs with their current tasks (as `current_tasks`) and those tasks' cards loaded."""
    tasks = Task.objects.current().select_related("history_item").order_by("variant_index")
    return jobs.prefetch_related(Prefetch("tasks", queryset=tasks, to_attr="current_tasks"))


def progress_for_jobs(job_ids: Iterable[UUID]) -> dict[UUID, JobProgress]:
    """Each job's progress, in one query."""
    rows = (
        Task.objects.current().filter(job_id__in=list(job_ids))
        .order_by()
        .values_list("job_id", "status")
        .annotate(n=Count("id"))
    )
    statuses: dict[UUID, list[str]] = {}
    for job_id, status, n in rows:
        statuses.setdefault(job_id, []).extend([status] * n)
    return {job_id: JobProgress.of(values) for job_id, values in statuses.items()}


def progress_for(job: Job) -> JobProgress:
    return progress_for_jobs([job.pk]).get(job.pk, JobProgress())


def jobs_for(user) -> QuerySet[Job]:
    """A user's jobs, newest first (read in the order of the index on (`user`,
    -`created_at`)); the gallery puts the running ones first itself."""
    return Job.objects.filter(user=user).order_by("-created_at", "-pk")
