"""GET /api/tasks/{id}/ and POST /api/tasks/{id}/retry/."""

import pytest

from credits.models import Wallet
from generation.models import Task, TaskStatus
from tests.api.conftest import error_of
from tests.factories import fund, make_task
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db


def test_a_task_shows_its_status_progress_and_error(api, user):
    task = make_task(user=user, status=TaskStatus.IN_PROGRESS, progress=40, last_log="Rendering frame 48/120")
    body = api.get(f"/api/tasks/{task.pk}/").json()
    assert (body["id"], body["job"], body["status"], body["progress"], body["last_log"]) == (
        str(task.pk), str(task.job_id), "in_progress", 40, "Rendering frame 48/120",
    )
    assert body["result"] is None and body["retried_from"] is None


def test_retrying_a_failed_task_makes_a_new_attempt_that_holds_a_credit(api, user):
    old = make_task(user=user, status=TaskStatus.FAILED, error_message="boom")
    response = api.post(f"/api/tasks/{old.pk}/retry/")
    assert response.status_code == 201
    body = response.json()
    assert body["retried_from"] == str(old.pk) and body["status"] == "pending" and body["job"] == str(old.job_id)
    assert len(queued_tasks("submit_task")) == 1
    assert Wallet.objects.get(user=user).reserved == 1


@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.COMPLETED])
def test_only_failed_or_cancelled_tasks_can_be_retried(api, user, status):
    task = make_task(user=user, status=status)
    response = api.post(f"/api/tasks/{task.pk}/retry/")
    assert response.status_code == 409 and error_of(response)["code"] == "not_retryable"
    assert Task.objects.count() == 1


def test_a_task_is_retried_once(api, user):
    old = make_task(user=user, status=TaskStatus.CANCELLED)
    assert api.post(f"/api/tasks/{old.pk}/retry/").status_code == 201
    assert api.post(f"/api/tasks/{old.pk}/retry/").status_code == 409


def test_a_retry_without_credits_is_402(api, user):
    task = make_task(user=user, status=TaskStatus.FAILED)
    fund(user, 0)
    response = api.post(f"/api/tasks/{task.pk}/retry/")
    assert response.status_code == 402 and error_of(response)["code"] == "insufficient_credits"
    assert Task.objects.count() == 1


def test_retries_are_throttled_with_job_creation(api, user, settings):
    settings.API_JOB_CREATE_RATE = "1/minute"
    first, second = (make_task(user=user, status=TaskStatus.FAILED) for _ in range(2))
    assert api.post(f"/api/tasks/{first.pk}/retry/").status_code == 201
    assert error_of(api.post(f"/api/tasks/{second.pk}/retry/"))["code"] == "throttled"


def test_another_users_task_is_404(api, other_user):
    task = make_task(user=other_user, status=TaskStatus.FAILED)
    assert error_of(api.get(f"/api/tasks/{task.pk}/"))["code"] == "not_found"
    assert api.post(f"/api/tasks/{task.pk}/retry/").status_code == 404
    assert Task.objects.count() == 1


def test_only_post_retries(api, user):
    task = make_task(user=user, status=TaskStatus.FAILED)
    response = api.get(f"/api/tasks/{task.pk}/retry/")
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"
