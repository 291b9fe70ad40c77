from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import QuerySet

from generation.models import Job
from generation.selectors import JobProgress, jobs_for, progress_for_jobs
from history.models import HistoryItem


def history_for(user, *, status: str = "", model_key: str = "") -> QuerySet[HistoryItem]:
    """A user's gallery, newest first, with what the cards show loaded in one query."""
    items = HistoryItem.objects.filter(user=user).select_related("task", "task__job", "task__retried_by")
    if status:
        items = items.filter(task__status=status)
    if model_key:
        items = items.filter(task__job__model_key=model_key)
    return items.order_by("-created_at")


def gallery_jobs(user, *, status: str = "", model_key: str = "") -> QuerySet[Job]:
    """The jobs the gallery pages through (unfinished first, then newest): those with
    a card that passes the filters. Paging by job keeps a job's cards together."""
    items = history_for(user, status=status, model_key=model_key)
    return jobs_for(user).filter(pk__in=items.values("task__job"))


@dataclass
class GalleryJob:
    job: Job
    progress: JobProgress
    items: list[HistoryItem] = field(default_factory=list)

    @property
    def grouped(self) -> bool:
        """A job of several videos gets a header with its progress; one of a single
        video is just its card."""
        return self.progress.total > 1


def gallery_groups(user, jobs: Sequence[Job], *, status: str = "", model_key: str = "") -> list[GalleryJob]:
    """The cards of these jobs that pass the filters, grouped by job in the jobs'
    order, each job's cards in the order they were planned."""
    progress = progress_for_jobs([job.pk for job in jobs])
    groups = {job.pk: GalleryJob(job=job, progress=progress.get(job.pk, JobProgress())) for job in jobs}
    items = history_for(user, status=status, model_key=model_key).filter(task__job__in=list(groups))
    for item in items.order_by("task__variant_index", "created_at"):
        groups[item.task.job_id].items.append(item)
    return [group for group in groups.values() if group.items]
