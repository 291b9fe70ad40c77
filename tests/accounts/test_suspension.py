"""A suspended user starts nothing new (pages, API, retries); what runs finishes."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import AccountSuspended, reinstate_user, suspend_user
from api.services import token_for
from credits.models import LedgerEntry
from generation.models import Job, Task, TaskStatus
from generation.services import retry_task, start_generation
from generation.transitions import transition_task
from tests.factories import fund, make_task, make_user

pytestmark = pytest.mark.django_db

START = {"model_key": "kling-3-t2v", "prompt": "a fox", "duration": 5}


@pytest.fixture
def boss():
    return make_user("boss", is_staff=True)


@pytest.fixture
def suspended(boss):
    user = make_user("sam")
    fund(user, 20)
    assert suspend_user(user=user, by=boss, reason="chargeback under review")
    return user


def test_a_suspended_user_cannot_start_a_job_and_nothing_is_recorded(suspended):
    with pytest.raises(AccountSuspended) as refused:
        start_generation(user=suspended, **START)
    assert refused.value.code == "account_suspended" and "suspended" in refused.value.message
    assert not Job.objects.filter(user=suspended).exists()
    assert not LedgerEntry.objects.filter(wallet__user=suspended, task__isnull=False).exists()


def test_a_suspended_user_cannot_retry(suspended):
    failed = make_task(user=suspended, status=TaskStatus.FAILED)
    with pytest.raises(AccountSuspended):
        retry_task(task=failed)
    assert Task.objects.filter(job__user=suspended).count() == 1


def test_work_already_running_finishes_and_is_charged(boss):
    user = make_user("sam")
    fund(user, 20)
    job = start_generation(user=user, **START)
    task = job.tasks.get()
    suspend_user(user=user, by=boss, reason="abuse report")
    for status in (TaskStatus.SUBMITTING, TaskStatus.QUEUED, TaskStatus.DOWNLOADING, TaskStatus.COMPLETED):
        transition_task(task.pk, status)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED
    assert LedgerEntry.objects.filter(task=task, kind="charge").exists()


def test_suspending_twice_keeps_the_first_reason_and_reinstating_lets_them_start_again(suspended, boss):
    assert not suspend_user(user=suspended, by=boss, reason="again")
    assert suspended.account.suspension_reason == "chargeback under review"
    assert reinstate_user(user=suspended) and not reinstate_user(user=suspended)
    assert start_generation(user=suspended, **START).tasks.count() == 1


def test_the_generate_page_says_why_and_creates_nothing(client, suspended):
    client.force_login(suspended)
    data = {"prompt": "a fox", "model": "kling-3-t2v", "duration": "5", "aspect_ratios": "16:9"}
    response = client.post(reverse("generation:generate"), data)
    assert response.status_code == 200
    assert "Your account is suspended" in response.content.decode()
    assert not Job.objects.exists()


def test_the_api_answers_403_account_suspended(suspended):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=suspended)}")
    response = api.post("/api/jobs/", {"model": "kling-3-t2v", "prompt": "a fox", "duration": 5}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_suspended"
    failed = make_task(user=suspended, status=TaskStatus.FAILED)
    retried = api.post(f"/api/tasks/{failed.pk}/retry/")
    assert (retried.status_code, retried.json()["error"]["code"]) == (403, "account_suspended")


def test_the_gallery_retry_button_says_why(client, suspended):
    client.force_login(suspended)
    failed = make_task(user=suspended, status=TaskStatus.FAILED)
    response = client.post(reverse("history:retry", args=[failed.history_item.pk]), follow=True)
    assert "Your account is suspended" in response.content.decode()
    assert Task.objects.filter(job__user=suspended).count() == 1
