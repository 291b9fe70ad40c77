"""The fallback model through the running product: a person generates with Kling 2.1
from the page (the fallback box ticked as the page shows it), Kling's group fails its
submit and its breaker opens, and a real worker has the video made with Veo 3.1 at the
sandbox over real HTTP; the card says so, the API names the model, the user paid Veo's
cheaper price, and the staff dashboard has the figures of both models."""

import json
import re
import time

import pytest

from tests.support import csrf_token, login
from tests.stack import running_stack

pytestmark = pytest.mark.e2e

LEDGER = """
import json
from credits.models import LedgerEntry, Wallet
demo = Wallet.objects.get(user__username="demo")
print(json.dumps({"reserved": demo.reserved, "entries": sorted([e.kind, e.credits] for e in demo.entries.exclude(kind="grant"))}))
"""
STAFF = """
from django.contrib.auth import get_user_model
get_user_model().objects.create_superuser("boss", "boss@example.com", "boss-pw")
"""


def test_an_unavailable_model_is_replaced_by_its_fallback_end_to_end(sandbox_process, tmp_path):
    with running_stack(
        tmp_path, sandbox_process.url, workers=1, reconciler=True,
        BREAKER_FAILURE_THRESHOLD=1, PROVIDER_MIN_INTERVAL_SECONDS=0,
    ) as stack:
        session = login(stack)
        page = session.get(f"{stack.url}/generate/")
        assert re.search(r'<input type="checkbox" name="allow_fallback"[^>]*checked', page.text)
        # Kling's first submit of this prompt answers 500: its breaker opens (threshold 1).
        prompt = f"a heron over a misty lake {time.time_ns()} #fault:submit_500_once"
        answer = session.post(
            f"{stack.url}/generate/",
            data={
                "prompt": prompt, "model": "kling-2.1-t2v", "duration": "10", "aspect_ratios": "1:1",
                "allow_fallback": "on", "request_key": re.search(r'name="request_key" value="([^"]+)"', page.text).group(1),
                "csrfmiddlewaretoken": csrf_token(page),
            },
            headers={"Referer": f"{stack.url}/generate/"},
        )
        assert answer.url.endswith("/history/")

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            html = session.get(f"{stack.url}/history/").text
            status = re.search(r'data-status="([a-z_]+)"', html).group(1)
            if status in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.5)
        assert status == "completed", f"{status}\n{stack.log('worker1')}"
        assert "Made with Veo 3.1 · text to video instead" in html

        # Sent once, to Veo: Kling refused it before accepting anything.
        requests = [r for r in sandbox_process.requests() if r["arguments"].get("prompt") == prompt]
        assert [(r["application"], r["arguments"]["duration"], r["arguments"]["aspect_ratio"]) for r in requests] == [
            ("fal-ai/veo3.1", "8s", "16:9")
        ]
        # The API names the model that made it.
        (card,) = session.get(f"{stack.url}/api/history/").json()["results"]
        assert (card["model"], card["task"]["made_with"], card["task"]["status"]) == ("kling-2.1-t2v", "veo-3.1", "completed")
        # Kling 2.1's 3 credits were held, then released; Veo's 2 held and charged.
        ledger = json.loads(stack.manage("shell", "-v0", "-c", LEDGER).strip().splitlines()[-1])
        assert ledger == {"reserved": 0, "entries": [["charge", 2], ["release", 3], ["reserve", 2], ["reserve", 3]]}

        # The staff dashboard has figures after this first video: one request each.
        stack.manage("shell", "-v0", "-c", STAFF)
        staff = session.__class__()
        login_page = staff.get(f"{stack.url}/admin/login/")
        staff.post(
            f"{stack.url}/admin/login/",
            data={"username": "boss", "password": "boss-pw", "csrfmiddlewaretoken": csrf_token(login_page), "next": "/admin/"},
            headers={"Referer": f"{stack.url}/admin/login/"},
        )
        dashboard = staff.get(f"{stack.url}/admin/monitoring/")
        assert dashboard.status_code == 200 and "No requests in this period" not in dashboard.text
        cells = re.compile(r"<td>([^<]+)</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>")
        rows = {label.strip(): tuple(map(int, figures)) for label, *figures in cells.findall(dashboard.text)}
        # Requests, completed, failed: Kling's attempt was cancelled for the fallback.
        assert rows["Kling 2.1 Master · text to video"] == (1, 0, 0)
        assert rows["Veo 3.1 · text to video"] == (1, 1, 0)
