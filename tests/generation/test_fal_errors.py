"""Reading fal's error bodies, as fal's documentation shows them, into a kind and a
reason a person can read."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from devtools.signing import sign
from generation import fal
from generation.fal_errors import (
    model_failure_message,
    read_answer,
    read_webhook_error,
    reason_from_detail,
)
from generation.models import ErrorKind, TaskStatus, WebhookDelivery, WebhookOutcome
from generation.reconcile import refresh_from_provider
from tests.factories import make_task
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db

# fal's errors page: a model (input) error, HTTP 422.
ASPECT_RATIO_422 = {
    "detail": [
        {
            "loc": ["body", "aspect_ratio"],
            "msg": "Input should be '16:9' or '9:16'",
            "type": "literal_error",
            "url": "https://docs.fal.ai/errors/#literal_error",
            "ctx": {"expected": "'16:9' or '9:16'"},
            "input": "1:1",
        }
    ]
}


def test_a_literal_error_reads_field_by_field():
    failure = read_answer(status_code=422, body=ASPECT_RATIO_422)
    assert failure.kind == ErrorKind.VALIDATION
    assert failure.reason == "Aspect ratio: must be one of 16:9, 9:16"
    assert model_failure_message(failure) == "The model refused these settings. Aspect ratio: must be one of 16:9, 9:16."


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}, "Prompt: is required"),
        ({"loc": ["body", "image_url"], "msg": "Field required", "type": "missing"}, "Image: is required"),
        ({"loc": ["body", "duration"], "msg": "x", "type": "one_of", "ctx": {"expected": ["5", "10"]}}, "Duration: must be one of 5, 10"),
        ({"loc": ["body", "cfg_scale"], "msg": "x", "type": "less_than_equal", "ctx": {"le": 1}}, "Cfg scale: must be at most 1"),
        ({"loc": ["body", "seed"], "msg": "x", "type": "greater_than_equal", "ctx": {"ge": 0}}, "Seed: must be at least 0"),
        (
            {"loc": ["body", "image_url"], "msg": "Image too small", "type": "image_too_small", "ctx": {"min_width": 300, "min_height": 300}},
            "Image: the image is too small (at least 300×300 pixels)",
        ),
        (
            {"loc": ["body", "image_url"], "msg": "File too large", "type": "file_too_large", "ctx": {"max_size": 10485760}},
            "Image: the file is too large (at most 10 MB)",
        ),
        ({"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"}, "Prompt: was refused by the model's content checker"),
        ({"loc": ["body"], "msg": "Something odd about the request", "type": "feature_not_supported"}, "Something odd about the request"),
    ],
)
def test_each_documented_type_has_a_readable_reason(entry, reason):
    assert reason_from_detail([entry]) == reason


def test_several_fields_are_all_named():
    detail = [
        {"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"},
        {"loc": ["body", "aspect_ratio"], "msg": "x", "type": "literal_error", "ctx": {"expected": "'16:9' or '9:16'"}},
    ]
    assert reason_from_detail(detail) == "Prompt: is required; Aspect ratio: must be one of 16:9, 9:16"


@pytest.mark.parametrize(
    ("body", "header", "kind"),
    [
        ({"detail": "Request timed out", "error_type": "request_timeout"}, None, ErrorKind.TIMEOUT),
        ({"detail": "Request timed out"}, "startup_timeout", ErrorKind.TIMEOUT),
        ({"detail": "No runner"}, "runner_scheduling_failure", ErrorKind.PROVIDER),
        ({"detail": [{"loc": ["body"], "msg": "boom", "type": "internal_server_error"}]}, None, ErrorKind.PROVIDER),
        ({"detail": [{"loc": ["body"], "msg": "slow", "type": "generation_timeout"}]}, None, ErrorKind.TIMEOUT),
    ],
)
def test_fals_error_type_chooses_the_kind_over_the_status_code(body, header, kind):
    # 422 alone would say validation; fal's own category wins.
    assert read_answer(status_code=422, body=body, header_error_type=header).kind == kind


def test_the_documented_validation_webhook_is_read_from_its_payload():
    failure = read_webhook_error(
        error="Invalid status code: 422",
        payload={"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}]},
    )
    assert (failure.kind, failure.reason) == (ErrorKind.VALIDATION, "Prompt: is required")
    assert "Invalid status code" not in model_failure_message(failure)


def test_a_webhook_with_only_a_status_code_never_shows_it():
    # As fal sent it for a request whose path the app did not have (payload not JSON).
    failure = read_webhook_error(
        error="Invalid status code: 404", payload=None,
        payload_error="Response payload is not JSON serializable. Either return a JSON serializable object or use the queue endpoint to retrieve the response.",
    )
    assert failure.kind == ErrorKind.VALIDATION
    assert model_failure_message(failure) == "The model refused these settings. The video service does not know this model."


def test_a_plain_error_message_is_the_reason():
    failure = read_webhook_error(error="Prompt flagged by the safety checker", payload={"detail": []})
    assert (failure.kind, model_failure_message(failure)) == (
        ErrorKind.PROVIDER, "The model could not make this video: Prompt flagged by the safety checker.",
    )


def test_a_type_fal_does_not_document_falls_back_to_the_status_code():
    detail = {"detail": [{"loc": ["body"], "msg": "The model crashed", "type": "some_new_type"}]}
    assert read_answer(status_code=500, body=detail).kind == ErrorKind.PROVIDER
    assert read_answer(status_code=422, body=detail).kind == ErrorKind.VALIDATION
    assert read_webhook_error(error="The model crashed", payload=detail).kind == ErrorKind.PROVIDER

# Failures as fal reports them, through the webhook endpoint (bodies shaped as fal's
# webhook page documents them, signed the way fal signs) and through polling (fal's
# queue API over real HTTP). The user reads the model's reason, never fal's status line.

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
