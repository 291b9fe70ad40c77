"""Provider guardrails: who may send a request now (the group's cap, its minimum
interval, its circuit breaker), who is next when a slot frees, and what a provider
failure or success does to the breaker.

Every decision is taken holding the group's row (`SELECT … FOR UPDATE`), so that all
workers on all machines see one queue. Locks are always taken task row first, then
group row (the submit step), or the group row alone (everything else), so two
workers never wait on each other in a circle. The one exception is a task leaving
the provider: the statement that locks its row also reads its group's `has_waiting`
under a shared lock (FOR KEY SHARE, taken first; see `waiting_flag`). It cannot
close a circle because nobody holds the row of a task in flight while waiting for
its group's row: the submit step holds only PENDING tasks.

Also the processes' signs of life (`record_heartbeat`); alerts: operations.alerts."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, Q, QuerySet, Subquery, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from credits.models import Tier
from generation.catalog import MODELS, endpoints_in_group, group_for_endpoint
from generation.models import IN_FLIGHT, Task, TaskStatus, Waiting
from generation.tasks import enqueue_submit_task
from operations.models import BreakerState, Heartbeat, ProcessKind, ProviderGroup

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotDecision:
    granted: bool
    reason: str = Waiting.NOT_WAITING
    # When the task should look again by itself; None: it is woken when a slot frees.
    retry_at: datetime | None = None


def locked_group(name: str) -> ProviderGroup:
    """The group's row, made with the defaults on first use, locked until the caller's
    transaction ends."""
    group = ProviderGroup.objects.select_for_update().filter(name=name).first()
    if group is None:
        ProviderGroup.objects.get_or_create(name=name)  # two first users: one creates, both lock it
        group = ProviderGroup.objects.select_for_update().get(name=name)
    return group


def _ranked(queryset: QuerySet[Task]) -> QuerySet[Task]:
    """Tasks with their owner's tier as a number: a higher tier goes first."""
    rank = Case(
        *[When(job__user__wallet__tier=tier, then=Value(index)) for index, tier in enumerate(Tier.values)],
        default=Value(0),
    )
    return queryset.annotate(tier_rank=rank)


def waiting_tasks(group: str) -> QuerySet[Task]:
    """The tasks waiting for this group, in the order they get a slot: higher tier
    first, then oldest first."""
    waiting = Task.objects.filter(status=TaskStatus.PENDING, endpoint__in=endpoints_in_group(group)).exclude(
        waiting=Waiting.NOT_WAITING
    )
    return _ranked(waiting).order_by("-tier_rank", "created_at", "pk")


def in_flight_count(group: str) -> int:
    return Task.objects.filter(status__in=IN_FLIGHT, endpoint__in=endpoints_in_group(group)).count()


def _ahead_of(task: Task, group: str) -> int:
    """How many waiting tasks come before this one."""
    # Its own rank as a subquery: one query, not two.
    mine = Subquery(_ranked(Task.objects.filter(pk=task.pk)).values("tier_rank")[:1])
    earlier = Q(tier_rank=mine) & (Q(created_at__lt=task.created_at) | Q(created_at=task.created_at, pk__lt=task.pk))
    return waiting_tasks(group).exclude(pk=task.pk).filter(Q(tier_rank__gt=mine) | earlier).count()


