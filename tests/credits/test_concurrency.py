"""Races for the last credits, for a new wallet and for a task's settlement, in real
concurrent transactions (threads, each with its own database connection)."""

import threading

import pytest
from django.conf import settings
from django.db import connection

from credits.models import EntryKind, LedgerEntry, Wallet
from credits.selectors import ledger_totals
from credits.services import CreditRefused, DailyLimitReached, InsufficientCredits, ensure_wallet
from generation.models import ErrorKind, Task
from generation.services import cancel_task, fail_task, start_generation
from tests.factories import fund, make_user

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="needs PostgreSQL: SQLite serialises every writer, so there is no race to lose",
    ),
]


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


def test_concurrent_jobs_cannot_pass_the_daily_limit(settings):
    settings.DAILY_VIDEO_LIMITS = {"free": 5, "pro": 5}
    user = make_user()
    fund(user, 100)
    outcomes = race(lambda: two_videos(user), times=5)
    assert sum(not isinstance(o, Exception) for o in outcomes) == 2
    assert all(isinstance(o, DailyLimitReached) for o in outcomes if isinstance(o, CreditRefused))
    assert Task.objects.count() == 4


def test_a_new_user_racing_for_a_wallet_gets_one_welcome_grant(settings):
    settings.CREDITS_WELCOME_GRANT = 10
    user = make_user()
    outcomes = race(lambda: ensure_wallet(user=user).pk, times=6)
    assert len(set(outcomes)) == 1, outcomes
    assert LedgerEntry.objects.filter(wallet__user=user, kind=EntryKind.GRANT).count() == 1
    assert Wallet.objects.get(user=user).balance == 10


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
