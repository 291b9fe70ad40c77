"""Provider guardrails through the real submit step and the sandbox: the cap on
requests in flight per group, the order of the queue, the minimum interval, and the
circuit breaker's open, hold, probe and close (for jobs that allow no fallback: those
with one are made with it, see tests/generation/test_fallback.py)."""

import threading
import uuid
from datetime import timedelta

import pytest
from django_tasks_db.models import DBTaskResult
from django.db import connection, transaction
from django.utils import timezone

from credits.models import Tier
from generation.models import ErrorKind, Task, TaskStatus, Waiting
from generation.planning import JobMode
from generation.services import cancel_task, start_generation
from generation.submission import submit_task
from generation.transitions import mark_waiting, transition_task
from operations.models import BreakerState, ProviderGroup
from operations.services import close_breaker_by_hand, open_breaker_by_hand, take_slot, wake_waiting
from tests.factories import fund, make_task, make_user
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db


def woken() -> set[str]:
    """The tasks whose submit step is queued to run now."""
    ready = DBTaskResult.objects.ready().filter(task_path__endswith=".submit_task")
    return {result.task_result.args[0] for result in ready}


def submitted(*tasks: Task) -> list[Task]:
    for task in tasks:
        submit_task(task_id=task.pk)
    return [Task.objects.get(pk=task.pk) for task in tasks]


def test_the_fourth_task_of_a_group_waits_for_a_free_slot(sandbox):
    tasks = submitted(*(make_task(prompt=f"cap {n}") for n in range(4)))
    assert [t.status for t in tasks] == [TaskStatus.QUEUED] * 3 + [TaskStatus.PENDING]
    assert tasks[3].waiting == Waiting.SLOT and tasks[3].next_attempt_at is None
    # Another family has slots of its own.
    (other,) = submitted(make_task(model_key="veo-3.1", prompt="cap other group"))
    assert other.status == TaskStatus.QUEUED


def test_a_cancelled_task_frees_its_slot_at_once(sandbox, django_capture_on_commit_callbacks):
    tasks = submitted(*(make_task(prompt=f"free {n}") for n in range(4)))
    assert woken() == set()
    with django_capture_on_commit_callbacks(execute=True):
        cancel_task(task=tasks[0])
    assert woken() == {str(tasks[3].pk)}
    (last,) = submitted(tasks[3])
    assert (last.status, last.waiting) == (TaskStatus.QUEUED, Waiting.NOT_WAITING)


def test_a_higher_tier_goes_first_then_the_oldest(sandbox, settings, django_capture_on_commit_callbacks):
    settings.PROVIDER_MAX_IN_FLIGHT = 1
    free_user, pro_user = make_user(), make_user()
    fund(free_user, 10)
    fund(pro_user, 10, tier=Tier.PRO)
    (running,) = submitted(make_task(prompt="order running"))
    older_free = make_task(user=free_user, prompt="order older free")
    newer_free = make_task(user=free_user, prompt="order newer free")
    newest_pro = make_task(user=pro_user, prompt="order newest pro")
    assert all(t.waiting == Waiting.SLOT for t in submitted(older_free, newer_free, newest_pro))

    with django_capture_on_commit_callbacks(execute=True):
        cancel_task(task=running)
    assert woken() == {str(newest_pro.pk)}
    # Whoever runs first, only the first in line gets the slot.
    assert [t.status for t in submitted(newer_free, newest_pro)] == [TaskStatus.PENDING, TaskStatus.QUEUED]


def test_submits_to_one_group_keep_the_minimum_interval(sandbox, settings):
    settings.PROVIDER_MIN_INTERVAL_SECONDS = 30
    first, second = submitted(make_task(prompt="interval one"), make_task(prompt="interval two"))
    assert first.status == TaskStatus.QUEUED
    assert (second.status, second.waiting) == (TaskStatus.PENDING, Waiting.SLOT)
    gap = (second.next_attempt_at - first.submitted_at).total_seconds()
    assert 29 <= gap <= 31
    (step,) = [r for r in queued_tasks("submit_task") if r.task_result.args[0] == str(second.pk)]
    assert step.run_after == second.next_attempt_at


