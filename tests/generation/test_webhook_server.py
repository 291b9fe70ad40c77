"""The webhook endpoint behind the real web server (gunicorn, as `make run` and
production run it): bodies sent chunked, with no Content-Length, as HTTP/1.1 allows;
and the access log, which must not carry the webhook's secret token. PostgreSQL only:
gunicorn shares the test database with this process."""

import json

import pytest
import requests
from django.db import connection

from generation.models import Task, TaskStatus, WebhookDelivery, WebhookOutcome
from tests.factories import make_task
from devtools.signing import sign
from devtools.localstack import LocalStack

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

VIDEO = {"video": {"url": "https://v3.fal.media/files/x/video.mp4", "content_type": "video/mp4"}}


@pytest.fixture
def web(tmp_path, jwks_server):
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("gunicorn shares the test database only on PostgreSQL")
    auth = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    stack = LocalStack(tmp_path, url, "http://127.0.0.1:9", FAL_JWKS_URL=jwks_server.url)
    try:
        stack.start_web(access_log=True)
        yield stack
    finally:
        stack.stop()


def chunks(body: bytes, size: int = 1000):
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_chunked_delivery_is_read_whole_and_applied(web, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO, "pad": "x" * 20000}).encode()
    answer = requests.post(
        f"{web.url}/webhooks/fal/?task={task.pk}&token={task.webhook_token}",
        data=chunks(body),  # a generator: requests sends it chunked
        headers={"Content-Type": "application/json", **sign(fal_key, body, request_id="req-1")},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DOWNLOADING
    delivery = WebhookDelivery.objects.get()
    assert delivery.headers.get("Transfer-Encoding") == "chunked" and delivery.body_size == len(body)


def test_a_chunked_body_past_the_cap_is_cut_at_the_cap(web, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    endless = (b"x" * 65536 for _ in range(40))  # 2.5 MB, past the 1 MB cap
    answer = requests.post(
        f"{web.url}/webhooks/fal/?task={task.pk}&token={task.webhook_token}",
        data=endless, headers={"Content-Type": "application/json"}, timeout=30,
    )
    assert answer.status_code == 413
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookOutcome.TOO_LARGE and delivery.body_size <= 1024 * 1024 + 1


def test_the_access_log_never_shows_the_webhook_token(web, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO}).encode()
    answer = requests.post(
        f"{web.url}/webhooks/fal/?task={task.pk}&token={task.webhook_token}",
        data=body, headers={"Content-Type": "application/json", **sign(fal_key, body, request_id="req-1")}, timeout=30,
    )
    assert answer.status_code == 200
    web.stop()  # flush the log
    log = web.log("web")
    assert "POST /webhooks/fal/ HTTP/1.1" in log  # the request was logged...
    assert task.webhook_token not in log  # ...without its token
