"""A person generates a video in the browser's place and finds it playing in their
history: web server, worker and sandbox are real processes talking real HTTP, and the
only way the video can arrive is fal's signed webhook (no reconciler runs here)."""

import io
import re
import time

import av
import pytest

from devtools.sandbox import run_sandbox
from tests.support import card_statuses, generate, login, press
from tests.stack import running_stack

pytestmark = pytest.mark.e2e


def test_generate_then_find_the_video_playing_in_the_history(sandbox_process, tmp_path):
    with running_stack(tmp_path, sandbox_process.url, workers=1) as stack:
        session = login(stack)
        started = time.monotonic()
        answer = generate(stack, session, "a paper lantern drifting over a night lake")
        assert answer.url.endswith("/history/") and "on its way" in answer.text
        assert 'data-status="pending"' in answer.text or 'data-status="submitting"' in answer.text or 'data-status="queued"' in answer.text

        statuses = []
        while time.monotonic() - started < 60:
            html = session.get(f"{stack.url}/history/").text
            status = re.search(r'data-status="([a-z_]+)"', html).group(1)
            if not statuses or statuses[-1] != status:
                statuses.append(status)
            if status in ("completed", "failed", "cancelled"):
                break
            assert 'hx-trigger="every' in html  # the page keeps watching while unfinished
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        assert statuses[-1] == "completed", f"went {statuses}\n{stack.log('worker1')}\n{stack.log('web')}"
        assert 'hx-trigger="every' not in html  # and stops when nothing is left to watch

        video_url = re.search(r'<video[^>]+src="([^"]+)"', html).group(1)
        poster_url = re.search(r'<video[^>]+poster="([^"]+)"', html).group(1)
        video = session.get(f"{stack.url}{video_url}")
        assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4"
        with av.open(io.BytesIO(video.content)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.name, stream.codec_context.width, stream.codec_context.height) == ("h264", 480, 270)
            assert 4.5 < container.duration / av.time_base < 5.5
        assert session.get(f"{stack.url}{poster_url}").content[:3] == b"\xff\xd8\xff"

        # It came by webhook: the sandbox delivered it once, and we said 200.
        request = [r for r in sandbox_process.requests() if "paper lantern" in r["arguments"].get("prompt", "")][0]
        assert [d["status"] for d in request["webhook_responses"]] == [200]
        print(f"\nend-to-end: completed in {elapsed:.1f} s, went {' -> '.join(statuses)}")


@pytest.fixture
def unhurried_sandbox():
    with run_sandbox(seconds=6.0) as process:  # long enough to press Cancel mid-render
        yield process


def test_cancel_while_rendering_stops_it_at_fal_and_the_late_webhook_changes_nothing(unhurried_sandbox, tmp_path):
    with running_stack(tmp_path, unhurried_sandbox.url, workers=1, reconciler=True, STATUS_POLL_SECONDS=1) as stack:
        session = login(stack)
        generate(stack, session, "a glacier calving into the sea, slowly")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "in_progress" not in card_statuses(stack, session).values():
            time.sleep(0.2)
        (item_id,) = card_statuses(stack, session)
        assert card_statuses(stack, session)[item_id] == "in_progress"

        answer = press(stack, session, f"/history/{item_id}/cancel/")
        assert "Cancelled" in answer.text and card_statuses(stack, session)[item_id] == "cancelled"

        # fal is asked to stop; the model stops and its ERROR webhook still arrives.
        deadline = time.monotonic() + 20
        request = {}
        while time.monotonic() < deadline:
            request = [r for r in unhurried_sandbox.requests() if "glacier" in r["arguments"].get("prompt", "")][0]
            if request["cancelled"] and request["webhook_responses"]:
                break
            time.sleep(0.2)
        assert request["cancelled"] is True
        assert [d["status"] for d in request["webhook_responses"]] == [200]  # recorded, answered 200
        time.sleep(1.5)  # a reconciler pass or two
        assert card_statuses(stack, session)[item_id] == "cancelled"
        detail = session.get(f"{stack.url}/history/{item_id}/").text
        assert "Cancelled" in detail
        # Staff see the delivery in the admin (the demo account is staff), judged a no-op.
        deliveries = session.get(f"{stack.url}/admin/generation/webhookdelivery/").text
        assert "Duplicate or late: no change" in deliveries
