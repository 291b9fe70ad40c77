"""How fast the webhook endpoint answers, measured from outside over real HTTP.

Starts the web server (gunicorn, as `make run` does) on a fresh database, creates N
queued tasks, then sends each one fal's signed success delivery, and then each one again
(fal's redeliveries: signed afresh, they change nothing). Prints latency percentiles and
throughput for both rounds. The database is SQLite unless DATABASE_URL names PostgreSQL.

    .venv/bin/python scripts/bench_webhooks.py --deliveries 400 --concurrency 8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videoplanet.settings")

import django  # noqa: E402

django.setup()

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from devtools.signing import JwksServer, jwk_for, sign  # noqa: E402
from devtools.localstack import LocalStack, fresh_database  # noqa: E402

MAKE_TASKS = """
import json
from django.contrib.auth import get_user_model
from generation.models import Job, Task, TaskStatus
from history.models import HistoryItem
user, _ = get_user_model().objects.get_or_create(username="bench")
out = []
for n in range({count}):
    job = Job.objects.create(user=user, model_key="kling-2.1-t2v", prompt=f"bench {{n}}", params={{}})
    task = Task.objects.create(job=job, endpoint="fal-ai/kling-video/v2.1/standard/text-to-video",
                               status=TaskStatus.QUEUED, request_id=f"bench-{{n}}")
    HistoryItem.objects.create(user=user, task=task)
    out.append([str(task.pk), task.webhook_token, task.request_id])
print(json.dumps(out))
"""


def delivery(key, url: str, task: list[str]) -> tuple[str, bytes, dict]:
    # Each task's body differs, so the real clock is fine here: no two signatures match.
    task_id, token, request_id = task
    body = json.dumps(
        {"request_id": request_id, "gateway_request_id": request_id, "status": "OK", "error": None, "payload_error": None,
         "payload": {"video": {"url": f"https://v3.fal.media/files/bench/{request_id}.mp4", "content_type": "video/mp4"}}}
    ).encode()
    headers = {"Content-Type": "application/json", **sign(key, body, request_id=request_id, user_id="bench", timestamp=int(time.time()))}
    return f"{url}/webhooks/fal/?task={task_id}&token={token}", body, headers


def run_round(key, url: str, tasks: list[list[str]], concurrency: int) -> tuple[list[float], dict[int, int], float]:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))

    def send(task):
        target, body, headers = delivery(key, url, task)
        started = time.perf_counter()
        status = session.post(target, data=body, headers=headers, timeout=30).status_code
        return time.perf_counter() - started, status

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(send, tasks))
    wall = time.perf_counter() - started
    codes: dict[int, int] = {}
    for _, status in results:
        codes[status] = codes.get(status, 0) + 1
    return [seconds for seconds, _ in results], codes, wall


def report(name: str, latencies: list[float], codes: dict[int, int], wall: float) -> None:
    ms = sorted(value * 1000 for value in latencies)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    print(
        f"{name:<12} n={len(ms):<5} p50={pick(0.50):6.1f} ms  p95={pick(0.95):6.1f} ms  p99={pick(0.99):6.1f} ms  "
        f"max={ms[-1]:6.1f} ms  mean={statistics.mean(ms):6.1f} ms  {len(ms) / wall:6.1f} req/s  answers={codes}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    key = Ed25519PrivateKey.generate()
    jwks = JwksServer()  # fal's signing side, as the tests stand it in
    jwks.keys = [jwk_for(key, "bench")]
    jwks_url = jwks.url
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir, fresh_database(Path(workdir)) as database_url:
        stack = LocalStack(Path(workdir), database_url, "http://127.0.0.1:9", FAL_JWKS_URL=jwks_url)
        try:
            stack.manage("migrate", "--noinput", "-v0")
            tasks = json.loads(stack.manage("shell", "-v0", "-c", MAKE_TASKS.format(count=args.deliveries)).strip().splitlines()[-1])
            stack.start_web()
            database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
            print(f"webhook endpoint, {database}, gunicorn 2 processes x 4 threads, {args.concurrency} concurrent senders")
            report("applied", *run_round(key, stack.url, tasks, args.concurrency))
            time.sleep(1)  # a new second: fal's redeliveries carry a fresh signature
            report("duplicates", *run_round(key, stack.url, tasks, args.concurrency))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
