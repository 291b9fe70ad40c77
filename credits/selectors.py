"""Reads of credits: balances, today's quota, ledger checks and provider spend."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from credits.models import EntryKind, LedgerEntry, ProviderCost, Tier, Wallet
from generation.models import Task, TaskStatus


def daily_limit_for(tier: str) -> int:
    limits = settings.DAILY_VIDEO_LIMITS
    return int(limits.get(tier, limits[Tier.FREE]))


def start_of_today() -> datetime:
    """Midnight in the site's time zone: when the daily limit starts again."""
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def counts_today(prefix: str = "") -> Q:
    """The tasks that count against today's limit, as a filter (`prefix` reaches them
    through a join, e.g. "jobs__tasks__" from a user). Failed and cancelled ones do
    not count: their credits came back, and so does their place in the limit."""
    return Q(**{f"{prefix}created_at__gte": start_of_today()}) & ~Q(
        **{f"{prefix}status__in": [TaskStatus.FAILED, TaskStatus.CANCELLED]}
    )


def videos_started_today(user, *, exclude_task_ids: Iterable = ()) -> int:
    """Videos the user started today (see `counts_today`)."""
    return Task.objects.filter(counts_today(), job__user=user).exclude(pk__in=list(exclude_task_ids)).count()


@dataclass(frozen=True)
class CreditSummary:
    tier: str
    balance: int
    reserved: int
    daily_limit: int
    used_today: int

    @property
    def remaining_today(self) -> int:
        return max(self.daily_limit - self.used_today, 0)

    @property
    def tier_label(self) -> str:
        return Tier(self.tier).label if self.tier in Tier.values else self.tier


def credit_summary(user) -> CreditSummary:
    """What the user has, without creating a wallet: someone who has none yet is shown
    what their first request will find (the welcome credits)."""
    wallet = Wallet.objects.filter(user=user).first()
    tier = wallet.tier if wallet else Tier.FREE
    return CreditSummary(
        tier=tier,
        balance=wallet.balance if wallet else settings.CREDITS_WELCOME_GRANT,
        reserved=wallet.reserved if wallet else 0,
        daily_limit=daily_limit_for(tier),
        used_today=videos_started_today(user),
    )


def ledger_of(user) -> QuerySet[LedgerEntry]:
    """The user's own ledger, newest first, each entry with its task's job (for the
    prompt), for the Credits page."""
    return LedgerEntry.objects.filter(wallet__user=user).select_related("task__job").order_by("-created_at", "-id")


@dataclass(frozen=True)
class Balance:
    balance: int
    tier: str

    @property
    def tier_label(self) -> str:
        return Tier(self.tier).label if self.tier in Tier.values else self.tier


def balance_of(user) -> Balance:
    """What the header shows: the balance and the plan, from the wallet row alone (one
    indexed read on every page), or the welcome credits for someone with no wallet yet."""
    wallet = Wallet.objects.filter(user=user).values("balance", "tier").first()
    if wallet is None:
        return Balance(balance=settings.CREDITS_WELCOME_GRANT, tier=Tier.FREE)
    return Balance(balance=wallet["balance"], tier=wallet["tier"])


def remaining_quota_today(user) -> int:
    return credit_summary(user).remaining_today


def ledger_totals(wallet: Wallet) -> tuple[int, int]:
    """(balance, reserved) as the ledger adds them up; they must equal the wallet's."""
    sums = dict(wallet.entries.order_by().values("kind").annotate(total=Sum("credits")).values_list("kind", "total"))
    grant, reserve = sums.get(EntryKind.GRANT, 0), sums.get(EntryKind.RESERVE, 0)
    charge, release = sums.get(EntryKind.CHARGE, 0), sums.get(EntryKind.RELEASE, 0)
    return grant - reserve + release, reserve - charge - release


def entries_for_tasks(task_ids: Iterable, *, kind: EntryKind) -> int:
    """Credits moved by `kind` entries of these tasks."""
    total = LedgerEntry.objects.filter(task_id__in=list(task_ids), kind=kind).aggregate(total=Sum("credits"))["total"]
    return total or 0


def provider_spend(*, since: datetime | None = None) -> list[dict]:
    """What fal billed per provider model: videos, how many of them failed (fal bills some
    refused inputs), seconds, dollars, and how many were priced by an estimate; largest first."""
    costs = ProviderCost.objects.all()
    if since is not None:
        costs = costs.filter(recorded_at__gte=since)
    return list(
        costs.values("provider", "model_key")
        .annotate(
            videos=Count("id"),
            failed=Count("id", filter=Q(outcome="failed")),
            seconds=Sum("seconds"),
            amount_usd=Sum("amount_usd"),
            estimated=Count("id", filter=Q(estimated=True)),
        )
        .order_by("-amount_usd")
    )


def spend_total(rows: list[dict]) -> dict:
    """The sum of `provider_spend` rows."""
    keys = ("videos", "failed", "seconds", "amount_usd", "estimated")
    return {key: sum((row[key] for row in rows), start=0) for key in keys}
