"""Every way credits move: reserve, charge, release, refusal, grants, the daily limit,
and the guarantees that nothing is charged or refunded twice."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from credits.models import EntryKind, LedgerEntry, ProviderCost, Tier, Wallet
from credits.selectors import credit_summary, ledger_totals, provider_spend, remaining_quota_today
from credits.services import (
    DailyLimitReached,
    InsufficientCredits,
    ensure_wallet,
    grant_credits,
    settle_task,
    top_up,
)
from generation.models import ErrorKind, Job, Task, TaskStatus
from generation.services import cancel_task, fail_task, retry_task, start_generation
from generation.transitions import transition_task
from history.models import HistoryItem
from tests.factories import fund, make_task, make_user
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db


def start(user, *, styles=("anime", "noir", "cinematic"), model_key="kling-3-t2v", **extra) -> Job:
    spec_duration = {"veo-3.1": 4}.get(model_key, 5)
    return start_generation(
        user=user, model_key=model_key, prompt="a fox", duration=spec_duration, styles=list(styles), **extra
    )


def wallet_of(user) -> Wallet:
    return Wallet.objects.get(user=user)


def kinds(task) -> list[str]:
    return sorted(LedgerEntry.objects.filter(task=task).values_list("kind", flat=True))


def complete(task: Task) -> Task:
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.DOWNLOADING)
    return transition_task(task.pk, TaskStatus.COMPLETED)


def assert_ledger_agrees(user):
    wallet = wallet_of(user)
    assert ledger_totals(wallet) == (wallet.balance, wallet.reserved)


def test_a_new_user_gets_the_welcome_credits_once(settings):
    settings.CREDITS_WELCOME_GRANT = 7
    user = make_user()
    assert credit_summary(user).balance == 7  # shown before any wallet exists
    ensure_wallet(user=user)
    ensure_wallet(user=user)
    assert wallet_of(user).balance == 7
    assert LedgerEntry.objects.filter(wallet__user=user, kind=EntryKind.GRANT).count() == 1


def test_creating_a_job_reserves_its_cost_per_task():
    user = make_user()
    fund(user, 10)
    job = start(user)
    wallet = wallet_of(user)
    assert (wallet.balance, wallet.reserved) == (7, 3)
    for task in job.tasks.all():
        assert kinds(task) == [EntryKind.RESERVE]
    assert_ledger_agrees(user)


def test_a_completed_video_charges_its_reservation_and_records_the_provider_cost():
    user = make_user()
    fund(user, 10)
    task = start(user, styles=["anime"], model_key="veo-3.1").tasks.get()
    complete(task)
    wallet = wallet_of(user)
    assert (wallet.balance, wallet.reserved) == (8, 0)  # Veo costs 2 credits
    assert kinds(task) == [EntryKind.CHARGE, EntryKind.RESERVE]
    cost = ProviderCost.objects.get(task=task)
    # Veo 3.1 by fal's price: 4 s at 720p with sound (its default), $0.40 a second.
    assert (cost.model_key, cost.seconds, cost.amount_usd, cost.outcome) == ("veo-3.1", Decimal("4"), Decimal("1.60"), "completed")
    assert (cost.basis, cost.estimated) == ("4 s × $0.40/s at 720p with sound", False)
    assert provider_spend()[0]["amount_usd"] == Decimal("1.60")
    assert_ledger_agrees(user)


@pytest.mark.parametrize("finish", ["fail", "cancel"])
def test_a_failed_or_cancelled_video_releases_its_reservation(finish):
    user = make_user()
    fund(user, 10)
    task = start(user, styles=["anime"]).tasks.get()
    if finish == "fail":
        fail_task(task_id=task.pk, kind=ErrorKind.PROVIDER, message="boom")
    else:
        cancel_task(task=task)
    wallet = wallet_of(user)
    assert (wallet.balance, wallet.reserved) == (10, 0)
    assert kinds(task) == [EntryKind.RELEASE, EntryKind.RESERVE]
    assert not ProviderCost.objects.exists()
    assert_ledger_agrees(user)


def test_a_job_the_balance_cannot_pay_is_refused_and_leaves_nothing():
    user = make_user()
    fund(user, 2)
    with pytest.raises(InsufficientCredits, match="needs 3 credits and you have 2"):
        start(user)
    assert not Job.objects.exists() and not Task.objects.exists() and not HistoryItem.objects.exists()
    assert queued_tasks() == []
    assert (wallet_of(user).balance, wallet_of(user).reserved) == (2, 0)
    assert not LedgerEntry.objects.filter(kind=EntryKind.RESERVE).exists()


def test_the_last_credits_can_be_spent_exactly():
    user = make_user()
    fund(user, 3)
    start(user)
    assert wallet_of(user).balance == 0


def test_settling_twice_changes_nothing():
    user = make_user()
    fund(user, 5)
    task = complete(start(user, styles=["anime"]).tasks.get())
    assert settle_task(task=task) is None
    assert kinds(task) == [EntryKind.CHARGE, EntryKind.RESERVE]
    assert ProviderCost.objects.filter(task=task).count() == 1
    assert_ledger_agrees(user)


@pytest.mark.parametrize("second", [EntryKind.CHARGE, EntryKind.RELEASE])
def test_the_database_refuses_a_second_settlement(second):
    user = make_user()
    fund(user, 5)
    task = complete(start(user, styles=["anime"]).tasks.get())
    wallet = wallet_of(user)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(wallet=wallet, kind=second, credits=1, task=task, balance_after=0, reserved_after=0)


def test_the_database_refuses_a_second_reservation():
    user = make_user()
    fund(user, 5)
    task = start(user, styles=["anime"]).tasks.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            wallet=wallet_of(user), kind=EntryKind.RESERVE, credits=1, task=task, balance_after=0, reserved_after=0
        )


def test_ledger_entries_are_append_only():
    user = make_user()
    entry = grant_credits(user=user, credits=5, note="gift")
    entry.note = "changed"
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()
    assert LedgerEntry.objects.get(pk=entry.pk).note == "gift"


def test_a_retry_after_failure_reserves_again_and_is_settled_on_its_own():
    user = make_user()
    fund(user, 5)
    first = start(user, styles=["anime"]).tasks.get()
    fail_task(task_id=first.pk, kind=ErrorKind.PROVIDER, message="boom")
    second = retry_task(task=first)
    assert (wallet_of(user).balance, wallet_of(user).reserved) == (4, 1)
    complete(second)
    assert kinds(first) == [EntryKind.RELEASE, EntryKind.RESERVE]
    assert kinds(second) == [EntryKind.CHARGE, EntryKind.RESERVE]
    assert (wallet_of(user).balance, wallet_of(user).reserved) == (4, 0)
    assert_ledger_agrees(user)


def test_a_retry_the_balance_cannot_pay_is_refused_and_leaves_the_card_alone():
    user = make_user()
    fund(user, 1)
    first = start(user, styles=["anime"]).tasks.get()
    fail_task(task_id=first.pk, kind=ErrorKind.PROVIDER, message="boom")
    grant_credits(user=user, credits=-1, note="taken back")
    with pytest.raises(InsufficientCredits):
        retry_task(task=first)
    assert Task.objects.count() == 1 and HistoryItem.objects.get().task_id == first.pk
    assert len(queued_tasks("submit_task")) == 1  # the first job's only


def test_tasks_made_before_credits_existed_settle_to_nothing():
    task = make_task(status=TaskStatus.DOWNLOADING)
    transition_task(task.pk, TaskStatus.COMPLETED)
    assert not LedgerEntry.objects.filter(task=task).exists()
    assert ProviderCost.objects.filter(task=task).exists()


def test_grants_and_take_backs():
    user = make_user()
    fund(user, 0)
    staff = make_user(is_staff=True)
    entry = grant_credits(user=user, credits=25, note="thanks", granted_by=staff)
    assert (entry.balance_after, entry.created_by, wallet_of(user).balance) == (25, staff, 25)
    grant_credits(user=user, credits=-5, note="correction")
    assert wallet_of(user).balance == 20
    with pytest.raises(InsufficientCredits):
        grant_credits(user=user, credits=-21, note="too much")
    with pytest.raises(ValueError):
        grant_credits(user=user, credits=0)
    assert wallet_of(user).balance == 20
    assert_ledger_agrees(user)


def test_top_up_grants_only_what_is_missing():
    user = make_user()
    fund(user, 3)
    assert top_up(user=user, to=10, note="demo").credits == 7
    assert top_up(user=user, to=10, note="demo") is None
    assert wallet_of(user).balance == 10


class TestDailyLimit:
    @pytest.fixture(autouse=True)
    def limits(self, settings):
        settings.DAILY_VIDEO_LIMITS = {"free": 3, "pro": 6}

    def test_the_limit_counts_videos_started_today(self):
        user = make_user()
        fund(user, 100)
        start(user, styles=["anime", "noir"])
        with pytest.raises(DailyLimitReached, match="1 left today and this would make 2"):
            start(user, styles=["anime", "noir"])
        start(user, styles=["anime"])
        with pytest.raises(DailyLimitReached, match="reached today's limit of 3 videos"):
            start(user, styles=["anime"])
        assert Task.objects.count() == 3 and wallet_of(user).balance == 97
        assert remaining_quota_today(user) == 0

    def test_failed_and_cancelled_videos_give_their_place_back(self):
        user = make_user()
        fund(user, 100)
        job = start(user)
        cancel_task(task=job.tasks.first())
        start(user, styles=["anime"])
        with pytest.raises(DailyLimitReached):
            start(user, styles=["anime"])

    def test_yesterdays_videos_do_not_count(self):
        user = make_user()
        fund(user, 100)
        job = start(user)
        job.tasks.update(created_at=timezone.now() - timedelta(days=1))
        start(user)
        assert remaining_quota_today(user) == 0

    def test_a_higher_tier_has_a_higher_limit(self):
        user = make_user()
        fund(user, 100, tier=Tier.PRO)
        start(user)
        start(user)
        assert credit_summary(user).remaining_today == 0

    def test_the_limit_is_checked_before_the_balance(self):
        user = make_user()
        fund(user, 1)
        with pytest.raises(DailyLimitReached):
            start(user, styles=["anime", "noir", "cinematic", "claymation"])

    def test_a_retry_counts_against_the_limit(self):
        user = make_user()
        fund(user, 100)
        job = start(user)
        failed = job.tasks.first()
        fail_task(task_id=failed.pk, kind=ErrorKind.PROVIDER, message="boom")
        start(user, styles=["anime"])  # takes the failed one's place
        with pytest.raises(DailyLimitReached):
            retry_task(task=failed)