def take_slot(*, task: Task, now: datetime) -> SlotDecision:
    """Whether `task` (a PENDING task whose row the caller holds locked) may be sent
    now; if so its group counts the submit. Call inside the caller's transaction: the
    slot is the task's once the caller moves it to SUBMITTING in that transaction."""
    group = locked_group(group_for_endpoint(task.endpoint))
    probe = False
    if group.breaker == BreakerState.OPEN:
        if group.probe_after is None or now < group.probe_after:
            first = group.probe_after is not None and _ahead_of(task, group.name) == 0
            return _wait(group, SlotDecision(False, Waiting.BREAKER, group.probe_after if first else None))
        probe = True
    elif group.breaker == BreakerState.HALF_OPEN:
        if group.probe_task != task.pk and _probe_pending(group):
            return _wait(group, SlotDecision(False, Waiting.BREAKER))
        probe = True

    in_flight = in_flight_count(group.name)
    if in_flight >= group.max_in_flight:
        return _wait(group, SlotDecision(False, Waiting.SLOT))
    # A probe is any one task: the queue's order resumes once the breaker closes.
    # Nobody ahead when nobody waits (the flag is kept under this lock).
    ahead = 0 if probe or not group.has_waiting else _ahead_of(task, group.name)
    if in_flight + ahead >= group.max_in_flight:
        return _wait(group, SlotDecision(False, Waiting.SLOT))
    if group.min_interval_seconds > 0 and group.last_submit_at is not None:
        interval = timedelta(seconds=group.min_interval_seconds)
        next_at = group.last_submit_at + interval
        if now < next_at:
            return _wait(group, SlotDecision(False, Waiting.SLOT, next_at + interval * ahead))

    group.last_submit_at = now
    fields = ["last_submit_at"]
    if probe:
        group.breaker, group.probe_task = BreakerState.HALF_OPEN, task.pk
        fields += ["breaker", "probe_task"]
        logger.info("breaker of %s half open: task %s is the probe", group.name, task.pk)
    group.save(update_fields=fields)
    return SlotDecision(True)


def _wait(group: ProviderGroup, decision: SlotDecision) -> SlotDecision:
    """The task is to wait: say so on the group's row (locked by the caller), in the
    transaction that records the wait, so that whoever frees a slot next sees it."""
    if not group.has_waiting:
        group.has_waiting = True
        group.save(update_fields=["has_waiting"])
    return decision


def sendable_at_once(*, endpoint: str, count: int) -> int:
    """How many of `count` new tasks of this endpoint's group to queue a submit step
    for now; the others start waiting for a slot (and `note_waiting`), to be woken in
    the queue's order when one frees, instead of running a submit step that could only
    record that they wait. An estimate read without the group's lock: too many only
    costs those extra runs, and at least one is always sent, whose step decides under
    the lock as ever. A group without a row yet, or with its breaker not closed (each
    task must find that out for itself: fallback or a wait for the breaker), sends all."""
    name = group_for_endpoint(endpoint)
    row = ProviderGroup.objects.filter(name=name).values_list("breaker", "has_waiting", "max_in_flight").first()
    if count <= 1 or row is None or row[0] != BreakerState.CLOSED:
        return count
    _, has_waiting, cap = row
    taken = in_flight_count(name)
    if has_waiting and taken < cap:
        taken += Task.objects.filter(status=TaskStatus.PENDING, endpoint__in=endpoints_in_group(name)).exclude(
            waiting=Waiting.NOT_WAITING
        ).count()
    return min(count, max(cap - taken, 1))


def note_waiting(*, endpoint: str) -> None:
    """A task of this endpoint's group starts waiting other than through `take_slot`
    (a failed submit held back by the breaker): call in the transaction that records
    its wait. No row yet reads as "maybe" anyway."""
    ProviderGroup.objects.filter(name=group_for_endpoint(endpoint), has_waiting=False).update(has_waiting=True)


def _probe_pending(group: ProviderGroup) -> bool:
    """Whether the probe has yet to decide (it decides when its submit is answered)."""
    return Task.objects.filter(pk=group.probe_task, status__in=[TaskStatus.PENDING, TaskStatus.SUBMITTING]).exists()


def waiting_flag(group: str) -> RawSQL | None:
    """The group's `has_waiting` as an expression to read with the locking of a task
    leaving the provider (NULL while the group has no row), under FOR KEY SHARE: a
    submit deciding to wait holds the row FOR UPDATE until its wait is committed, so
    either this read waits and sees the flag, or the submit waits and counts the
    leaving task as gone; no wake-up is lost in between. None where the database has
    no such lock (SQLite): then every freed slot wakes the queue, as it is cheap there."""
    if connection.vendor != "postgresql":
        return None
    table = ProviderGroup._meta.db_table
    return RawSQL(f'SELECT "has_waiting" FROM "{table}" WHERE "name" = %s FOR KEY SHARE', (group,))