def test_the_breaker_opens_holds_probes_and_closes(sandbox, settings, django_capture_on_commit_callbacks):
    settings.BREAKER_FAILURE_THRESHOLD = 2
    settings.BREAKER_COOLDOWN_SECONDS = 60
    tag = uuid.uuid4().hex[:8]
    failing = [make_task(prompt=f"down {tag} {n} #fault:submit_500_once", allow_fallback=False) for n in range(2)]
    first, second = submitted(*failing)
    # The first failure is retried as usual; the second opens the breaker.
    assert (first.status, first.waiting, first.error_kind) == (TaskStatus.PENDING, Waiting.NOT_WAITING, ErrorKind.PROVIDER)
    assert (second.status, second.waiting, second.submit_attempts) == (TaskStatus.PENDING, Waiting.BREAKER, 0)
    group = ProviderGroup.objects.get(name="kling")
    assert group.breaker == BreakerState.OPEN and group.probe_after is not None

    # Held: a new task waits too, instead of being sent or failing.
    (held,) = submitted(make_task(prompt=f"held {tag}", allow_fallback=False))
    assert (held.status, held.waiting) == (TaskStatus.PENDING, Waiting.BREAKER)

    # After the cool-down one probe goes; the others wait for its answer.
    ProviderGroup.objects.filter(name="kling").update(probe_after=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        probe, other = submitted(second, held)
    assert probe.status == TaskStatus.QUEUED  # its fault fired once already: accepted now
    assert ProviderGroup.objects.get(name="kling").breaker == BreakerState.CLOSED
    # The probe's success sent the waiting tasks on.
    assert str(held.pk) in woken()
    (other,) = submitted(held)
    assert other.status == TaskStatus.QUEUED


def test_a_failed_probe_opens_the_breaker_again(sandbox, settings):
    settings.BREAKER_FAILURE_THRESHOLD = 1
    tag = uuid.uuid4().hex[:8]
    (task,) = submitted(make_task(prompt=f"still down {tag} #fault:submit_500", allow_fallback=False))
    assert task.waiting == Waiting.BREAKER
    ProviderGroup.objects.filter(name="kling").update(probe_after=timezone.now() - timedelta(seconds=1))
    (task,) = submitted(task)
    group = ProviderGroup.objects.get(name="kling")
    assert group.breaker == BreakerState.OPEN and group.probe_after > timezone.now()
    assert (task.status, task.waiting) == (TaskStatus.PENDING, Waiting.BREAKER)


def test_a_breaker_held_open_by_hand_waits_for_staff(sandbox):
    open_breaker_by_hand(name="kling")
    (task,) = submitted(make_task(prompt="held by hand", allow_fallback=False))
    assert (task.status, task.waiting, task.next_attempt_at) == (TaskStatus.PENDING, Waiting.BREAKER, None)
    assert close_breaker_by_hand(name="kling") == [task.pk]
    (task,) = submitted(task)
    assert task.status == TaskStatus.QUEUED


# --- waking the queue: only when someone may wait ----------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="without row locks every freed slot wakes the queue")
def test_a_freed_slot_wakes_the_queue_only_while_someone_may_wait(sandbox, django_capture_on_commit_callbacks):
    first, second, third = submitted(*(make_task(prompt=f"flag {n}") for n in range(3)))
    assert ProviderGroup.objects.get(name="kling").has_waiting  # a new row: "maybe"
    with django_capture_on_commit_callbacks(execute=True) as wake_ups:
        cancel_task(task=first)
    assert len(wake_ups) == 1 and woken() == set()
    # That wake-up found the queue empty and said so: the next freed slot asks nothing.
    assert not ProviderGroup.objects.get(name="kling").has_waiting
    with django_capture_on_commit_callbacks(execute=True) as wake_ups:
        cancel_task(task=second)
    assert wake_ups == []

    # A task that has to wait sets the flag in the transaction that records its wait.
    waiting = submitted(*(make_task(prompt=f"flag more {n}") for n in range(3)))[-1]
    assert (waiting.status, waiting.waiting) == (TaskStatus.PENDING, Waiting.SLOT)
    assert ProviderGroup.objects.get(name="kling").has_waiting
    with django_capture_on_commit_callbacks(execute=True):
        cancel_task(task=third)
    assert woken() == {str(waiting.pk)}
    # The woken task waits until its submit runs: the flag stays up for it...
    assert ProviderGroup.objects.get(name="kling").has_waiting
    (sent,) = submitted(waiting)
    assert sent.status == TaskStatus.QUEUED
    # ...and the next wake-up, finding nobody, takes it down.
    with django_capture_on_commit_callbacks(execute=True):
        cancel_task(task=sent)
    assert not ProviderGroup.objects.get(name="kling").has_waiting


def _in_thread(target) -> threading.Thread:
    def run():
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks")
def test_a_task_deciding_to_wait_while_a_slot_frees_is_woken():
    """The submit step decides to wait (its count still sees the leaving task in
    flight) and has not committed when the leaving task reads the flag: that read
    waits for the group's row, so it sees the wait and wakes the task."""
    ProviderGroup.objects.create(name="kling", max_in_flight=1, min_interval_seconds=0, has_waiting=False)
    leaving = make_task(status=TaskStatus.QUEUED, request_id="race-leaving")
    deciding = make_task(prompt="race deciding")
    decided, commit = threading.Event(), threading.Event()

    def decide():
        with transaction.atomic():
            pending = Task.objects.select_for_update().get(pk=deciding.pk)
            decision = take_slot(task=pending, now=timezone.now())
            assert not decision.granted
            mark_waiting(pending.pk, reason=decision.reason)
            decided.set()
            commit.wait(10)

    def leave():
        seen = Task.objects.get(pk=leaving.pk)
        transition_task(leaving.pk, TaskStatus.DOWNLOADING, seen=seen, result_url="https://v3.fal.media/x.mp4")

    submit = _in_thread(decide)
    assert decided.wait(10)
    webhook = _in_thread(leave)
    webhook.join(0.5)
    assert webhook.is_alive()  # held by the group's row until the wait commits
    commit.set()
    submit.join(10)
    webhook.join(10)
    assert Task.objects.get(pk=leaving.pk).status == TaskStatus.DOWNLOADING
    assert woken() == {str(deciding.pk)}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks")
def test_a_task_deciding_while_a_slot_frees_counts_it_free():
    """The other order: the leaving task has read the flag (nobody waits) and not yet
    committed; the submit step waits for the group's row and then finds the slot free."""
    ProviderGroup.objects.create(name="kling", max_in_flight=1, min_interval_seconds=0, has_waiting=False)
    leaving = make_task(status=TaskStatus.QUEUED, request_id="race-left")
    deciding = make_task(prompt="race decided")
    moved, commit = threading.Event(), threading.Event()
    decisions = []

    def leave():
        with transaction.atomic():
            seen = Task.objects.get(pk=leaving.pk)
            transition_task(leaving.pk, TaskStatus.DOWNLOADING, seen=seen, result_url="https://v3.fal.media/y.mp4")
            moved.set()
            commit.wait(10)

    def decide():
        with transaction.atomic():
            pending = Task.objects.select_for_update().get(pk=deciding.pk)
            decisions.append(take_slot(task=pending, now=timezone.now()))

    webhook = _in_thread(leave)
    assert moved.wait(10)
    submit = _in_thread(decide)
    submit.join(0.5)
    assert submit.is_alive()
    commit.set()
    webhook.join(10)
    submit.join(10)
    assert [d.granted for d in decisions] == [True]
    assert woken() == set()


def test_a_woken_task_is_not_woken_again_before_its_step_runs(sandbox, settings, django_capture_on_commit_callbacks):
    """Two slots freeing one after the other (or the reconciler) wake the next in line
    each, never the same task twice: a woken task's step is queued, its slot spoken for."""
    settings.PROVIDER_MAX_IN_FLIGHT = 2
    first, second, third, fourth = submitted(*(make_task(prompt=f"once {n}") for n in range(4)))
    assert [t.waiting for t in (third, fourth)] == [Waiting.SLOT, Waiting.SLOT]
    with django_capture_on_commit_callbacks(execute=True):
        cancel_task(task=first)
    assert woken() == {str(third.pk)}
    assert wake_waiting(group="kling") == []  # nothing more is free: third's step will take the slot
    with django_capture_on_commit_callbacks(execute=True):
        cancel_task(task=second)
    steps = [r.task_result.args[0] for r in queued_tasks("submit_task")]
    assert sorted(steps) == sorted([str(third.pk), str(fourth.pk)])
    assert [t.status for t in submitted(third, fourth)] == [TaskStatus.QUEUED, TaskStatus.QUEUED]


def test_a_job_beyond_its_groups_free_slots_queues_the_submits_of_what_fits(sandbox, settings, django_capture_on_commit_callbacks):
    """The videos that could only be told to wait start waiting, without a submit step
    run for each; they are woken in the queue's order as slots free."""
    settings.PROVIDER_MAX_IN_FLIGHT = 2
    (running,) = submitted(make_task(prompt="fits running"))
    user = make_user()
    fund(user, 100)
    job = start_generation(user=user, model_key="kling-3-t2v", prompt="fits", duration=5, mode=JobMode.BATCH, count=3)
    tasks = list(job.tasks.order_by("variant_index"))
    assert [t.waiting for t in tasks] == [Waiting.NOT_WAITING, Waiting.SLOT, Waiting.SLOT]
    assert woken() == {str(tasks[0].pk)}
    assert ProviderGroup.objects.get(name="kling").has_waiting
    assert [t.status for t in submitted(tasks[0])] == [TaskStatus.QUEUED]
    with django_capture_on_commit_callbacks(execute=True):
        cancel_task(task=running)
    assert woken() - {str(tasks[0].pk)} == {str(tasks[1].pk)}
    assert [t.status for t in submitted(tasks[1])] == [TaskStatus.QUEUED]


def test_a_job_on_a_free_group_queues_every_submit(sandbox):
    (running,) = submitted(make_task(prompt="free group"))  # its group has a row, one slot taken
    user = make_user()
    fund(user, 100)
    job = start_generation(user=user, model_key="kling-3-t2v", prompt="free", duration=5, mode=JobMode.BATCH, count=2)
    assert {t.waiting for t in job.tasks.all()} == {Waiting.NOT_WAITING}
    assert woken() == {str(t.pk) for t in job.tasks.all()}


def test_a_woken_task_is_queued_for_its_turn_in_the_interval(sandbox, settings, django_capture_on_commit_callbacks):
    settings.PROVIDER_MAX_IN_FLIGHT = 1
    settings.PROVIDER_MIN_INTERVAL_SECONDS = 30
    running, waiting = submitted(make_task(prompt="turn running"), make_task(prompt="turn waiting"))
    assert (waiting.status, waiting.waiting) == (TaskStatus.PENDING, Waiting.SLOT)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_task(task=running)
    # Not at once (it would only be told to wait): when the interval since the last submit is over.
    steps = [r for r in queued_tasks("submit_task") if r.task_result.args[0] == str(waiting.pk)]
    due = ProviderGroup.objects.get(name="kling").last_submit_at + timedelta(seconds=30)
    assert due in [step.run_after for step in steps]
    assert str(waiting.pk) not in woken()
