from __future__ import annotations

import mimetypes
import re
from pathlib import PurePosixPath

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Avg, Count, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generation.models import FINISHED, Job, Task, TaskStatus
from generation.selectors import JobProgress, progress_for_jobs
from history.models import HistoryItem, Rating

UNFINISHED = frozenset(TaskStatus) - FINISHED
# The text-search configuration of the prompt search; the GIN index on the prompts
# (history migration 0003) is built with the same one, so the two must match.
PROMPT_SEARCH_CONFIG = "english"
# How far back a model's finished videos count towards its processing-time estimate.
ESTIMATE_WINDOW = timedelta(days=7)


def history_for(user, *, status: str = "", model_key: str = "") -> QuerySet[HistoryItem]:
    """A user's gallery, newest first, with what the cards show loaded in one query."""
    items = HistoryItem.objects.filter(user=user).select_related("task", "task__job", "task__retried_by")
    if status:
        items = items.filter(task__status=status)
    if model_key:
        items = items.filter(task__job__model_key=model_key)
    return items.order_by("-created_at")


def viewable_items(user) -> QuerySet[HistoryItem]:
    """The cards whose files a user may fetch: their own; staff, anyone's."""
    if user.is_staff:
        return HistoryItem.objects.select_related("task", "task__job")
    return history_for(user)




class Sort(models.TextChoices):
    NEWEST = "newest", _("Newest first")
    OLDEST = "oldest", _("Oldest first")
    BEST = "best", _("Best rated")


# Each order is an index's order (see HistoryItem.Meta.indexes), so a page is read
# straight off the index, whatever the history's length.
ORDERINGS = {
    Sort.NEWEST: (F("created_at").desc(), F("id").desc()),
    Sort.OLDEST: (F("created_at").asc(), F("id").asc()),
    Sort.BEST: (F("stars").desc(), F("created_at").desc(), F("id").desc()),  # unrated (0) last
}


@dataclass(frozen=True)
class GalleryFilters:
    """What the gallery's toolbar asks for; every field is already valid."""

    status: str = ""
    model_key: str = ""
    query: str = ""
    favourites: bool = False
    sort: str = Sort.NEWEST

    @property
    def narrowed(self) -> bool:
        return bool(self.status or self.model_key or self.query or self.favourites)


def search_prompts(items: QuerySet[HistoryItem], query: str) -> QuerySet[HistoryItem]:
    """Cards whose prompt matches `query`: PostgreSQL full-text search (every word
    required; the GIN index on the prompt's vector answers it), a plain
    case-insensitive match elsewhere (SQLite).

    English words are matched by their stem ("runs" finds "running"). A Korean word
    is kept whole by the text-search parser, particles and endings included ("여우가",
    "여우를"), so a Korean search word matches as a prefix: "여우" finds both."""
    query = query.strip()
    if not query:
        return items
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        terms = prompt_query_terms(query)
        if not terms:
            return items.none()
        vector = SearchVector("task__job__prompt", config=PROMPT_SEARCH_CONFIG)
        return items.alias(prompt_vector=vector).filter(
            prompt_vector=SearchQuery(terms, config=PROMPT_SEARCH_CONFIG, search_type="raw")
        )
    return items.filter(task__job__prompt__icontains=query)


_WORD = re.compile(r"\w+")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af]")


def prompt_query_terms(query: str) -> str:
    """The search words as a tsquery ("'red' & '여우':*"): every word required, each
    quoted (so nothing a user types is read as an operator), Korean words as prefixes."""
    words = _WORD.findall(query)
    return " & ".join(f"'{word}':*" if _HANGUL.search(word) else f"'{word}'" for word in words)


def filtered_history(user, filters: GalleryFilters) -> QuerySet[HistoryItem]:
    """A user's cards that pass the toolbar's filters, with what a card shows loaded
    in the same query (not ordered)."""
    items = HistoryItem.objects.filter(user=user).select_related("task", "task__job", "task__retried_by")
    if filters.status:
        items = items.filter(task__status=filters.status)
    if filters.model_key:
        items = items.filter(task__job__model_key=filters.model_key)
    if filters.favourites:
        items = items.filter(favourite=True)
    return search_prompts(items, filters.query)


@dataclass(frozen=True)
class GalleryPage:
    """One page of the gallery: a fixed number of videos (cards), the ones still being
    made first, then the rest in the chosen order. No page knows how many follow it
    beyond the next: counting a long history would cost more than the page itself."""

    number: int
    items: list[HistoryItem]
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