def read_waiting_flag(group: str) -> bool | None:
    """`waiting_flag` as a query of its own, for a caller that has locked its task."""
    flag = waiting_flag(group)
    if flag is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ({flag.sql})", flag.params)
        return cursor.fetchone()[0]


def slot_freed(*, endpoint: str, has_waiting: bool | None) -> None:
    """A task of this endpoint's group left the provider; `has_waiting` is its group's
    flag as read with the task's lock (`waiting_flag`; None: no row). If a task may be
    waiting, queue the next ones once that commits -- after the commit, and under the
    group's lock, so that the freed slot is counted as free."""
    if has_waiting is False:
        return  # nobody waits: the usual case costs nothing more
    transaction.on_commit(partial(wake_waiting, group=group_for_endpoint(endpoint)))


def wake_waiting(*, group: str) -> list[UUID]:
    """Queue the submit step of as many waiting tasks as there are free slots, first
    in line first, each for its turn in the group's minimum interval (woken earlier,
    it would only be told to wait again). Returns their ids.

    A waiting task with `next_attempt_at` set has its submit step queued for then
    (woken here, or told by `take_slot` when to look again): its slot is spoken for,
    and it is not woken a second time -- so the wake-ups of several freed slots, or of
    the reconciler, never queue one task twice. A task whose row is locked right now
    is being decided on by its own step, and is skipped rather than waited for (the
    lock order is task row first, then group row). Clears the group's `has_waiting`
    when it finds no task waiting at all."""
    now = timezone.now()
    with transaction.atomic():
        row = locked_group(group)
        if row.breaker != BreakerState.CLOSED:
            return []
        # In flight, and waiting with their step queued, in one count.
        counts = Task.objects.filter(
            endpoint__in=endpoints_in_group(group), status__in=[*IN_FLIGHT, TaskStatus.PENDING]
        ).aggregate(
            in_flight=Count("pk", filter=Q(status__in=IN_FLIGHT)),
            spoken_for=Count("pk", filter=Q(status=TaskStatus.PENDING, next_attempt_at__isnull=False) & ~Q(waiting=Waiting.NOT_WAITING)),
        )
        spoken_for = counts["spoken_for"]
        free = max(row.max_in_flight - counts["in_flight"] - spoken_for, 0)
        # One more than we wake: whether anyone is left waiting (known already when
        # nothing is free and some are spoken for: the flag stays up).
        first = [] if free == 0 and spoken_for else list(
            waiting_tasks(group)
            .filter(next_attempt_at__isnull=True)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[: free + 1]
        )
        woken = first[:free]
        interval = timedelta(seconds=row.min_interval_seconds)
        # The first turn is once the interval since the last submit is over (now, if
        # it is), each next one an interval later.
        start = max(now, row.last_submit_at + interval) if row.last_submit_at is not None else now
        for turn, task_id in enumerate(woken):
            due = start + interval * turn
            Task.objects.filter(pk=task_id).update(next_attempt_at=due)
            enqueue_submit_task(task_id, run_after=due if due > now else None)
        still_waiting = bool(first) or spoken_for > 0
        if row.has_waiting != still_waiting:
            row.has_waiting = still_waiting
            row.save(update_fields=["has_waiting"])
    return woken


# --- the circuit breaker -------------------------------------------------------------


def is_account_refusal(*, status_code: int | None) -> bool:
    """The provider refuses the account itself (a bad key, a locked or empty account)."""
    return status_code in (401, 402, 403)


def is_provider_side(*, kind: str, status_code: int | None) -> bool:
    """A failure that says the provider is unwell rather than that our request is wrong."""
    from generation.models import ErrorKind

    if is_account_refusal(status_code=status_code):
        return True
    return kind in (ErrorKind.PROVIDER, ErrorKind.TIMEOUT, ErrorKind.NETWORK) and (status_code is None or status_code >= 500)


