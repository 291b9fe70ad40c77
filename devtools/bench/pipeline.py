"""Whole generations through the product as it runs: web server, two workers and the
reconciler against the local fal sandbox. Videos are requested through the JSON API in
jobs of up to 20, all at once, and the run waits until every one has finished.

Prints, per size: our CPU per generation (web + workers + reconciler, from /proc, the
sandbox not counted), and the provider calls per video (submits and status polls, as
the sandbox counted them). The baseline is the same figure at the smaller size: a
ratio of 1 means the cost does not grow with the backlog.

Also prints how many times each background step ran per video (from the task queue's
own records). With `--profile DIR` (py-spy installed in the environment, which the
project does not require), each of our processes is sampled during the measured part
and its collapsed stacks are written to DIR, for `devtools.bench.stacks` to summarise.

Run by the suite in a process of its own with DATABASE_URL naming a fresh database."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videoplanet.settings")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from django_tasks_db.models import DBTaskResult  # noqa: E402

from devtools.bench.common import emit, row, tree_cpu_seconds  # noqa: E402
from devtools.localstack import LocalStack  # noqa: E402
from devtools.sandbox import run_sandbox  # noqa: E402
from generation.models import FINISHED, Task, TaskStatus  # noqa: E402
from operations.models import Heartbeat  # noqa: E402

QUICK = "--quick" in sys.argv
SIZES = (20, 60) if QUICK else (50, 200)
if "--sizes" in sys.argv:  # e.g. --sizes 50,500
    SIZES = tuple(int(size) for size in sys.argv[sys.argv.index("--sizes") + 1].split(","))
PROFILE_DIR = Path(sys.argv[sys.argv.index("--profile") + 1]) if "--profile" in sys.argv else None
RENDER_SECONDS = 2.0
PROVIDER_CONCURRENCY = 16
SETTLE_SECONDS = 3.0  # once every process has reported in, before the CPU is read


def make_user(stack: LocalStack) -> str:
    stack.manage("shell", "-v0", "-c", (
        "from django.contrib.auth import get_user_model\n"
        "if not get_user_model().objects.filter(username='bench-pipeline').exists():\n"
        "    get_user_model().objects.create_user('bench-pipeline', password='bench-pipeline')\n"
    ))
    answer = requests.post(f"{stack.url}/api/auth/token/", json={"username": "bench-pipeline", "password": "bench-pipeline"}, timeout=60)
    answer.raise_for_status()
    return answer.json()["token"]


def request_videos(stack: LocalStack, token: str, count: int, label: str) -> None:
    headers = {"Authorization": f"Token {token}"}
    left = count
    while left:
        size = min(left, 20)
        body = {"model": "kling-2.1-t2v", "prompt": f"{label}: a lighthouse in the fog", "duration": 5,
                "mode": "batch", "count": size}
        answer = requests.post(f"{stack.url}/api/jobs/", json=body, headers=headers, timeout=120)
        if answer.status_code != 201:
            raise RuntimeError(f"job refused: {answer.status_code} {answer.text[:500]}")
        left -= size


def wait_until_finished(expected: int, deadline_seconds: float) -> dict[str, int]:
    deadline = time.monotonic() + deadline_seconds
    while True:
        unfinished = Task.objects.exclude(status__in=FINISHED).count()
        total = Task.objects.count()
        if total >= expected and unfinished == 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{unfinished} of {total} videos unfinished after {deadline_seconds:.0f} s")
        time.sleep(1.0)
    counts: dict[str, int] = {}
    for status in Task.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def wait_until_running(*, since, deadline_seconds: float) -> None:
    """Until both workers and the reconciler have reported in: what their start-up
    costs (imports, checks) is not a generation's."""
    deadline = time.monotonic() + deadline_seconds
    while Heartbeat.objects.filter(beat_at__gte=since).count() < 3:
        if time.monotonic() > deadline:
            raise RuntimeError("workers and reconciler did not report in")
        time.sleep(0.5)