def gallery_page(user, *, number: int = 1, size: int, filters: GalleryFilters = GalleryFilters()) -> GalleryPage:
    """The cards of page `number`, `size` of them, in a fixed number of queries
    whatever the history's length. The running cards are few and found through the
    tasks' status index; the others are read in an index's order, `size` + 1 at a
    time (the extra row says whether a next page exists) -- never sorted or counted
    whole."""
    number = max(1, number)
    order = ORDERINGS[Sort(filters.sort)]
    items = _searched_few(filtered_history(user, filters), filters)
    running_ids = list(
        HistoryItem.objects.filter(user=user, task__status__in=UNFINISHED).order_by().values_list("pk", flat=True)
    )
    running = list(items.filter(pk__in=running_ids).order_by(*order)) if running_ids else []
    start = (number - 1) * size
    shown = running[start : start + size]
    has_next = len(running) > start + size
    if filters.status not in UNFINISHED:  # a card in a running status is a running card
        wanted = size - len(shown)
        offset = max(0, start - len(running))
        rest = items.exclude(pk__in=running_ids) if running_ids else items
        others = list(rest.order_by(*order)[offset : offset + wanted + 1])
        has_next = has_next or len(others) > wanted
        shown += others[:wanted]
    return GalleryPage(number=number, items=shown, has_next=has_next)


# A search matching at most this many of a user's cards is answered from the prompt
# index and its matches sorted; one matching more walks the order's index, where
# matches are dense enough to fill a page soon.
SEARCH_FEW = 500


def _searched_few(items: QuerySet[HistoryItem], filters: GalleryFilters) -> QuerySet[HistoryItem]:
    """A search's cards as a short list of ids when it matches few of them. The
    planner cannot tell a rare word from a common one well (it guesses from
    statistics), and a wrong guess walks a long history to the end looking for a
    page of matches that are not there; asking for at most SEARCH_FEW + 1 matches
    first (the prompt index answers a rare word, the first cards a common one)
    bounds either case, in one query more. They are asked for newest first, so that
    a common word is read along the (user, -created_at) index rather than by joining
    every task (unordered, the planner may hash-join a sequential scan of them)."""
    if not filters.query.strip():
        return items
    few = list(items.order_by("-created_at").values_list("pk", flat=True)[: SEARCH_FEW + 1])
    return items if len(few) > SEARCH_FEW else HistoryItem.objects.filter(pk__in=few).select_related(
        "task", "task__job", "task__retried_by"
    )


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


def gallery_groups(items: Sequence[HistoryItem]) -> list[GalleryJob]:
    """The page's cards grouped by job, in the order each job first appears, each
    job's cards in the order they were planned (one query, for the jobs' progress)."""
    groups: dict = {}
    for item in items:
        groups.setdefault(item.task.job_id, []).append(item)
    progress = progress_for_jobs(list(groups)) if groups else {}
    return [
        GalleryJob(
            job=cards[0].task.job,
            progress=progress.get(job_id, JobProgress()),
            items=sorted(cards, key=lambda item: (item.task.variant_index, item.created_at)),
        )
        for job_id, cards in groups.items()
    ]


def processing_estimates(model_keys: Iterable[str], *, now: datetime | None = None) -> dict[str, float]:
    """Each model's typical processing time in seconds (from the provider starting a
    video to handing it over), averaged over its videos completed in the last
    `ESTIMATE_WINDOW`; models without any are left out. Read through the tasks'
    (status, updated_at) index."""
    keys = list(set(model_keys))
    if not keys:
        return {}
    since = (now or timezone.now()) - ESTIMATE_WINDOW
    rows = (
        Task.objects.filter(
            status=TaskStatus.COMPLETED, updated_at__gte=since, job__model_key__in=keys,
            started_at__isnull=False, downloading_at__isnull=False,
        )
        .order_by()
        .values(model_key=F("job__model_key"))
        .annotate(average=Avg(F("downloading_at") - F("started_at")))
    )
    return {row["model_key"]: row["average"].total_seconds() for row in rows if row["average"] is not None}


def seconds_left(task: Task, estimates: dict[str, float], *, now: datetime | None = None) -> int | None:
    """About how many seconds a processing video still needs, from its model's
    typical time; None when nothing is known (or it is not processing)."""
    typical = estimates.get(task.job.model_key)
    if typical is None or task.status != TaskStatus.IN_PROGRESS or task.started_at is None:
        return None
    elapsed = ((now or timezone.now()) - task.started_at).total_seconds()
    return max(0, round(typical - elapsed))


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


@dataclass(frozen=True)
class StoredImage:
    reference: str
    name: str
    content: bytes

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"


def last_frame_image(user, reference: str) -> StoredImage | None:
    """Resolve "end:<card id>" (the last-frame image a card's video was asked to end
    on, for "Regenerate from this") for `user`; None for anything else, including
    other users' cards."""
    kind, _sep, card_id = reference.partition(":")
    if kind != "end":
        return None
    try:
        item = HistoryItem.objects.select_related("task__job").get(pk=card_id, user=user)
    except (HistoryItem.DoesNotExist, ValueError, ValidationError):
        return None
    image = item.task.job.input_end_image
    if not image:
        return None
    try:
        with image.open("rb") as stored:
            content = stored.read()
    except OSError:
        return None
    return StoredImage(reference, PurePosixPath(image.name).name, content)
