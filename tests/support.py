"""Helpers shared by the tests (fixtures live in conftest.py, test data in
factories.py): running queued background steps the way a worker would, waiting for a
condition with a deadline, signed fal webhook deliveries, and a person's HTTP session
against a running stack (log in, generate, read the gallery, press a card's button)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlencode

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from devtools.signing import sign
from generation.models import Task
from generation.reconcile import refresh_from_provider
from generation.submission import submit_task
from tests.factories import make_task

T = TypeVar("T")


def queued_tasks(name: str | None = None) -> list[DBTaskResult]:
    """Steps waiting to run (including ones scheduled for later)."""
    results = DBTaskResult.objects.filter(status="READY").order_by("enqueued_at")
    return [r for r in results if name is None or r.task_path.endswith(f".{name}")]


def run_queued_tasks(*, include_delayed: bool = False, limit: int = 50) -> int:
    """Run ready steps in this process until none is left; returns how many ran.
    Delayed ones (retries with backoff) run too when include_delayed is set. A step
    that raises is recorded failed and the exception propagates, as a bug should."""
    ran = 0
    while ran < limit:
        ready = DBTaskResult.objects.filter(status="READY")
        if not include_delayed:
            ready = ready.ready()
        result = ready.order_by("enqueued_at").first()
        if result is None:
            return ran
        if include_delayed:
            DBTaskResult.objects.filter(pk=result.pk).update(run_after=timezone.now())
            result.refresh_from_db()
        result.claim("test")
        try:
            result.task.call(*result.task_result.args, **result.task_result.kwargs)
        except BaseException as exc:
            result.set_failed(exc)
            raise
        result.set_successful(None)
        ran += 1
    raise AssertionError(f"more than {limit} background steps: a loop?")


def run_admin_action(client, changelist_url: str, action: str, objects, **form):
    """Press an audited admin action the way staff do: select, choose the action
    (which asks why), then confirm with the form's fields. Returns the final page."""
    selected = [str(obj.pk) for obj in objects]
    asked = client.post(changelist_url, {"action": action, "_selected_action": selected})
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode(), "the action should ask why"
    data = {"action": action, "_selected_action": selected, "apply": "yes", **form}
    return client.post(changelist_url, data, follow=True)


def wait_for(condition: Callable[[], T], what: str, *, timeout: float = 45.0, every: float = 0.1) -> T:
    """Poll `condition` until it returns something true, and return that; fail naming
    `what` once `timeout` seconds have passed. A deadline, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def wait_until_rendered(sandbox, request_id: str, *, timeout: float = 60) -> None:
    """Wait until the sandbox has finished (or failed) rendering a request."""
    wait_for(
        lambda: sandbox.request(request_id)["status"] in ("COMPLETED", "ERROR", "completed", "failed"),
        f"sandbox request {request_id} to finish",
        timeout=timeout,
    )


def finished_at_sandbox(sandbox, prompt="a paper boat on a river") -> Task:
    """A task whose video the sandbox has rendered, moved to DOWNLOADING by a status
    poll (the webhook goes nowhere in unit tests)."""
    task = make_task(prompt=prompt)
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    wait_until_rendered(sandbox, task.request_id)
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    return task


# A result as fal delivers it for a text-to-video request.
VIDEO_RESULT = {"video": {"url": "https://v3.fal.media/files/x/video.mp4", "content_type": "video/mp4"}}


def deliver_webhook(
    client,
    task,
    key: Ed25519PrivateKey | None,
    *,
    status: str = "OK",
    payload=VIDEO_RESULT,
    error: str | None = None,
    request_id: str | None = None,
    body: bytes | None = None,
    headers: dict | None = None,
    token: str | None = None,
    task_id: str | None = None,
):
    """POST a delivery to our fal webhook through Django's test client, signed with
    `key` the way fal signs (freshly each time, as fal's own redeliveries are); no
    signature when `key` is None. `body`, `headers`, `token` and `task_id` replace
    the genuine ones for tests of forged or broken deliveries."""
    request_id = request_id if request_id is not None else (task.request_id or "req-1")
    if body is None:
        body = json.dumps({"request_id": request_id, "status": status, "payload": payload, "error": error}).encode()
    signed = sign(key, body, request_id=request_id) if key else {}
    signed.update(headers or {})
    query = urlencode({"task": str(task_id or task.pk), "token": token if token is not None else task.webhook_token})
    return client.post(
        f"{reverse('generation:fal-webhook')}?{query}", data=body, content_type="application/json", headers=signed
    )


# A person at the keyboard, as far as HTTP goes.


def csrf_token(page: requests.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def login(stack) -> requests.Session:
    session = requests.Session()
    token = csrf_token(session.get(f"{stack.url}/accounts/login/"))
    answer = session.post(
        f"{stack.url}/accounts/login/",
        data={"login": "demo", "password": "demo", "csrfmiddlewaretoken": token, "next": "/history/"},
        headers={"Referer": f"{stack.url}/accounts/login/"},
    )
    assert answer.url.endswith("/history/"), "demo login failed"
    return session


def browser_log_in(browser, base_url: str, username: str = "demo", password: str = "demo") -> None:
    """Log in through the page as a person would, and wait until the next page has
    loaded: a click returns before the browser has navigated, so a page opened at once
    could still be asked for without the session cookie."""
    browser.get(f"{base_url}/accounts/login/")
    browser.find_element(By.NAME, "login").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 30).until(lambda b: "/accounts/login/" not in b.current_url, "the login page did not let us in")


def generate(stack, session, prompt: str) -> requests.Response:
    token = csrf_token(session.get(f"{stack.url}/generate/"))
    return session.post(
        f"{stack.url}/generate/",
        data={"prompt": prompt, "model": "kling-3-t2v", "duration": "5", "aspect_ratios": "16:9", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{stack.url}/generate/"},
    )


def card_statuses(stack, session) -> dict[str, str]:
    """Gallery card id -> status, as the page shows them."""
    html = session.get(f"{stack.url}/history/").text
    return dict(re.findall(r'id="card-([0-9a-f-]+)"[^>]*data-status="([a-z_]+)"', html))


def press(stack, session, action: str) -> requests.Response:
    """Press a card's button (a POST form such as /history/<id>/cancel/) as the gallery does."""
    token = csrf_token(session.get(f"{stack.url}/history/"))
    return session.post(
        f"{stack.url}{action}", data={"csrfmiddlewaretoken": token}, headers={"Referer": f"{stack.url}/history/"}
    )
