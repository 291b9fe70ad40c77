"""Failures as fal reports them, through the webhook endpoint (bodies shaped as fal's
webhook page documents them, signed the way fal signs) and through polling (fal's
queue API over real HTTP). The user reads the model's reason, never fal's status line."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from generation import fal
from generation.models import ErrorKind, TaskStatus, WebhookDelivery, WebhookOutcome
from generation.reconcile import refresh_from_provider
from tests.factories import make_task
from devtools.signing import sign
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db

QUEUE_ID = "123e4567-e89b-12d3-a456-426614174000"
GATEWAY_ID = "9a6f1d2e-0b7c-4c1e-8f3a-5d2b7e9c4a11"
VIDEO = {"video": {"url": "https://v3.fal.media/files/x/video.mp4", "content_type": "video/mp4", "file_name": "video.mp4", "file_size": 1824075}}


def post(client, task, key, body: dict, *, signed_id: str):
    raw = json.dumps(body).encode()
    url = reverse("generation:fal-webhook") + f"?task={task.pk}&token={task.webhook_token}"
    return client.post(url, data=raw, content_type="application/json", headers=sign(key, raw, request_id=signed_id))


def test_the_documented_validation_failure_shows_the_models_reason(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id=QUEUE_ID)
    body = {
        "request_id": QUEUE_ID,
        "gateway_request_id": QUEUE_ID,
        "status": "ERROR",
        "error": "Invalid status code: 422",
        "payload": {"detail": [
            {"loc": ["body", "aspect_ratio"], "msg": "Input should be '16:9' or '9:16'", "type": "literal_error",
             "ctx": {"expected": "'16:9' or '9:16'"}},
        ]},
    }
    assert post(client, task, fal_key, body, signed_id=QUEUE_ID).status_code == 200
    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.FAILED, ErrorKind.VALIDATION)
    assert task.error_message == "The model refused these settings. Aspect ratio: must be one of 16:9, 9:16."
    assert "Invalid status code: 422" in task.error_detail  # staff still see what fal said


def test_a_request_error_in_the_payload_chooses_the_kind(client, fal_key):
    task = make_task(status=TaskStatus.IN_PROGRESS, request_id=QUEUE_ID)
    body = {"request_id": QUEUE_ID, "gateway_request_id": QUEUE_ID, "status": "ERROR", "error": "Invalid status code: 504",
            "payload": {"detail": "Request timed out", "error_type": "startup_timeout"}}
    post(client, task, fal_key, body, signed_id=QUEUE_ID)
    task.refresh_from_db()
    assert (task.status, task.error_kind, task.error_message) == (
        TaskStatus.FAILED, ErrorKind.TIMEOUT, "The model could not make this video: Request timed out.",
    )


def test_a_webhook_signed_with_the_gateway_request_id_is_accepted(client, fal_key):
    # After an internal retry fal signs with the last attempt's id; request_id stays the queue key.
    task = make_task(status=TaskStatus.QUEUED, request_id=QUEUE_ID)
    body = {"request_id": QUEUE_ID, "gateway_request_id": GATEWAY_ID, "status": "OK", "payload": VIDEO}
    response = post(client, task, fal_key, body, signed_id=GATEWAY_ID)
    assert response.status_code == 200
    task.refresh_from_db()
    assert (task.status, task.request_id, task.result_url) == (TaskStatus.DOWNLOADING, QUEUE_ID, VIDEO["video"]["url"])
    assert WebhookDelivery.objects.get().outcome == WebhookOutcome.APPLIED
    assert len(queued_tasks("download_result")) == 1


def test_a_signed_id_that_is_neither_of_the_bodys_ids_is_still_refused(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id=QUEUE_ID)
    body = {"request_id": QUEUE_ID, "gateway_request_id": GATEWAY_ID, "status": "OK", "payload": VIDEO}
    assert post(client, task, fal_key, body, signed_id="someone-else").status_code == 400
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED


# --- polling: fal's queue answers, over real HTTP -----------------------------------


class FakeQueue:
    """fal's queue for one request, answering status and result with fixed bodies:
    the network edge, as fal's pages document it. Counts every request it gets."""

    def __init__(self, *, status_body, result_code, result_body, result_headers=None):
        self.hits: list[str] = []
        queue = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                queue.hits.append(self.path)
                if self.path.split("?")[0].endswith("/status"):
                    code = 200 if status_body["status"] == "COMPLETED" else 202
                    return self._answer(code, status_body, {})
                return self._answer(result_code, result_body, result_headers or {})

            def _answer(self, code, body, headers):
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("x-fal-request-id", QUEUE_ID)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_queue(settings):
    made = []

    def start(**answers):
        queue = FakeQueue(**answers)
        made.append(queue)
        settings.FAL_KEY = ""
        settings.FAL_SANDBOX_URL = queue.url
        fal._make_client.cache_clear()
        return queue

    yield start
    for queue in made:
        queue.close()


COMPLETED = {"status": "COMPLETED", "request_id": QUEUE_ID, "logs": None, "queue_position": None,
             "metrics": {"inference_time": 1.2}}


def test_completed_then_a_422_on_the_result_is_a_model_failure_with_its_reason(fake_queue):
    queue = fake_queue(status_body=COMPLETED, result_code=422, result_body={"detail": [
        {"loc": ["body", "duration"], "msg": "Input should be '5' or '10'", "type": "literal_error", "ctx": {"expected": "'5' or '10'"}},
    ]})
    task = make_task(status=TaskStatus.QUEUED, request_id=QUEUE_ID)
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.FAILED, ErrorKind.VALIDATION)
    assert task.error_message == "The model refused these settings. Duration: must be one of 5, 10."
    # One status call, then the result with one request (fal-client's result() would poll first).
    assert [path.split("?")[0].rsplit("/", 1)[-1] for path in queue.hits] == ["status", QUEUE_ID]


def test_the_error_type_header_chooses_the_kind_of_a_failed_result(fake_queue):
    fake_queue(status_body=COMPLETED, result_code=503, result_body={"detail": "Runner disconnected"},
               result_headers={"X-Fal-Error-Type": "runner_disconnected"})
    task = make_task(status=TaskStatus.IN_PROGRESS, request_id=QUEUE_ID)
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_kind, task.error_message) == (
        TaskStatus.FAILED, ErrorKind.PROVIDER, "The model could not make this video: Runner disconnected.",
    )


def test_a_result_fal_no_longer_has_is_lost(fake_queue):
    fake_queue(status_body=COMPLETED, result_code=404, result_body={"detail": "Request not found"})
    task = make_task(status=TaskStatus.QUEUED, request_id=QUEUE_ID)
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_message) == (TaskStatus.FAILED, "The provider lost this request.")


def test_a_rate_limited_result_call_changes_nothing_and_is_asked_again_later(fake_queue):
    fake_queue(status_body=COMPLETED, result_code=429, result_body={"detail": "Too many requests"})
    task = make_task(status=TaskStatus.QUEUED, request_id=QUEUE_ID)
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED


def test_a_queued_answer_with_202_records_the_position(fake_queue):
    fake_queue(status_body={"status": "IN_QUEUE", "request_id": QUEUE_ID, "queue_position": 3, "logs": None},
               result_code=400, result_body={"detail": "Request is still in progress"})
    task = make_task(status=TaskStatus.QUEUED, request_id=QUEUE_ID)
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.queue_position) == (TaskStatus.QUEUED, 3)
