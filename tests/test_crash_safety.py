"""Workers killed with SIGKILL in the middle of a submit or a download, then replaced:
every video still completes exactly once, with one provider request and one file.
Real processes (gunicorn, db_worker, reconciler) and the sandbox over real HTTP."""

import uuid
from pathlib import Path

import pytest

from devtools.sandbox import run_sandbox
from tests.support import card_statuses, generate, login, wait_for
from tests.stack import running_stack

pytestmark = pytest.mark.e2e

FINISHED = {"completed", "failed", "cancelled"}


@pytest.fixture(scope="module")
def slow_sandbox():
    # Submit faults hold the connection 4 s: long enough to kill the worker inside it.
    with run_sandbox(seconds=1.0, extra_args=("--hang-seconds", "4")) as process:
        yield process


def provider_requests(sandbox, marker: str) -> list[dict]:
    return [r for r in sandbox.requests() if marker in (r["arguments"].get("prompt") or "")]


def video_files(stack_dir: Path) -> list[Path]:
    return [p for p in (stack_dir / "media" / "videos").rglob("*.mp4")]


def replace_workers(stack) -> None:
    for name in [n for n in stack.processes if n.startswith("worker")]:
        stack.kill(name)
    stack.start_worker("worker-new")


@pytest.fixture
def stack(slow_sandbox, tmp_path):
    with running_stack(
        tmp_path,
        slow_sandbox.url,
        workers=2,
        reconciler=True,
        SUBMIT_GRACE_SECONDS=8,
        DOWNLOAD_LEASE_SECONDS=3,
        STATUS_POLL_SECONDS=2,
        FAL_CLIENT_TIMEOUT=10,
        RETRY_BASE_SECONDS=0.2,
    ) as stack:
        yield stack


def only_card(stack, session) -> str:
    statuses = card_statuses(stack, session)
    assert len(statuses) == 1
    return next(iter(statuses.values()))


def test_killed_after_the_provider_took_the_request_but_before_we_heard_back(stack, slow_sandbox, tmp_path):
    marker = f"lantern-{uuid.uuid4().hex[:8]}"
    session = login(stack)
    generate(stack, session, f"{marker} #fault:submit_lost_answer")
    wait_for(lambda: provider_requests(slow_sandbox, marker), "the request to reach the provider")
    replace_workers(stack)  # the worker dies holding a submit whose answer never came

    wait_for(lambda: only_card(stack, session) in FINISHED, "the video to finish", timeout=60)
    assert only_card(stack, session) == "completed"
    assert len(provider_requests(slow_sandbox, marker)) == 1  # claimed by its webhook, not sent again
    assert len(video_files(tmp_path)) == 1


def test_killed_while_the_submit_hangs_with_nothing_created(stack, slow_sandbox, tmp_path):
    marker = f"kite-{uuid.uuid4().hex[:8]}"
    session = login(stack)
    generate(stack, session, f"{marker} #fault:submit_timeout_once")
    wait_for(
        lambda: any(marker in (r.get("prompt") or "") for r in slow_sandbox.stats()["rejected_submits"]),
        "the hanging submit",
    )
    replace_workers(stack)

    wait_for(lambda: only_card(stack, session) in FINISHED, "the video to finish", timeout=60)
    assert only_card(stack, session) == "completed"
    # Sent again only after the grace period showed no webhook would come.
    assert len(provider_requests(slow_sandbox, marker)) == 1
    assert len(video_files(tmp_path)) == 1


def test_killed_in_the_middle_of_a_download(stack, slow_sandbox, tmp_path):
    marker = f"heron-{uuid.uuid4().hex[:8]}"
    session = login(stack)
    generate(stack, session, f"{marker} #fault:result_slow")
    wait_for(lambda: only_card(stack, session) == "downloading", "the download to start")
    request = wait_for(lambda: [r for r in provider_requests(slow_sandbox, marker) if r["downloads"] >= 1], "bytes flowing")[0]
    replace_workers(stack)

    wait_for(lambda: only_card(stack, session) in FINISHED, "the video to finish", timeout=60)
    assert only_card(stack, session) == "completed"
    assert slow_sandbox.request(request["id"])["downloads"] >= 2  # restarted from scratch
    assert len(provider_requests(slow_sandbox, marker)) == 1
    assert len(video_files(tmp_path)) == 1
