"""A person generates a video in the browser's place and finds it playing in their
history: web server, worker and sandbox are real processes talking real HTTP, and the
only way the video can arrive is fal's signed webhook (no reconciler runs here)."""

import io
import re
import time

import av
import pytest

from tests.browser import generate, login
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
