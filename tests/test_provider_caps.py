"""The cap holds across real worker processes: four workers make twelve videos of one
provider group, and the sandbox, which counts requests in flight per endpoint, never
sees more at once than the group's cap, and does see the cap reached. Twelve is four
rounds of the cap with four workers competing for each slot: the same race as forty, in
a third of the time."""

import json
import time

import pytest

from devtools.sandbox import run_sandbox
from tests.stack import running_stack

pytestmark = pytest.mark.e2e

CAP = 3
VIDEOS = 12
# Two jobs of 6 for the demo user, as pro with credits to spare.
START = """
from credits.models import Tier
from credits.services import grant_credits, set_tier
from django.contrib.auth import get_user_model
from generation.services import start_generation
demo = get_user_model().objects.get(username="demo")
set_tier(user=demo, tier=Tier.PRO)
grant_credits(user=demo, credits=100, note="cap test")
for half in ("first", "second"):
    start_generation(user=demo, model_key="kling-3-t2v", prompt=f"a lantern festival, {half} half", duration=5,
                     aspect_ratio="16:9", mode="batch", count=6)
"""
COUNT = """
import json
from django.db.models import Count
from generation.models import Task
print(json.dumps(dict(Task.objects.values_list("status").annotate(n=Count("pk")))))
"""


@pytest.fixture
def sandbox():
    with run_sandbox(seconds=1.0) as process:
        yield process


def test_four_workers_never_exceed_the_cap_over_twelve_videos(sandbox, tmp_path):
    with running_stack(
        tmp_path, sandbox.url, workers=4, reconciler=True, PROVIDER_MAX_IN_FLIGHT=CAP, PROVIDER_MIN_INTERVAL_SECONDS=0
    ) as stack:
        stack.manage("shell", "-v0", "-c", START)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and sandbox.stats()["completed"] < VIDEOS:
            time.sleep(0.5)
        stats = sandbox.stats()
        assert stats["completed"] == VIDEOS, f"{stats}\n{stack.log('worker1')}"
        # Every video was sent once, and never more than CAP were at fal at once...
        endpoint = "fal-ai/kling-video/v3/standard/text-to-video"
        assert stats["submits"] == {endpoint: VIDEOS}
        assert stats["max_in_flight"] == {endpoint: CAP}
        # ...and every one of them came home.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            statuses = json.loads(stack.manage("shell", "-v0", "-c", COUNT).strip().splitlines()[-1])
            if statuses.get("completed") == VIDEOS:
                break
            time.sleep(0.5)
        assert statuses == {"completed": VIDEOS}
    print(f"\ncaps: {VIDEOS} videos, 4 workers, cap {CAP}: most in flight at fal {stats['max_in_flight'][endpoint]}")
