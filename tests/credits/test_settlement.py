"""Credits settle through the real pipeline: signed webhooks (including duplicates and
late ones) and the sandbox's rendered videos. Nothing is charged or refunded twice."""

import pytest

from credits.models import EntryKind, LedgerEntry, Wallet
from credits.selectors import ledger_totals
from generation.models import Task, TaskStatus
from generation.reconcile import refresh_from_provider
from generation.services import start_generation
from generation.submission import submit_task
from generation.transitions import transition_task
from tests.factories import fund, make_user
from tests.support import deliver_webhook, queued_tasks, run_queued_tasks, wait_for

pytestmark = pytest.mark.django_db


def queued_task(user) -> Task:
    job = start_generation(user=user, model_key="kling-3-t2v", prompt="a fox", duration=5)
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

    wait_for(rendered, "both videos to be rendered and on their way home", timeout=30, every=0.2)
    run_queued_tasks()
    assert set(Task.objects.filter(job=job).values_list("status", flat=True)) == {TaskStatus.COMPLETED}
    assert [task.arguments["prompt"].split(",")[1].strip() for task in tasks] == ["anime style", "black and white film noir"]
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.reserved) == (8, 0)
    assert LedgerEntry.objects.filter(kind=EntryKind.CHARGE, task__job=job).count() == 2
