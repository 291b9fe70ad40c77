"""The provider calls themselves: every one bounded by our timeout, one HTTP request each."""

import socket
import threading
import time

import pytest

from generation import fal
from generation.fal import ProviderError
from generation.models import ErrorKind
from generation.submission import submit_task
from tests.factories import make_task

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
    from tests.generation.test_downloads import wait_until_done

    wait_until_done(sandbox, task.request_id)
    before = sandbox.request(task.request_id)["status_polls"]
    report = fal.fetch_result(endpoint=task.endpoint, request_id=task.request_id)
    assert report.failure is None and report.output["video"]["url"].endswith(".mp4")
    assert sandbox.request(task.request_id)["status_polls"] == before
