"""The submit step, and asking the provider to stop a request, through fal-client's
real SyncClient over HTTP to the sandbox."""

import pytest

from generation import fal
from generation.catalog import MODELS
from generation.models import ErrorKind, Task, TaskStatus, Waiting
from generation.reconcile import refresh_from_provider
from generation.services import cancel_task
from generation.submission import submit_task, webhook_url_for
from operations.models import BreakerState, ProviderGroup
from tests.factories import make_task
from tests.support import queued_tasks, run_queued_tasks, wait_until_rendered

pytestmark = pytest.mark.django_db


def test_submit_stores_the_request_id_and_queues_the_task(sandbox):
    task = make_task(prompt="a lighthouse in a storm")
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED
    assert (task.submit_attempts, task.lease_until, task.submitted_at is not None) == (1, None, True)
    seen = sandbox.request(task.request_id)
    assert seen["application"] == task.endpoint
    assert seen["arguments"]["prompt"] == "a lighthouse in a storm"


def test_the_webhook_url_names_the_task_and_its_token(sandbox):
    task = make_task()
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    url = sandbox.request(task.request_id)["webhook_url"]
    assert url == webhook_url_for(task)
    assert str(task.pk) in url and task.webhook_token in url


def test_a_second_run_of_the_same_step_does_not_submit_again(sandbox):
    task = make_task()
    submit_task(task_id=task.pk)
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    mine = [r for r in sandbox.requests() if r.get("webhook_url") and str(task.pk) in r["webhook_url"]]
    assert len(mine) == 1 and task.submit_attempts == 1


def test_a_server_error_is_retried_later_with_backoff(sandbox):
    task = make_task(prompt="storm #fault:submit_500")
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.PENDING, ErrorKind.PROVIDER)
    assert task.next_attempt_at is not None and "HTTP 500" in task.error_detail
    assert [r.run_after is not None for r in queued_tasks("submit_task")] == [True]


def test_a_rate_limit_then_success(sandbox):
    task = make_task(prompt="busy hour #fault:submit_429_once")
    submit_task(task_id=task.pk)
    assert Task.objects.get(pk=task.pk).error_kind == ErrorKind.RATE_LIMIT
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.submit_attempts, task.error_kind) == (TaskStatus.QUEUED, 2, "")


def test_retries_are_capped(sandbox, settings):
    settings.SUBMIT_MAX_ATTEMPTS = 2
    task = make_task(prompt="never #fault:submit_500")
    submit_task(task_id=task.pk)
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    assert "Gave up after 2 attempts" in task.error_message


def test_a_request_the_model_refuses_is_accepted_then_fails_with_the_models_reason(sandbox):
    # As on fal: the queue takes it, the model refuses it when it runs (no image here).
    spec = next(model for model in MODELS if model.requires_image)
    task = make_task(model_key=spec.key)
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED
    wait_until_rendered(sandbox, task.request_id)
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.FAILED, ErrorKind.VALIDATION)
    assert task.error_message == "The model refused these settings. Image: is required."


def test_a_locked_fal_account_holds_the_task_back_instead_of_failing_it(sandbox):
    task = make_task(prompt="no balance left #fault:account_locked", allow_fallback=False)
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    # An account refusal opens the group's breaker at once: the task waits for it.
    assert (task.status, task.waiting, task.error_kind) == (TaskStatus.PENDING, Waiting.BREAKER, ErrorKind.QUOTA)
    assert task.submit_attempts == 0 and task.next_attempt_at is not None
    assert "User is locked" in task.error_detail
    assert ProviderGroup.objects.get(name="kling").breaker == BreakerState.OPEN


def test_an_unreachable_provider_is_a_retryable_network_error(settings):
    settings.FAL_SANDBOX_URL = "http://127.0.0.1:9"
    fal._make_client.cache_clear()
    task = make_task()
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    # A refused connection never reached the provider: safe to submit again.
    assert (task.status, task.error_kind) == (TaskStatus.PENDING, ErrorKind.NETWORK)


def test_a_submit_that_was_already_queued_finds_the_task_cancelled(sandbox):
    task = make_task(prompt="changed my mind")
    cancel_task(task=task)
    submit_task(task_id=task.pk)  # the queued step runs after the cancel: it must not submit
    assert Task.objects.get(pk=task.pk).request_id == ""
    assert not [r for r in sandbox.requests() if str(task.pk) in (r.get("webhook_url") or "")]

def test_a_failing_provider_cancel_is_retried_then_given_up(sandbox, settings, caplog):
    settings.CANCEL_MAX_ATTEMPTS = 3
    task = make_task(prompt="stubborn #fault:cancel_fail #fault:no_webhook")
    submit_task(task_id=task.pk)
    cancel_task(task=Task.objects.get(pk=task.pk))
    ran = run_queued_tasks(include_delayed=True)
    assert ran == 3
    assert "failed for good" in caplog.text
    assert Task.objects.get(pk=task.pk).status == TaskStatus.CANCELLED


def test_the_sandbox_client_runs_fal_clients_own_queue_calls(sandbox):
    import fal_client

    client = fal._make_client("", sandbox.url, 5.0)
    # Only the transport differs: every queue call is fal-client's own code...
    for name in ("submit", "status", "result", "cancel"):
        assert getattr(type(client), name) is getattr(fal_client.SyncClient, name), name
    # ...whose requests, addressed to fal's queue host, arrive at the sandbox.
    endpoint = next(model.endpoint for model in MODELS if not model.takes_image)
    handle = client.submit(endpoint, arguments={"prompt": "a quiet harbour"})
    seen = sandbox.request(handle.request_id)
    assert (seen["application"], seen["arguments"]["prompt"]) == (endpoint, "a quiet harbour")
