import itertools

import pytest

from generation.models import Task
from generation.transitions import (
    ALLOWED_TRANSITIONS,
    FINISHED,
    TaskStatus,
    TransitionRefused,
    new_attempt,
    transition_task,
    try_transition_task,
    update_progress,
)
from tests.factories import make_task

pytestmark = pytest.mark.django_db

ALL_PAIRS = list(itertools.product(TaskStatus.values, TaskStatus.values))
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in ALLOWED_TRANSITIONS[a]]
REFUSED = [(a, b) for a, b in ALL_PAIRS if b not in ALLOWED_TRANSITIONS[a]]


def test_the_happy_path_is_allowed_step_by_step():
    path = ["pending", "submitting", "queued", "in_progress", "downloading", "completed"]
    assert all(b in ALLOWED_TRANSITIONS[a] for a, b in itertools.pairwise(path))


def test_finished_states_go_nowhere():
    assert all(not ALLOWED_TRANSITIONS[status] for status in FINISHED)


@pytest.mark.parametrize(("start", "to"), ALLOWED)
def test_allowed_move_is_saved(start, to):
    task = make_task(status=start)
    moved = transition_task(task.pk, to, last_log="moved")
    task.refresh_from_db()
    assert (task.status, task.last_log, moved.status) == (to, "moved", to)
    assert (task.finished_at is not None) == (to in FINISHED)


@pytest.mark.parametrize(("start", "to"), REFUSED)
def test_refused_move_changes_nothing(start, to):
    task = make_task(status=start)
    with pytest.raises(TransitionRefused) as refused:
        transition_task(task.pk, to, last_log="should not be saved")
    task.refresh_from_db()
    assert (task.status, task.last_log) == (start, "")
    assert (refused.value.current, refused.value.to) == (start, to)


def test_only_from_narrows_the_allowed_origins():
    task = make_task(status=TaskStatus.QUEUED)
    with pytest.raises(TransitionRefused):
        transition_task(task.pk, TaskStatus.DOWNLOADING, only_from=[TaskStatus.IN_PROGRESS])
    assert Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED


def test_callable_changes_see_the_locked_row():
    task = make_task(status=TaskStatus.PENDING, submit_attempts=2)
    transition_task(task.pk, TaskStatus.SUBMITTING, submit_attempts=lambda t: t.submit_attempts + 1)
    assert Task.objects.get(pk=task.pk).submit_attempts == 3


def test_progress_is_kept_only_while_the_task_is_at_the_provider():
    task = make_task(status=TaskStatus.IN_PROGRESS)
    assert update_progress(task.pk, progress=150, last_log="Rendering frame 10/20 (50%)")
    task.refresh_from_db()
    assert (task.progress, task.last_log) == (99, "Rendering frame 10/20 (50%)")

    done = make_task(status=TaskStatus.COMPLETED)
    assert not update_progress(done.pk, progress=10, last_log="late news")
    done.refresh_from_db()
    assert done.last_log == ""


def test_completing_sets_full_progress_and_clears_the_lease():
    from django.utils import timezone

    task = make_task(status=TaskStatus.DOWNLOADING, lease_until=timezone.now(), progress=40)
    transition_task(task.pk, TaskStatus.COMPLETED)
    task.refresh_from_db()
    assert (task.progress, task.lease_until) == (100, None)


def test_a_misspelt_field_is_refused_loudly_and_nothing_moves():
    task = make_task(status=TaskStatus.QUEUED)
    with pytest.raises(TypeError, match="error_mesage"):
        transition_task(task.pk, TaskStatus.FAILED, error_mesage="typo")
    assert Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED


def test_the_status_and_the_row_identity_are_not_changes():
    task = make_task(status=TaskStatus.QUEUED)
    with pytest.raises(TypeError, match="status"):
        transition_task(task.pk, TaskStatus.IN_PROGRESS, status=TaskStatus.COMPLETED)
    with pytest.raises(TypeError, match="job"):
        transition_task(task.pk, TaskStatus.IN_PROGRESS, job=None)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED


def test_try_transition_answers_yes_or_no():
    task = make_task(status=TaskStatus.QUEUED)
    assert try_transition_task(task.pk, TaskStatus.IN_PROGRESS, last_log="moved") is True
    assert try_transition_task(task.pk, TaskStatus.QUEUED) is False
    task.refresh_from_db()
    assert (task.status, task.last_log) == (TaskStatus.IN_PROGRESS, "moved")


def test_try_transition_still_refuses_unknown_fields():
    task = make_task(status=TaskStatus.QUEUED)
    with pytest.raises(TypeError):
        try_transition_task(task.pk, TaskStatus.FAILED, error_mesage="typo")


@pytest.mark.parametrize("status", sorted(set(TaskStatus.values) - {TaskStatus.FAILED, TaskStatus.CANCELLED}))
def test_only_a_failed_or_cancelled_task_gets_a_new_attempt(status):
    task = make_task(status=status)
    with pytest.raises(TransitionRefused):
        new_attempt(task.pk)
    assert not Task.objects.filter(retried_from=task).exists()


def test_a_new_attempt_starts_pending_with_the_same_request_and_keeps_the_old_one():
    old = make_task(status=TaskStatus.FAILED, error_kind="provider", request_id="req-1", seed=7, style="anime")
    new = new_attempt(old.pk)
    assert (new.status, new.retried_from_id, new.job_id) == (TaskStatus.PENDING, old.pk, old.job_id)
    assert (new.arguments, new.seed, new.style, new.request_id) == (old.arguments, 7, "anime", "")
    assert Task.objects.get(pk=old.pk).status == TaskStatus.FAILED
    with pytest.raises(TransitionRefused):
        new_attempt(old.pk)  # once only


def test_a_failed_download_is_retried_by_fetching_the_same_result_once():
    old = make_task(status=TaskStatus.FAILED, error_kind="download", request_id="req-1", result_url="https://v3.fal.media/x.mp4")
    again = new_attempt(old.pk)
    assert (again.status, again.result_url, again.request_id) == (TaskStatus.DOWNLOADING, old.result_url, "req-1")
    Task.objects.filter(pk=again.pk).update(status=TaskStatus.FAILED, error_kind="download")
    third = new_attempt(again.pk)
    assert (third.status, third.result_url) == (TaskStatus.PENDING, "")