def steps_per_video(count: int) -> dict[str, float]:
    """How often each background step ran, per video."""
    from django.db.models import Count

    runs = DBTaskResult.objects.values("task_path").annotate(runs=Count("id"))
    return {row["task_path"].rsplit(".", 1)[-1]: row["runs"] / count for row in runs}


def start_profilers(pids: dict[str, int], count: int) -> list[subprocess.Popen]:
    if PROFILE_DIR is None:
        return []
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen([spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--rate", "200",
                          "--format", "raw", "--output", str(PROFILE_DIR / f"{name}-{count}.txt")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name, pid in pids.items()
    ]


def stop_profilers(profilers: list[subprocess.Popen]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        profiler.wait(timeout=60)


def run_size(count: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    with run_sandbox(seconds=RENDER_SECONDS, extra_args=["--max-concurrent", str(PROVIDER_CONCURRENCY)]) as sandbox:
        stack = LocalStack(
            workdir, os.environ["DATABASE_URL"], sandbox.url,
            CREDITS_WELCOME_GRANT=100_000, DAILY_VIDEO_LIMITS="free=100000,pro=100000", API_JOB_CREATE_RATE="1000/minute",
        )
        try:
            Task.objects.all().delete()
            DBTaskResult.objects.all().delete()  # the steps of the previous size
            stack.start_web()
            token = make_user(stack)
            launched = timezone.now()
            stack.start_worker("worker1")
            stack.start_worker("worker2")
            stack.start_reconciler()
            wait_until_running(since=launched, deadline_seconds=120)
            time.sleep(SETTLE_SECONDS)
            ours = {name: process.pid for name, process in stack.processes.items()}
            before = {name: tree_cpu_seconds([pid]) for name, pid in ours.items()}
            profilers = start_profilers(ours, count)
            before_calls, started = sandbox.stats(), time.monotonic()
            request_videos(stack, token, count, f"size {count}")
            counts = wait_until_finished(count, deadline_seconds=120 + count * 4)
            wall = time.monotonic() - started
            spent = {name: tree_cpu_seconds([pid]) - before[name] for name, pid in ours.items()}
            stop_profilers(profilers)
            steps = steps_per_video(count)
            calls = sandbox.stats()
        finally:
            stack.stop()
    cpu = sum(spent.values())
    submits = calls["submit_calls"] - before_calls["submit_calls"]
    polls = calls["status_polls"] - before_calls["status_polls"]
    split = ", ".join(f"{name} {seconds * 1000 / count:.0f}" for name, seconds in sorted(spent.items()))
    print(f"pipeline: {count} videos in {wall:.0f} s, {counts}; our CPU {cpu:.1f} s ({split} ms per video); "
          f"{submits} submits, {polls} status polls", file=sys.stderr, flush=True)
    print("pipeline: steps run per video: " + ", ".join(f"{name} {runs:.2f}" for name, runs in sorted(steps.items())),
          file=sys.stderr, flush=True)
    return {"count": count, "cpu_ms": cpu * 1000 / count, "submits": submits / count, "polls": polls / count,
            "completed": counts.get(TaskStatus.COMPLETED, 0), "wall": wall, "steps": steps}


def main() -> None:
    call_command("migrate", "--noinput", verbosity=0)
    small, large = (run_size(size) for size in SIZES)
    emit([
        row(f"our CPU per generation, {large['count']} videos", large["cpu_ms"], "ms", small["cpu_ms"],
            f"same run, {small['count']} videos", note="web + workers + reconciler"),
        row(f"status polls per video, {large['count']} at once", large["polls"], "", small["polls"],
            f"{small['count']} at once", note=f"submits per video {large['submits']:.2f} ({small['submits']:.2f})"),
        row(f"submit steps run per video, {large['count']} videos", large["steps"].get("submit_task", 0), "",
            small["steps"].get("submit_task", 0), f"{small['count']} videos", note="1 is one run per video"),
    ])


if __name__ == "__main__":
    main()
