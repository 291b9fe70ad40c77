"""The webhook endpoint: deliveries applied per second at 64 concurrent senders, beside
a trivial page (a static file through the same gunicorn and middleware); fal's
redeliveries (duplicates); and what one applied delivery costs in SQL statements and
commits, counted in-process through the same view.

Run by the suite in a process of its own with DATABASE_URL naming a fresh database."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devtools.signing import JwksServer, jwk_for, sign

KEY = Ed25519PrivateKey.generate()
JWKS = JwksServer()  # fal's signing side, as the tests stand it in
JWKS.keys = [jwk_for(KEY, "bench")]
os.environ["FAL_JWKS_URL"] = JWKS.url
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videoplanet.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from devtools.bench.common import emit, row  # noqa: E402
from devtools.localstack import LocalStack  # noqa: E402
from generation.models import Job, Task, TaskStatus  # noqa: E402
from history.models import HistoryItem  # noqa: E402

QUICK = "--quick" in sys.argv
DELIVERIES = 300 if QUICK else 1000
SENDERS = 64
ROUNDS = 1 if QUICK else 3


def make_tasks(count: int, prefix: str) -> list[tuple[str, str, str]]:
    user, _ = get_user_model().objects.get_or_create(username="bench-webhooks")
    out = []
    for n in range(count):
        job = Job.objects.create(user=user, model_key="kling-2.1-t2v", prompt=f"bench {n}", params={})
        task = Task.objects.create(job=job, endpoint="fal-ai/kling-video/v2.1/standard/text-to-video",
                                   status=TaskStatus.QUEUED, request_id=f"{prefix}-{n}")
        HistoryItem.objects.create(user=user, task=task)
        out.append((str(task.pk), task.webhook_token, task.request_id))
    return out


def delivery(task: tuple[str, str, str]) -> tuple[str, bytes, dict]:
    # Each task's body differs, so the real clock is fine: no two signatures match.
    task_id, token, request_id = task
    body = json.dumps(
        {"request_id": request_id, "gateway_request_id": request_id, "status": "OK", "error": None, "payload_error": None,
         "payload": {"video": {"url": f"https://v3.fal.media/files/bench/{request_id}.mp4", "content_type": "video/mp4"}}}
    ).encode()
    headers = {"Content-Type": "application/json",
               **sign(KEY, body, request_id=request_id, user_id="bench", timestamp=int(time.time()))}
    return f"/webhooks/fal/?task={task_id}&token={token}", body, headers


def statements_per_delivery() -> tuple[int, int, int]:
    """(statements, transactions, HTTP status) of one applied delivery, through the view,
    in the steady state: after a first one (which makes its provider group's row)."""
    warm_up, task = make_tasks(2, "count")
    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host, as a browser would send
    path, body, headers = delivery(warm_up)
    client.post(path, data=body, content_type="application/json",
                headers={k: v for k, v in headers.items() if k != "Content-Type"})
    path, body, headers = delivery(task)
    statements, commits = [], []
    original_commit = connection._commit

    def count_commit(*args, **kwargs):
        commits.append(1)
        return original_commit(*args, **kwargs)

    def record(execute, sql, params, many, context):
        statements.append(sql)
        if not connection.in_atomic_block:
            commits.append(1)  # in autocommit mode a statement is a transaction of its own
        return execute(sql, params, many, context)

    client.get("/static/css/app.css")  # settle the connection's start-up queries first
    connection._commit = count_commit
    try:
        with connection.execute_wrapper(record):
            response = client.post(path, data=body, content_type="application/json",
                                   headers={k: v for k, v in headers.items() if k != "Content-Type"})
    finally:
        del connection._commit
    for sql in statements:
        print(f"  webhook SQL: {sql[:150]}", file=sys.stderr)
    return len(statements), len(commits), response.status_code


def run_round(base: str, requests_: list[tuple[str, bytes | None, dict]]) -> tuple[float, list[float], dict[int, int]]:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=SENDERS))

    def send(item):
        path, body, headers = item
        started = time.perf_counter()
        if body is None:
            status = session.get(base + path, timeout=60).status_code
        else:
            status = session.post(base + path, data=body, headers=headers, timeout=60).status_code
        return time.perf_counter() - started, status

    started = time.perf_counter()
    with ThreadPoolExecutor(SENDERS) as pool:
        results = list(pool.map(send, requests_))
    wall = time.perf_counter() - started
    codes: dict[int, int] = {}
    for _, status in results:
        codes[status] = codes.get(status, 0) + 1
    return len(results) / wall, sorted(seconds for seconds, _ in results), codes


def p99(latencies: list[float]) -> float:
    return latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000


def main() -> None:
    call_command("migrate", "--noinput", verbosity=0)
    statements, commits, status = statements_per_delivery()
    print(f"webhooks: one applied delivery: {statements} statements, {commits} transactions (HTTP {status})", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    stack = LocalStack(workdir, os.environ["DATABASE_URL"], "http://127.0.0.1:9", FAL_JWKS_URL=JWKS.url)
    trivial, applied, duplicate, tails = [], [], [], []
    try:
        stack.start_web()
        for n in range(ROUNDS):
            tasks = make_tasks(DELIVERIES, f"round{n}")
            rate, _, codes = run_round(stack.url, [("/static/css/app.css", None, {})] * DELIVERIES)
            trivial.append(rate)
            print(f"webhooks: round {n}: trivial page {rate:.0f}/s {codes}", file=sys.stderr)
            rate, latencies, codes = run_round(stack.url, [delivery(task) for task in tasks])
            applied.append(rate)
            tails.append(p99(latencies))
            print(f"webhooks: round {n}: applied {rate:.0f}/s p99 {p99(latencies):.0f} ms {codes}", file=sys.stderr)
            time.sleep(1)  # a new second: fal's redeliveries carry a fresh signature
            rate, latencies, codes = run_round(stack.url, [delivery(task) for task in tasks])
            duplicate.append(rate)
            print(f"webhooks: round {n}: duplicates {rate:.0f}/s p99 {p99(latencies):.0f} ms {codes}", file=sys.stderr)
    finally:
        stack.stop()
    base = statistics.median(trivial)
    emit([
        row(f"webhook deliveries applied, {SENDERS} senders", statistics.median(applied), "req/s", base,
            "trivial page, same gunicorn", note=f"p99 {statistics.median(tails):.0f} ms"),
        row(f"webhook redeliveries (duplicates), {SENDERS} senders", statistics.median(duplicate), "req/s", base,
            "trivial page, same gunicorn"),
        row("SQL statements per applied delivery", statements, "", None, "", note=f"in {commits} transactions"),
    ])


if __name__ == "__main__":
    main()
