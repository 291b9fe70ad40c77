"""When the provider is asked about a task that is waiting there.

A webhook tells us when a request finishes, so a status call earns its cost only when
that webhook is overdue, or when someone is watching the card and wants its progress:

- **Overdue**: `poll_after` starts at the model's expected time after the submit; each
  status call pushes it further (`STATUS_POLL_SECONDS`, doubling, capped). When it
  comes due while the provider is visibly working through our requests at the same
  endpoint (an applied webhook within the expected time), the task is still in the
  provider's queue, not lost: its check moves to the expected time after that latest
  webhook, without a call. A request sent after this one having finished a whole
  expected time ago (overtaken: its webhook is lost, not late) makes it due. When the
  provider has fallen silent for the expected time, only our oldest waiting request at
  that endpoint is asked about (its answer says whether the provider is merely slow);
  the others wait their turn, so a slow provider costs one call per interval, not one
  per waiting task.
- **Watched**: the gallery's refresh marks the cards it shows (`watched_until`); a
  watched task is asked at most every `STATUS_POLL_SECONDS`.

A claim is a conditional UPDATE that takes the task's lease, so two reconcilers never
ask about the same task at once and a slow call is never overlapped by another."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import F, Max, Q
from django.utils import timezone

from generation.catalog import expected_seconds_for
from generation.models import AT_PROVIDER, Task, WebhookDelivery, WebhookOutcome

BATCH = 200
# Requests submitted within this long of each other may reach the provider's queue in
# either order (two workers submit at once).
SUBMIT_ORDER_SLACK = timedelta(seconds=2)


def overdue_after(endpoint: str) -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_OVERDUE_SECONDS or expected_seconds_for(endpoint))


def first_check(*, endpoint: str, submitted_at: datetime) -> datetime:
    """When a freshly submitted task's webhook becomes overdue."""
    return submitted_at + overdue_after(endpoint)


def _backoff(polls: int) -> timedelta:
    return timedelta(seconds=min(settings.STATUS_POLL_SECONDS * 2 ** min(polls, 16), settings.STATUS_POLL_MAX_SECONDS))


def _call_lease(now: datetime) -> datetime:
    # Long enough to cover the provider call; the refresh shortens it when done.
    return now + timedelta(seconds=settings.FAL_CLIENT_TIMEOUT * 2 + 5)


def _lease_free(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def watch(*, task_ids: Iterable[UUID | str], now: datetime | None = None) -> int:
    """Someone is looking at these tasks' cards: keep their progress fresh for a while.
    Writes only when the mark is about to run out, not on every refresh."""
    now = now or timezone.now()
    window = timedelta(seconds=max(3 * settings.GALLERY_REFRESH_SECONDS, 2 * settings.STATUS_POLL_SECONDS))
    return (
        Task.objects.filter(pk__in=list(task_ids), status__in=AT_PROVIDER)
        .filter(Q(watched_until__isnull=True) | Q(watched_until__lt=now + window / 2))
        .update(watched_until=now + window)
    )


def _provider_activity(endpoint: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(latest applied webhook at this endpoint within its expected time; latest submit
    among the requests whose webhook came longer ago than that). A request still waiting
    after one sent later than it finished a whole expected time ago was overtaken: its
    own webhook is lost, not late."""
    window = overdue_after(endpoint)
    applied = WebhookDelivery.objects.filter(outcome=WebhookOutcome.APPLIED, task__endpoint=endpoint)
    last = applied.filter(received_at__gte=now - window).aggregate(last=Max("received_at"))["last"]
    overtakers = applied.filter(received_at__gte=now - 4 * window, received_at__lt=now - window)
    return last, overtakers.aggregate(newest=Max("task__submitted_at"))["newest"]


def _oldest_waiting(endpoint: str) -> UUID | None:
    return (
        Task.objects.filter(status__in=AT_PROVIDER, endpoint=endpoint)
        .exclude(request_id="")
        .order_by("submitted_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )


def claim_due_polls(*, now: datetime | None = None) -> list[UUID]:
    """The tasks to ask the provider about now, each claimed for one call."""
    now = now or timezone.now()
    waiting = Task.objects.filter(status__in=AT_PROVIDER).exclude(request_id="").filter(_lease_free(now))
    legacy_quiet = Q(poll_after__isnull=True, updated_at__lt=now - timedelta(seconds=settings.STATUS_POLL_SECONDS))
    claimed: list[UUID] = []
    activity: dict[str, tuple[datetime | None, datetime | None]] = {}

    overdue = waiting.filter(Q(poll_after__lte=now) | legacy_quiet).order_by("poll_after")
    for pk, endpoint, submitted_at, polls, poll_after in overdue.values_list(
        "pk", "endpoint", "submitted_at", "status_polls", "poll_after"
    )[:BATCH]:
        if endpoint not in activity:
            activity[endpoint] = (*_provider_activity(endpoint, now), _oldest_waiting(endpoint))
        last_webhook, newest_finished, oldest = activity[endpoint]
        overtaken = newest_finished is not None and submitted_at is not None and newest_finished > submitted_at + SUBMIT_ORDER_SLACK
        if not overtaken and (last_webhook is not None or pk != oldest):
            # Still behind older requests in the provider's queue (or, with the provider
            # silent, behind our oldest request, whose answer tells for all): wait.
            since = last_webhook if last_webhook is not None else now
            Task.objects.filter(pk=pk, poll_after=poll_after).update(poll_after=since + overdue_after(endpoint))
            continue
        taken = (
            Task.objects.filter(pk=pk, status__in=AT_PROVIDER, status_polls=polls)
            .filter(_lease_free(now))
            .update(lease_until=_call_lease(now), poll_after=now + _backoff(polls), status_polls=F("status_polls") + 1)
        )
        if taken:
            claimed.append(pk)

    watched = waiting.filter(watched_until__gt=now).exclude(pk__in=claimed)
    for pk in watched.values_list("pk", flat=True)[:BATCH]:
        if Task.objects.filter(pk=pk, status__in=AT_PROVIDER).filter(_lease_free(now)).update(lease_until=_call_lease(now)):
            claimed.append(pk)
    return claimed


def release_after_call(task_id: UUID | str) -> None:
    """A status call is over: the next one for this task may come after the shortest
    interval (for a watched card), unless the task has moved on already."""
    Task.objects.filter(pk=task_id, status__in=AT_PROVIDER).update(
        lease_until=timezone.now() + timedelta(seconds=settings.STATUS_POLL_SECONDS)
    )
