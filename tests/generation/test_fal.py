"""The provider calls themselves: every one bounded by our timeout, one HTTP request each."""

import io
import socket
import threading
import time

import httpx
import pytest
from django.core.files.base import ContentFile
from PIL import Image

from generation import fal
from generation.catalog import MODELS
from generation.fal import ProviderError
from generation.models import ErrorKind, Task
from generation.submission import submit_task
from tests.factories import make_task
from tests.support import wait_until_rendered

pytestmark = pytest.mark.django_db

ENDPOINT = "fal-ai/kling-video/v2.1/standard/image-to-video"
REQUEST_ID = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def silent_provider(settings):
    """A server that accepts connections, reads, and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    settings.FAL_KEY = ""
    settings.FAL_SANDBOX_URL = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.FAL_CLIENT_TIMEOUT = 0.5
    fal._make_client.cache_clear()
    yield
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda: fal.fetch_status(endpoint=ENDPOINT, request_id=REQUEST_ID),
        lambda: fal.fetch_result(endpoint=ENDPOINT, request_id=REQUEST_ID),
        lambda: fal.cancel(endpoint=ENDPOINT, request_id=REQUEST_ID),
        lambda: fal.submit(endpoint=ENDPOINT, arguments={"prompt": "x"}, webhook_url="http://127.0.0.1:9/"),
    ],
    ids=["status", "result", "cancel", "submit"],
)
def test_every_call_gives_up_after_our_timeout(silent_provider, call):
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        call()
    elapsed = time.monotonic() - started
    assert caught.value.kind == ErrorKind.NETWORK
    # fal-client's own status/result/cancel wait 120 s; ours is 0.5 s. A generous bound.
    assert elapsed < 10, f"took {elapsed:.1f}s"


def test_a_submit_that_times_out_after_sending_may_have_arrived(silent_provider):
    task = make_task()
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    # Not resubmitted at once: its webhook or the reconciler decides.
    assert (task.status, task.error_kind) == ("submitting", ErrorKind.NETWORK)


def test_fetching_a_result_makes_no_status_call(sandbox):
    task = make_task(prompt="one request for the result")
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    wait_until_rendered(sandbox, task.request_id)
    before = sandbox.request(task.request_id)["status_polls"]
    report = fal.fetch_result(endpoint=task.endpoint, request_id=task.request_id)
    assert report.failure is None and report.output["video"]["url"].endswith(".mp4")
    assert sandbox.request(task.request_id)["status_polls"] == before


# --- input files go to fal's storage, by fal-client's own upload -------------------


def _png(size=(320, 320)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_upload_takes_fal_clients_cdn_path_to_the_sandbox(sandbox):
    data = _png()
    before = sandbox.stats()["uploads"]
    url = fal.upload_input(data=data, content_type="image/png", file_name="cat.png")
    assert url.startswith(f"{sandbox.url}/files/") and url.endswith("/cat.png")
    served = httpx.get(url)
    assert (served.status_code, served.headers["content-type"], served.content) == (200, "image/png", data)
    assert sandbox.stats()["uploads"] == before + 1


def test_fal_clients_storage_fallback_path_works_against_the_sandbox_too(sandbox):
    data = _png()
    url = fal.get_client().upload(data, "image/png", file_name="dog.png", repository="fal", fallback_repository=[])
    assert url.endswith("/dog.png") and httpx.get(url).content == data


def test_an_input_image_is_sent_by_url_uploaded_once_per_job(sandbox):
    spec = next(model for model in MODELS if model.requires_image)
    first = make_task(model_key=spec.key, prompt="a cat waking up")
    job = first.job
    job.input_image.save("cat.png", ContentFile(_png()))
    second = Task.objects.create(job=job, endpoint=first.endpoint, arguments=first.arguments, variant_index=1)
    before = sandbox.stats()["uploads"]
    for task in (first, second):
        submit_task(task_id=task.pk)
        task.refresh_from_db()
        assert task.status == "queued", task.error_detail
    sent = [sandbox.request(task.request_id)["arguments"]["image_url"] for task in (first, second)]
    assert sent[0] == sent[1] and sent[0].startswith(f"{sandbox.url}/files/")  # a URL, not a data: URI
    assert sandbox.stats()["uploads"] == before + 1
    # The sandbox animates that very image.
    wait_until_rendered(sandbox, first.request_id)
    logs = [entry["message"] for entry in httpx.get(
        f"{sandbox.url}/{'/'.join(first.endpoint.split('/')[:2])}/requests/{first.request_id}/status?logs=1",
        headers={"Authorization": "Key test"},
    ).json()["logs"]]
    assert any("input image 320x320" in line for line in logs), logs


def test_a_failed_upload_is_retried_like_a_submit_that_never_left(settings):
    settings.FAL_SANDBOX_URL = "http://127.0.0.1:9"  # nothing listens
    fal._make_client.cache_clear()
    spec = next(model for model in MODELS if model.requires_image)
    task = make_task(model_key=spec.key)
    task.job.input_image.save("cat.png", ContentFile(_png()))
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_kind, task.request_id) == ("pending", ErrorKind.NETWORK, "")
