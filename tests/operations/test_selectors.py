"""The monitoring figures: each equals what the task and cost rows say, worked out here
by hand from the rows the test makes."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from credits.models import ProviderCost
from generation.catalog import get_model
from generation.models import ErrorKind, TaskStatus, WebhookDelivery, WebhookOutcome
from history.services import rate_item
from operations import selectors
from operations.models import BreakerState, ProviderGroup
from operations.selectors import ALL_MODELS, monitoring_report, percentile
from tests.factories import make_task, make_user

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def made(model_key="kling-3-t2v", *, status=TaskStatus.COMPLETED, created=0.0, wait=None, work=None, fetch=None, **fields):
    """A task created `created` hours into DAY that waited `wait` s in the queue, took
    `work` s to make and `fetch` s to bring home (None: never got that far)."""
    submitted = at(created) + timedelta(seconds=1)
    started = submitted + timedelta(seconds=wait) if wait is not None else None
    downloading = started + timedelta(seconds=work) if work is not None else None
    finished = downloading + timedelta(seconds=fetch) if fetch is not None else (at(created) + timedelta(minutes=30) if status in (TaskStatus.FAILED, TaskStatus.CANCELLED) else None)
    return make_task(
        model_key=model_key, status=status, created_at=at(created), submitted_at=submitted, started_at=started,
        downloading_at=downloading, finished_at=finished, **fields,
    )


def cost(task, usd: str, *, hours: float):
    return ProviderCost.objects.create(
        task=task, provider="fal", model_key=task.job.model_key, endpoint=task.endpoint, seconds=5,
        usd_per_second=Decimal(usd) / 5, amount_usd=Decimal(usd), recorded_at=at(hours),
    )


def test_percentiles_interpolate_between_ranks():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([float(n) for n in range(1, 21)], 0.95) == pytest.approx(19.05)


def test_a_models_figures_are_those_of_its_rows():
    user = make_user()
    done = [made(user=user, wait=w, work=k, fetch=f) for w, k, f in ((10, 60, 2), (20, 80, 4), (30, 100, 6), (40, 120, 8))]
    made(user=user, status=TaskStatus.FAILED, wait=5, error_kind=ErrorKind.PROVIDER)
    made(user=user, status=TaskStatus.FAILED, error_kind=ErrorKind.TIMEOUT)
    made(user=user, status=TaskStatus.FAILED, error_kind=ErrorKind.PROVIDER)
    made(user=user, status=TaskStatus.CANCELLED)
    made(user=user, status=TaskStatus.QUEUED)
    next_day = made(user=user, created=30)  # the next day: outside the period
    for task, usd in zip(done, ("0.50", "0.50", "0.25", "0.75")):
        cost(task, usd, hours=2)

    report = monitoring_report(start=DAY, end=DAY + timedelta(days=1))
    row = next(r for r in report.models if r.model_key == "kling-3-t2v")
    assert (row.requests, row.completed, row.failed, row.cancelled, row.unfinished) == (9, 4, 3, 1, 1)
    assert row.success_rate == pytest.approx(4 / 7)
    assert dict(row.errors) == {"provider": 2, "timeout": 1}
    # Queue wait: the four completed plus the failed one that started (5 s).
    assert (row.queue_wait.count, row.queue_wait.p50, row.queue_wait.p95) == (5, 20.0, pytest.approx(38.0))
    assert (row.processing.p50, row.processing.p95) == (90.0, pytest.approx(117.0))
    assert (row.download.count, row.download.p50, row.download.p95) == (4, 5.0, pytest.approx(7.7))
    assert row.spend_usd == Decimal("2.00")
    assert row.rating is None  # no video rated yet
    rate_item(item=done[0].history_item, stars=5)
    rate_item(item=done[1].history_item, stars=2)
    rate_item(item=next_day.history_item, stars=1)
    again = monitoring_report(start=DAY, end=DAY + timedelta(days=1))
    assert next(r for r in again.models if r.model_key == "kling-3-t2v").rating == 3.5
    assert row.label == get_model("kling-3-t2v").label


def test_a_group_row_adds_up_its_models_and_a_filter_keeps_one_model():
    user = make_user()
    sibling, other = "kling-2.1-t2v", "hailuo-2.3-t2v"
    assert get_model(sibling).group == get_model("kling-3-t2v").group != get_model(other).group
    made(user=user, wait=10, work=50, fetch=3)
    made(sibling, user=user, status=TaskStatus.FAILED, error_kind=ErrorKind.PROVIDER)
    made(other, user=user, status=TaskStatus.FAILED, error_kind=ErrorKind.QUOTA)

    report = monitoring_report(start=DAY, end=DAY + timedelta(days=1))
    assert [(r.group, r.model_key) for r in report.rows] == [
        ("kling", ALL_MODELS), ("kling", "kling-2.1-t2v"), ("kling", "kling-3-t2v"),
        ("minimax-hailuo", ALL_MODELS), ("minimax-hailuo", other),
    ]
    kling = report.groups[0]
    assert (kling.requests, kling.completed, kling.failed, kling.success_rate) == (2, 1, 1, 0.5)
    assert dict(kling.errors) == {"provider": 1}

    grouped = monitoring_report(start=DAY, end=DAY + timedelta(days=1), group="kling")
    assert {r.model_key for r in grouped.models} == {"kling-3-t2v", sibling}

    narrowed = monitoring_report(start=DAY, end=DAY + timedelta(days=1), model_key=other)
    assert [(r.model_key, r.failed, dict(r.errors)) for r in narrowed.models] == [(other, 1, {"quota": 1})]


def test_an_attempt_made_with_a_fallback_counts_for_the_fallback():
    user = make_user()
    failed = made(user=user, status=TaskStatus.FAILED, error_kind=ErrorKind.PROVIDER)
    rescued = made(user=user, wait=5, work=20, fetch=1, made_with="veo-3.1", retried_from=failed)
    assert rescued.job.model_key == "kling-3-t2v"
    report = monitoring_report(start=DAY, end=DAY + timedelta(days=1))
    by_model = {(r.model_key): (r.requests, r.completed, r.failed) for r in report.models}
    assert by_model == {"kling-3-t2v": (1, 0, 1), "veo-3.1": (1, 1, 0)}
    narrowed = monitoring_report(start=DAY, end=DAY + timedelta(days=1), group="veo")
    assert [(r.model_key, r.completed) for r in narrowed.models] == [("veo-3.1", 1)]


def test_videos_and_spend_per_day_cover_every_day_of_the_period():
    first = made(wait=1, work=1, fetch=1)
    second = made(created=26, wait=1, work=1, fetch=1)
    cost(first, "1.25", hours=1)
    cost(second, "0.40", hours=26)
    report = monitoring_report(start=DAY, end=DAY + timedelta(days=3))
    assert [(d.day.isoformat(), d.videos, d.spend_usd) for d in report.days] == [
        ("2026-03-02", 1, Decimal("1.25")), ("2026-03-03", 1, Decimal("0.40")), ("2026-03-04", 0, Decimal("0")),
    ]


def test_the_measures_the_alerts_watch():
    now = at(12)
    made(created=11.9, wait=1, work=1, fetch=1)
    made(created=11.9, status=TaskStatus.FAILED, error_kind=ErrorKind.PROVIDER)
    waiting = made(created=11, status=TaskStatus.PENDING)
    made(created=11.5, status=TaskStatus.DOWNLOADING, wait=1, work=1)
    cost(waiting, "3.00", hours=10)
    for outcome in (WebhookOutcome.BAD_SIGNATURE, WebhookOutcome.REPLAY, WebhookOutcome.APPLIED):
        WebhookDelivery.objects.create(received_at=at(11.99), outcome=outcome)
    assert selectors.error_rate(since=at(11)) == (1, 2)
    assert selectors.oldest_waiting_seconds(now=now) == 3600
    assert selectors.backlog() == 2
    assert selectors.spend_today(now=now) == Decimal("3.00")
    assert selectors.refused_signatures(since=at(11.5)) == 2


def test_breakers_not_closed_count_as_open():
    ProviderGroup.objects.create(name="kling", breaker=BreakerState.OPEN)
    ProviderGroup.objects.create(name="veo", breaker=BreakerState.HALF_OPEN)
    ProviderGroup.objects.create(name="luma")
    assert selectors.open_breakers() == ["kling", "veo"]
