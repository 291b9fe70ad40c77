"""Every way credits move: reserve, charge, release, refusal, grants, the daily limit,
and the guarantees that nothing is charged or refunded twice: through the real pipeline
(signed webhooks, duplicates and late ones, the sandbox's rendered videos) and in races
between real concurrent transactions."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from credits.models import EntryKind, LedgerEntry, ProviderCost, Tier, Wallet
from credits.selectors import credit_summary, ledger_totals, provider_spend, remaining_quota_today
from credits.services import (
    CreditRefused,
    DailyLimitReached,
    InsufficientCredits,
    ensure_wallet,
    grant_credits,
    settle_task,
    top_up,
)
from generation.models import ErrorKind, Job, Task, TaskStatus
from generation.reconcile import refresh_from_provider
from generation.services import cancel_task, fail_task, retry_task, start_generation
from generation.submission import submit_task
from generation.transitions import transition_task
from history.models import HistoryItem
from tests.factories import fund, make_task, make_user
from tests.support import deliver_webhook, queued_tasks, run_queued_tasks, wait_for

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


def queued_task(user) -> Task:
    # Without a fallback: a failed video here is the end of it (see tests/generation/test_fallback.py).
    job = start_generation(user=user, model_key="kling-3-t2v", prompt="a fox", duration=5, allow_fallback=False)
    task = job.tasks.get()
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.QUEUED, request_id=f"req-{task.pk}")
    task.refresh_from_db()
    return task


def entries(task) -> list[str]:
    return sorted(LedgerEntry.objects.filter(task=task).values_list("kind", flat=True))


def test_a_duplicate_error_webhook_releases_once(client, fal_key):
    user = make_user()
    fund(user, 5)
    task = queued_task(user)
    for _ in range(3):
        assert deliver_webhook(client, task, fal_key, status="ERROR", error="model exploded").status_code == 200
    assert entries(task) == [EntryKind.RELEASE, EntryKind.RESERVE]
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.reserved) == (5, 0)


def test_a_duplicate_success_webhook_charges_once(client, fal_key):
    user = make_user()
    fund(user, 5)
    task = queued_task(user)
    deliver_webhook(client, task, fal_key)
    deliver_webhook(client, task, fal_key)
    assert len(queued_tasks("download_result")) == 1
    transition_task(task.pk, TaskStatus.COMPLETED)  # as the download step does
    deliver_webhook(client, task, fal_key)  # late
    deliver_webhook(client, task, fal_key, status="ERROR", error="out of order")  # and contradictory
    assert Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED
    assert entries(task) == [EntryKind.CHARGE, EntryKind.RESERVE]
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.reserved) == (4, 0)
    assert ledger_totals(wallet) == (4, 0)


def test_a_job_made_through_the_sandbox_charges_each_video_it_delivers(sandbox):
    user = make_user()
    fund(user, 10)
    job = start_generation(
        user=user, model_key="kling-3-t2v", prompt="a paper boat", duration=5, styles=["anime", "noir"], aspect_ratios=["16:9"]
    )
    tasks = list(job.tasks.order_by("variant_index"))
    for task in tasks:
        submit_task(task_id=task.pk)

    def rendered():
        for task in Task.objects.filter(job=job, status__in=[TaskStatus.QUEUED, TaskStatus.IN_PROGRESS]):
            refresh_from_provider(task_id=task.pk)  # the webhook goes nowhere in unit tests: poll
        return not Task.objects.filter(job=job).exclude(status=TaskStatus.DOWNLOADING).exists()

    wait_for(rendered, "both videos to be rendered and on their way home", timeout=90, every=0.2)
    run_queued_tasks()
    assert set(Task.objects.filter(job=job).values_list("status", flat=True)) == {TaskStatus.COMPLETED}
    assert [task.arguments["prompt"].split(",")[1].strip() for task in tasks] == ["anime style", "black and white film noir"]
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.reserved) == (8, 0)
    assert LedgerEntry.objects.filter(kind=EntryKind.CHARGE, task__job=job).count() == 2


# Races, in real concurrent transactions (threads, each with its own database
# connection). SQLite serialises every writer, so there is no race to lose there.
needs_postgres = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="needs PostgreSQL: SQLite serialises every writer, so there is no race to lose",
)


def race(action, times: int) -> list:
    """Run `action` in `times` threads released at the same moment; their outcomes."""
    barrier = threading.Barrier(times)
    outcomes = []

    def run():
        try:
            barrier.wait()
            outcomes.append(action())
        except Exception as error:  # noqa: BLE001 - the outcome under test
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == times, "a thread hung"
    return outcomes


def two_videos(user):
    return start_generation(user=user, model_key="kling-3-t2v", prompt="a fox", duration=5, styles=["anime", "noir"])


@pytest.mark.django_db(transaction=True)
@needs_postgres
def test_concurrent_jobs_cannot_overspend_the_last_credits():
    user = make_user()
    fund(user, 5)
    outcomes = race(lambda: two_videos(user), times=6)
    made = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, InsufficientCredits)]
    assert (len(made), len(refused)) == (2, 4), outcomes
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.reserved) == (1, 4)
    assert ledger_totals(wallet) == (1, 4)
    assert Task.objects.count() == 4


@pytest.mark.django_db(transaction=True)
@needs_postgres
def test_concurrent_jobs_cannot_pass_the_daily_limit(settings):
    settings.DAILY_VIDEO_LIMITS = {"free": 5, "pro": 5}
    user = make_user()
    fund(user, 100)
    outcomes = race(lambda: two_videos(user), times=5)
    assert sum(not isinstance(o, Exception) for o in outcomes) == 2
    assert all(isinstance(o, DailyLimitReached) for o in outcomes if isinstance(o, CreditRefused))
    assert Task.objects.count() == 4


@pytest.mark.django_db(transaction=True)
@needs_postgres
def test_a_new_user_racing_for_a_wallet_gets_one_welcome_grant(settings):
    settings.CREDITS_WELCOME_GRANT = 10
    user = make_user()
    outcomes = race(lambda: ensure_wallet(user=user).pk, times=6)
    assert len(set(outcomes)) == 1, outcomes
    assert LedgerEntry.objects.filter(wallet__user=user, kind=EntryKind.GRANT).count() == 1
    assert Wallet.objects.get(user=user).balance == 10


@pytest.mark.django_db(transaction=True)
@needs_postgres
def test_a_task_failed_and_cancelled_at_once_is_released_once():
    user = make_user()
    fund(user, 5)
    task = two_videos(user).tasks.first()
    actions = [
        lambda: fail_task(task_id=task.pk, kind=ErrorKind.PROVIDER, message="boom"),
        lambda: cancel_task(task=task),
    ] * 3
    lock = threading.Lock()

    def next_action():
        with lock:
            action = actions.pop()
        return action()

    race(next_action, times=6)
    assert LedgerEntry.objects.filter(task=task, kind=EntryKind.RELEASE).count() == 1
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.reserved) == (4, 1)
    assert ledger_totals(wallet) == (4, 1)
