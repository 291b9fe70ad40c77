"""Writes of credits: every change of a balance goes through `_append`, which writes
the ledger entry and the wallet's cached totals together.

Locking: whoever spends locks the user's wallet row (`select_for_update`) before
checking the balance and the daily limit, so two jobs racing for the last credits
are served one after the other and the second sees what the first took. When a task
settles, its own row is already locked by `transition_task`; the wallet is locked
after it, always in that order, so the two paths cannot deadlock."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db import transaction
from django.utils.translation import gettext_noop, ngettext

from credits.models import SETTLEMENTS, EntryKind, LedgerEntry, ProviderCost, Tier, Wallet
from credits.selectors import daily_limit_for, videos_started_today
from generation.catalog import get_model
from generation.models import ErrorKind, Task, TaskStatus

logger = logging.getLogger(__name__)

# Ledger notes the system writes. Kept in English in the ledger (it is a record, read
# in any language) and translated when shown: see `credits.templatetags.ledger`.
WELCOME_NOTE = gettext_noop("Welcome credits")
DEMO_TOP_UP_NOTE = gettext_noop("Demo account top-up")


class CreditRefused(Exception):
    """A request the user's credits or daily limit (or a suspended account, see
    `accounts.services`) do not allow. `message` is safe to show; `code` is stable
    for programs."""

    code = "credit_refused"

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class InsufficientCredits(CreditRefused):
    code = "insufficient_credits"


class DailyLimitReached(CreditRefused):
    code = "daily_limit_reached"


def ensure_wallet(*, user) -> Wallet:
    """The user's wallet, made on first use with the welcome credits."""
    with transaction.atomic():
        wallet, created = Wallet.objects.get_or_create(user=user)
        if created and settings.CREDITS_WELCOME_GRANT:
            _append(wallet, kind=EntryKind.GRANT, credits=settings.CREDITS_WELCOME_GRANT, note=WELCOME_NOTE)
    return wallet


def _locked_wallet(user) -> Wallet:
    ensure_wallet(user=user)
    # The lock that serialises spending: see the module docstring.
    return Wallet.objects.select_for_update().get(user=user)


def _append(
    wallet: Wallet,
    *,
    kind: EntryKind,
    credits: int,
    task: Task | None = None,
    note: str = "",
    created_by=None,
) -> LedgerEntry:
    if kind == EntryKind.GRANT:
        wallet.balance += credits
    elif kind == EntryKind.RESERVE:
        wallet.balance -= credits
        wallet.reserved += credits
    elif kind == EntryKind.CHARGE:
        wallet.reserved -= credits
    elif kind == EntryKind.RELEASE:
        wallet.reserved -= credits
        wallet.balance += credits
    wallet.save(update_fields=["balance", "reserved", "updated_at"])
    return LedgerEntry.objects.create(
        wallet=wallet,
        kind=kind,
        credits=credits,
        task=task,
        balance_after=wallet.balance,
        reserved_after=wallet.reserved,
        note=note[:200],
        created_by=created_by,
    )


def price_of(task: Task) -> int:
    """What a video costs the user: its model's credits, or for an attempt made with
    its model's fallback (generation.fallback) the cheaper of the two."""
    price = get_model(task.job.model_key).credits_per_video
    if task.made_with:
        price = min(price, get_model(task.made_with).credits_per_video)
    return price


def reserve_for_tasks(*, user, tasks: Sequence[Task]) -> int:
    """Hold the price of each new task, or raise CreditRefused and hold nothing.

    Call inside the transaction that created the tasks, so that a refusal rolls them
    back too. Checks the daily limit first: a user at the limit learns that, not that
    they could buy more credits. Returns the credits held."""
    if not tasks:
        return 0
    with transaction.atomic():
        wallet = _locked_wallet(user)
        limit = daily_limit_for(wallet.tier)
        used = videos_started_today(user, exclude_task_ids=[task.pk for task in tasks])
        if used + len(tasks) > limit:
            raise DailyLimitReached(_daily_limit_message(wallet.tier, limit, used, len(tasks)))
        needed = sum(price_of(task) for task in tasks)
        if needed > wallet.balance:
            raise InsufficientCredits(
                ngettext(
                    "Not enough credits: this needs %(needed)s credit and you have %(balance)s. "
                    "Make fewer videos, or ask us for more credits.",
                    "Not enough credits: this needs %(needed)s credits and you have %(balance)s. "
                    "Make fewer videos, or ask us for more credits.",
                    needed,
                )
                % {"needed": intcomma(needed), "balance": intcomma(wallet.balance)}
            )
        for task in tasks:
            _append(wallet, kind=EntryKind.RESERVE, credits=price_of(task), task=task)
    return needed


