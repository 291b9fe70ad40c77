"""Reads for monitoring: how each provider and model is doing over a period, the
measures the alerts watch, and the processes' signs of life. The dashboard, /metrics,
the health checks and the alerts all read their figures here, so they agree."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Max, Min, Sum, Value
from django.db.models.functions import Coalesce, NullIf, TruncDate
from django.utils.translation import gettext

from credits.models import ProviderCost
from generation.catalog import MODELS, get_model
from generation.models import (
    FINISHED,
    Task,
    TaskStatus,
    WebhookDelivery,
    WebhookOutcome,
)
from history.selectors import ratings_per_model
from operations.models import (
    AlertIncident,
    BreakerState,
    Heartbeat,
    ProcessKind,
    ProviderGroup,
)

# Refusals that say someone (or a misconfiguration) is sending us webhooks that are not
# fal's: a burst of them is worth a look.
REFUSED_SIGNATURES = (WebhookOutcome.BAD_SIGNATURE, WebhookOutcome.REPLAY, WebhookOutcome.MISMATCHED)
# Waiting for its turn: not yet at the provider, or in its queue.
WAITING = (TaskStatus.PENDING, TaskStatus.SUBMITTING, TaskStatus.QUEUED)
ALL_MODELS = "(all)"


def percentile(values: list[float], fraction: float) -> float | None:
    """The `fraction` quantile of `values`, interpolated linearly between the two
    nearest ranks (numpy's default rule); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass(frozen=True)
class Timing:
    """Seconds: the median, the 95th percentile and how many tasks they describe."""

    p50: float | None
    p95: float | None
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Timing:
        return cls(percentile(values, 0.5), percentile(values, 0.95), len(values))


@dataclass
class ModelFigures:
    """One model at its provider (or, with `model_key` ALL_MODELS, a whole provider
    group: the models whose requests share a concurrency cap) over a period."""

    provider: str
    group: str
    model_key: str
    requests: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    unfinished: int = 0
    errors: Counter = field(default_factory=Counter)
    queue_wait: Timing = Timing(None, None, 0)
    processing: Timing = Timing(None, None, 0)
    download: Timing = Timing(None, None, 0)
    spend_usd: Decimal = Decimal("0")
    rating: float | None = None

    @property
    def success_rate(self) -> float | None:
        """Completed over finished ones that could succeed (cancelled ones are left out)."""
        decided = self.completed + self.failed
        return self.completed / decided if decided else None

    @property
    def errors_by_count(self) -> list[tuple[str, int]]:
        return self.errors.most_common()

    @property
    def timings(self) -> tuple[Timing, Timing, Timing]:
        return self.queue_wait, self.processing, self.download

    @property
    def label(self) -> str:
        if self.model_key == ALL_MODELS:
            return gettext("%(provider)s · %(group)s (all its models)") % {"provider": self.provider, "group": self.group}
        try:
            return get_model(self.model_key).label
        except KeyError:
            return self.model_key


def group_of(model_key: str) -> str:
    """The provider group of a model: its concurrency group (the endpoint's family by
    default); a model since removed from the catalog is a group of its own."""
    try:
        return get_model(model_key).group
    except KeyError:
        return model_key


@dataclass(frozen=True)
class Day:
    day: date
    videos: int
    spend_usd: Decimal


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    rows: list[ModelFigures]
    days: list[Day]

    @property
    def groups(self) -> list[ModelFigures]:
        return [row for row in self.rows if row.model_key == ALL_MODELS]

    @property
    def models(self) -> list[ModelFigures]:
        return [row for row in self.rows if row.model_key != ALL_MODELS]


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None or later < earlier:
        return None
    return (later - earlier).total_seconds()


def _figures(provider: str, group: str, model_key: str, rows: Iterable[tuple]) -> ModelFigures:
    figures = ModelFigures(provider=provider, group=group, model_key=model_key)
    waits, processing, downloads = [], [], []
    for status, error_kind, submitted, started, downloading, finished in rows:
        figures.requests += 1
        if status == TaskStatus.COMPLETED:
            figures.completed += 1
        elif status == TaskStatus.FAILED:
            figures.failed += 1
            figures.errors[error_kind or "unknown"] += 1
        elif status == TaskStatus.CANCELLED:
            figures.cancelled += 1
        else:
            figures.unfinished += 1
        for bucket, value in (
            (waits, _seconds(started, submitted)),
            (processing, _seconds(downloading, started)),
            (downloads, _seconds(finished, downloading) if status == TaskStatus.COMPLETED else None),
        ):
            if value is not None:
                bucket.append(value)
    figures.queue_wait, figures.processing, figures.download = Timing.of(waits), Timing.of(processing), Timing.of(downloads)
    return figures


def monitoring_report(*, start: datetime, end: datetime, group: str = "", model_key: str = "") -> Report:
    """How each provider group and model did with the requests made in [start, end):
    counts, success rate, errors by kind, queue wait (submitted to started at the
    provider), processing (started to result ready), download (result ready to
    stored) and spend, a row per group over all its models, then one per model; and
    videos made and spend per day. Narrowed to one group or one model if asked.

    Every attempt is a request (a retry asks the provider again), counted for the model
    that made it (a fallback's attempts count for the fallback)."""
    tasks = Task.objects.filter(created_at__gte=start, created_at__lt=end).annotate(
        model=Coalesce(NullIf("made_with", Value("")), "job__model_key")
    )
    costs = ProviderCost.objects.filter(recorded_at__gte=start, recorded_at__lt=end)
    if group:
        keys = [spec.key for spec in MODELS if spec.group == group] or [group]
        tasks, costs = tasks.filter(model__in=keys), costs.filter(model_key__in=keys)
    if model_key:
        tasks, costs = tasks.filter(model=model_key), costs.filter(model_key=model_key)
    by_model: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for provider, key, *timing in tasks.values_list(
        "provider", "model", "status", "error_kind", "submitted_at", "started_at", "downloading_at", "finished_at"
    ).order_by():
        by_model[(provider, key)].append(tuple(timing))
    spend = {
        (row["provider"], row["model_key"]): row["total"]
        for row in costs.values("provider", "model_key").annotate(total=Sum("amount_usd")).order_by()
    }
    ratings = ratings_by_model(start=start, end=end)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for provider, key in sorted(set(by_model) | set(spend)):
        groups[(provider, group_of(key))].append(key)
    rows = []
    for (provider, group_name), keys in sorted(groups.items()):
        whole = _figures(provider, group_name, ALL_MODELS, [r for k in keys for r in by_model.get((provider, k), [])])
        whole.spend_usd = sum((spend.get((provider, k), Decimal("0")) for k in keys), Decimal("0"))
        rows.append(whole)
        for key in keys:
            figures = _figures(provider, group_name, key, by_model.get((provider, key), []))
            figures.spend_usd = spend.get((provider, key), Decimal("0"))
            figures.rating = ratings.get(key)
            rows.append(figures)
    return Report(start=start, end=end, rows=rows, days=_days(tasks, costs, start=start, end=end))


def _days(tasks, costs, *, start: datetime, end: datetime) -> list[Day]:
    """Videos completed and spend per UTC day, every day of the period (zeros included)."""
    videos = dict(
        tasks.filter(status=TaskStatus.COMPLETED, finished_at__isnull=False)
        .annotate(day=TruncDate("finished_at"))
        .values_list("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    spend = dict(costs.annotate(day=TruncDate("recorded_at")).values_list("day").annotate(total=Sum("amount_usd")).order_by())
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    days = []
    while first <= last:
        days.append(Day(first, videos.get(first, 0), spend.get(first) or Decimal("0")))
        first += timedelta(days=1)
    return days


def ratings_by_model(*, start: datetime, end: datetime) -> dict[str, float]:
    """The average user rating (1 to 5 stars) of each model's videos made in the period."""
    return {row.model_key: row.average for row in ratings_per_model(made_from=start, made_until=end)}


def open_breakers() -> list[str]:
    """The provider groups whose circuit breaker is not closed (open, or half open
    while its probe decides)."""
    return list(ProviderGroup.objects.exclude(breaker=BreakerState.CLOSED).order_by("name").values_list("name", flat=True))


def breaker_is_open(group: str) -> bool:
    """Whether the group's tasks are held back now (its breaker open, or half open while
    its probe decides). Read without a lock: an answer for planning, not for sending."""
    return ProviderGroup.objects.filter(name=group).exclude(breaker=BreakerState.CLOSED).exists()


# The measures the alerts and /metrics watch.


def error_rate(*, since: datetime) -> tuple[int, int]:
    """(failed, finished that could succeed) among tasks finished since then."""
    counts = dict(
        Task.objects.filter(finished_at__gte=since, status__in=[TaskStatus.COMPLETED, TaskStatus.FAILED])
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    failed = counts.get(TaskStatus.FAILED, 0)
    return failed, failed + counts.get(TaskStatus.COMPLETED, 0)


def oldest_waiting_seconds(*, now: datetime) -> float:
    oldest = Task.objects.filter(status__in=WAITING).aggregate(oldest=Min("created_at"))["oldest"]
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0


def backlog() -> int:
    """Tasks not finished yet."""
    return Task.objects.exclude(status__in=FINISHED).count()


def spend_today(*, now: datetime) -> Decimal:
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return ProviderCost.objects.filter(recorded_at__gte=midnight).aggregate(total=Sum("amount_usd"))["total"] or Decimal("0")


def refused_signatures(*, since: datetime) -> int:
    return WebhookDelivery.objects.filter(received_at__gte=since, outcome__in=REFUSED_SIGNATURES).count()


def open_incidents() -> list[AlertIncident]:
    return list(AlertIncident.objects.filter(resolved_at__isnull=True).order_by("opened_at"))


def last_beats(*, kind: ProcessKind) -> list[Heartbeat]:
    return list(Heartbeat.objects.filter(kind=kind).order_by("-beat_at"))


def newest_beat(*, kind: ProcessKind) -> datetime | None:
    return Heartbeat.objects.filter(kind=kind).aggregate(newest=Max("beat_at"))["newest"]