def record_provider_failure(*, endpoint: str, status_code: int | None, detail: str, now: datetime | None = None) -> ProviderGroup:
    """Count a provider-side failure against the endpoint's group; open its breaker at
    the threshold, at once for an account refusal, and again if the probe failed.
    Returns the group as it now is."""
    now = now or timezone.now()
    with transaction.atomic():
        group = locked_group(group_for_endpoint(endpoint))
        group.consecutive_failures += 1
        group.last_failure = detail[:2000]
        if group.breaker != BreakerState.OPEN and (
            group.breaker == BreakerState.HALF_OPEN
            or is_account_refusal(status_code=status_code)
            or group.consecutive_failures >= settings.BREAKER_FAILURE_THRESHOLD
        ):
            group.breaker = BreakerState.OPEN
            group.opened_at = now
            group.probe_after = now + timedelta(seconds=settings.BREAKER_COOLDOWN_SECONDS)
            group.probe_task = None
            group.opened_by_hand = False
            logger.warning("breaker of %s opened after %d failures: %s", group.name, group.consecutive_failures, detail[:200])
            transaction.on_commit(partial(offer_fallbacks, group=group.name))
        group.save()
    return group


def record_provider_success(*, endpoint: str) -> None:
    """The provider accepted a request: the failure count starts again, and a probe's
    success closes the breaker."""
    name = group_for_endpoint(endpoint)
    if ProviderGroup.objects.filter(name=name, breaker=BreakerState.CLOSED, consecutive_failures=0).exists():
        return  # the usual case: nothing to write
    with transaction.atomic():
        group = locked_group(name)
        if group.breaker == BreakerState.OPEN:
            return  # held open (by staff, or by a failure since): this success does not decide
        was_closed = group.breaker == BreakerState.CLOSED
        _close(group)
    if not was_closed:
        logger.info("breaker of %s closed: the probe was accepted", name)
        wake_waiting(group=name)


def _close(group: ProviderGroup) -> None:
    group.breaker = BreakerState.CLOSED
    group.consecutive_failures = 0
    group.probe_after = None
    group.probe_task = None
    group.opened_by_hand = False
    group.save()


def open_breaker_by_hand(*, name: str) -> None:
    """Staff hold the group's tasks back until they close it again."""
    with transaction.atomic():
        group = locked_group(name)
        group.breaker = BreakerState.OPEN
        group.opened_at = timezone.now()
        group.probe_after = None
        group.probe_task = None
        group.opened_by_hand = True
        group.save()
        transaction.on_commit(partial(offer_fallbacks, group=name))


def offer_fallbacks(*, group: str) -> list[UUID]:
    """The group's breaker has opened: queue the submit step of its waiting tasks whose
    job allows a fallback, so that each finds the breaker open and is made with its
    model's fallback (generation.fallback) instead of waiting for the group. Returns
    their ids."""
    keys = [spec.key for spec in MODELS if spec.group == group and spec.fallback]
    offered = list(
        waiting_tasks(group)
        .filter(job__allow_fallback=True, job__model_key__in=keys, made_with="")
        .values_list("pk", flat=True)
    )
    for task_id in offered:
        enqueue_submit_task(task_id)
    return offered


def close_breaker_by_hand(*, name: str) -> list[UUID]:
    """Staff let the group's tasks go again; the first waiting ones are queued at once."""
    with transaction.atomic():
        _close(locked_group(name))
    return wake_waiting(group=name)


# --- heartbeats ----------------------------------------------------------------------


def record_heartbeat(*, kind: ProcessKind, label: str) -> None:
    """The process called `label` on this machine is alive now. One row per label and
    machine, kept across restarts, so rows do not pile up."""
    name, now = f"{label}@{socket.gethostname()}"[:200], timezone.now()
    # One UPDATE in the usual case (the reconciler beats once a pass); the row is made
    # on the first beat, and two first beats at once make it once (its unique name).
    if Heartbeat.objects.filter(name=name).update(kind=kind, beat_at=now):
        return
    Heartbeat.objects.update_or_create(name=name, defaults={"kind": kind, "beat_at": now})