def _daily_limit_message(tier: str, limit: int, used: int, asked: int) -> str:
    plan = Tier(tier).label if tier in Tier.values else tier
    left = max(limit - used, 0)
    if not left:
        return ngettext(
            "You have reached today's limit of %(limit)s video on the %(plan)s plan. "
            "It starts again at midnight (%(time_zone)s).",
            "You have reached today's limit of %(limit)s videos on the %(plan)s plan. "
            "It starts again at midnight (%(time_zone)s).",
            limit,
        ) % {"limit": intcomma(limit), "plan": plan, "time_zone": settings.TIME_ZONE}
    return ngettext(
        "The %(plan)s plan allows %(limit)s video a day; you have %(left)s left today and this would make %(asked)s.",
        "The %(plan)s plan allows %(limit)s videos a day; you have %(left)s left today and this would make %(asked)s.",
        limit,
    ) % {"plan": plan, "limit": intcomma(limit), "left": intcomma(left), "asked": intcomma(asked)}


def settle_task(*, task: Task) -> LedgerEntry | None:
    """Settle a task that has just finished: charge its reservation when it completed,
    release it when it failed or was cancelled. Called by `transition_task` inside the
    transaction that finishes the task, so every way a task can finish passes here
    exactly once; a task with nothing reserved (made before credits existed) has
    nothing to settle. The unique constraints refuse a second settlement even if a
    future caller forgets this."""
    if fal_bills(task):
        record_provider_cost(task=task)
    reservation = LedgerEntry.objects.filter(task=task, kind=EntryKind.RESERVE).first()
    if reservation is None or LedgerEntry.objects.filter(task=task, kind__in=SETTLEMENTS).exists():
        return None
    wallet = Wallet.objects.select_for_update().get(pk=reservation.wallet_id)
    kind = EntryKind.CHARGE if task.status == TaskStatus.COMPLETED else EntryKind.RELEASE
    return _append(wallet, kind=kind, credits=reservation.credits, task=task)


def fal_bills(task: Task) -> bool:
    """Whether fal bills this finished task, as its billing notes say: a completed video,
    and a request its model refused as invalid (422) once it had reached fal (fal "may"
    bill those when a runner already spent time: we record them, marked as failed).
    Server errors (5xx) are not billed; nothing that never reached fal is."""
    if task.status == TaskStatus.COMPLETED:
        return True
    return task.status == TaskStatus.FAILED and bool(task.request_id) and task.error_kind == ErrorKind.VALIDATION


def record_provider_cost(*, task: Task) -> ProviderCost | None:
    """Record what fal bills for this task, by the model's published price rule and
    what was actually sent (seconds, resolution, sound). Once per task."""
    if ProviderCost.objects.filter(task=task).exists():
        return None
    # The model that made it: a fallback bills at its own price. A model no longer
    # offered is recorded at $0 with that said, never failing the transition that
    # settles the task.
    try:
        spec = task.model_spec
        charge = spec.charge_for(task.arguments)
        seconds = spec.seconds_of(task.arguments)
    except (KeyError, ValueError, TypeError):
        logger.warning("task %s: no price for %s with %s", task.pk, task.endpoint, task.arguments)
        spec, charge, seconds = None, None, 0
    amount = charge.usd if charge else Decimal(0)
    return ProviderCost.objects.create(
        task=task,
        provider=task.provider,
        model_key=task.model_key,
        endpoint=task.endpoint,
        outcome=task.status,
        seconds=seconds,
        usd_per_second=(amount / seconds).quantize(Decimal("0.0001")) if seconds else Decimal(0),
        amount_usd=amount,
        basis=(charge.basis if charge else "no published price")[:200],
        estimated=not (spec and spec.price and spec.price.published),
    )


def grant_credits(*, user, credits: int, note: str = "", granted_by=None) -> LedgerEntry:
    """Give a user credits, or take some back with a negative number (never more than
    they can spend now)."""
    if credits == 0:
        raise ValueError("a grant moves at least one credit")
    with transaction.atomic():
        wallet = _locked_wallet(user)
        if wallet.balance + credits < 0:
            raise InsufficientCredits(
                ngettext(
                    "%(user)s has %(balance)s credit; that is the most that can be taken back.",
                    "%(user)s has %(balance)s credits; that is the most that can be taken back.",
                    wallet.balance,
                )
                % {"user": user, "balance": intcomma(wallet.balance)}
            )
        entry = _append(wallet, kind=EntryKind.GRANT, credits=credits, note=note, created_by=granted_by)
    logger.info("granted %d credits to %s (%s)", credits, user, note)
    return entry


def top_up(*, user, to: int, note: str) -> LedgerEntry | None:
    """Grant whatever brings the user's balance up to `to`; nothing if it is there."""
    with transaction.atomic():
        wallet = _locked_wallet(user)
        if wallet.balance >= to:
            return None
        return _append(wallet, kind=EntryKind.GRANT, credits=to - wallet.balance, note=note)


def set_tier(*, user, tier: Tier) -> Wallet:
    wallet = ensure_wallet(user=user)
    Wallet.objects.filter(pk=wallet.pk).update(tier=tier)
    wallet.refresh_from_db()
    return wallet
