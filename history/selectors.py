from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf

from generation.models import FINISHED, Job, Task, TaskStatus
from generation.selectors import JobProgress, progress_for_jobs
from history.models import HistoryItem, Rating

UNFINISHED = frozenset(TaskStatus) - FINISHED


def history_for(user, *, status: str = "", model_key: str = "") -> QuerySet[HistoryItem]:
    """A user's gallery, newest first, with what the cards show loaded in one query."""
    items = HistoryItem.objects.filter(user=user).select_related("task", "task__job", "task__retried_by")
    if status:
        items = items.filter(task__status=status)
    if model_key:
        items = items.filter(task__job__model_key=model_key)
    return items.order_by("-created_at")


@dataclass(frozen=True)
class GalleryPage:
    """One page of the gallery's jobs: those still running first (on the pages they
    fall on), then the finished ones, newest first. No page knows how many follow it
    beyond the next: counting a long history would cost more than the page itself."""

    number: int
    jobs: list[Job]
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


def _with_cards(jobs: QuerySet[Job], *, status: str, model_key: str) -> QuerySet[Job]:
    """Keep the jobs that have a card passing the filters (a deleted card takes its
    video off the gallery)."""
    cards = HistoryItem.objects.filter(task__job=OuterRef("pk"))
    if status:
        cards = cards.filter(task__status=status)
    if model_key:
        jobs = jobs.filter(model_key=model_key)
    return jobs.filter(Exists(cards))


def gallery_page(user, *, number: int = 1, size: int, status: str = "", model_key: str = "") -> GalleryPage:
    """The jobs of page `number` in a fixed number of queries whatever the history's
    length. The running jobs are few and found through the tasks' status index; the
    finished ones are read in (`user`, -`created_at`) index order, `size` + 1 at a time
    (the extra row says whether a next page exists) -- never sorted or counted whole."""
    number = max(1, number)
    running_ids = list(
        Task.objects.filter(job__user=user, status__in=UNFINISHED).order_by().values_list("job_id", flat=True).distinct()
    )
    running = list(
        _with_cards(Job.objects.filter(pk__in=running_ids), status=status, model_key=model_key).order_by("-created_at", "-pk")
    ) if running_ids else []
    start = (number - 1) * size
    shown_running = running[start : start + size]
    wanted = size - len(shown_running)
    finished: list[Job] = []
    has_next = len(running) > start + size
    if status not in UNFINISHED:  # a job with a task in a running status is itself running
        offset = max(0, start - len(running))
        finished_jobs = _with_cards(
            Job.objects.filter(user=user).exclude(pk__in=running_ids), status=status, model_key=model_key
        ).order_by("-created_at", "-pk")
        finished = list(finished_jobs[offset : offset + wanted + 1])
        has_next = has_next or len(finished) > wanted
        finished = finished[:wanted]
    return GalleryPage(number=number, jobs=shown_running + finished, has_next=has_next)


def viewable_items(user) -> QuerySet[HistoryItem]:
    """The cards whose files a user may fetch: their own; staff, anyone's."""
    if user.is_staff:
        return HistoryItem.objects.select_related("task", "task__job")
    return history_for(user)




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


def best_rated_first(items: QuerySet[HistoryItem]) -> QuerySet[HistoryItem]:
    """The gallery's "best rated" order: most stars first, unrated cards last, newest
    first among equals. Each item carries its stars as `rating_stars`."""
    return items.annotate(rating_stars=F("rating__stars")).order_by(
        F("rating_stars").desc(nulls_last=True), "-created_at"
    )


@dataclass(frozen=True)
class ModelRatings:
    model_key: str
    rated: int
    average: float
    thumbs_up: int  # 4 or 5 stars
    thumbs_down: int  # 1 or 2 stars


def rating_of(item: HistoryItem) -> Rating | None:
    """The owner's rating of a card, if they gave one."""
    return Rating.objects.filter(item=item).first()


def ratings_per_model(*, made_from: datetime | None = None, made_until: datetime | None = None) -> list[ModelRatings]:
    """How users rate each model's videos (every user's), for the monitoring page:
    best average first; only videos whose task was created in [made_from, made_until)
    when given."""
    ratings = Rating.objects.all()
    if made_from is not None:
        ratings = ratings.filter(item__task__created_at__gte=made_from)
    if made_until is not None:
        ratings = ratings.filter(item__task__created_at__lt=made_until)
    rows = (
        # The model that made the video: a fallback's videos are rated for the fallback.
        ratings.values(model_key=Coalesce(NullIf("item__task__made_with", Value("")), F("item__task__job__model_key")))
        .annotate(
            rated=Count("pk"),
            average=Avg("stars"),
            thumbs_up=Count("pk", filter=Q(stars__gte=4)),
            thumbs_down=Count("pk", filter=Q(stars__lte=2)),
        )
        .order_by("-average", "model_key")
    )
    return [ModelRatings(**{**row, "average": round(row["average"], 2)}) for row in rows]
