"""Gallery and list pages for users of 100 / 10,000 / 100,000 videos.

Run by the suite in a process of its own with DATABASE_URL naming a fresh database.
Fills one user per size, ANALYZEs (as autovacuum would), and times each page through
Django's test client (the whole view, template and queries, no network). The sizes take
turns within each round, so that a shared machine's changing load falls on the figure
and its baseline alike; each figure is the median of its rounds after a warm-up. The
baseline is the same page for the user of 100 videos."""

from __future__ import annotations

import os
import statistics
import sys
import time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videoplanet.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from devtools.bench.common import emit, row  # noqa: E402
from devtools.bench.fill import add_videos  # noqa: E402
from history.models import HistoryItem  # noqa: E402

SIZES = (100, 1_000, 10_000) if "--quick" in sys.argv else (100, 10_000, 100_000)
ROUNDS = 7
PAGES = (
    "/history/",
    "/history/?page=3",
    "/history/?status=completed",
    "/history/?favourites=1",
    "/history/?sort=best",
    "/history/?sort=oldest&page=2",
    "/history/?q=video+42",  # a rare word: one match
    "/history/?q=history&page=2",  # a word in every prompt
    "/api/history/",
    "/api/history/?status=completed",
    "/api/jobs/",
)


def get(client: Client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    seconds = time.perf_counter() - started
    assert response.status_code == 200, (path, response.status_code)
    return seconds


def main() -> None:
    call_command("migrate", "--noinput", verbosity=0)
    now = timezone.now()
    # Another user's history in the same tables, so that "the user's rows" is a real filter.
    other = get_user_model().objects.create_user("bench-other", password="x")
    add_videos(other, 0, 5_000, now=now)
    clients = {}
    for size in SIZES:
        user = get_user_model().objects.create_user(f"bench-gallery-{size}", password="x")
        add_videos(user, 0, size, now=now)
        # Every 4th video a favourite: a full page of them at every size.
        newest_first = HistoryItem.objects.filter(user=user).order_by("-created_at").values_list("pk", flat=True)
        HistoryItem.objects.filter(pk__in=list(newest_first)[::4]).update(favourite=True)
        clients[size] = Client(HTTP_HOST="127.0.0.1")  # an allowed host, as a browser would send
        clients[size].force_login(user)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    samples: dict[tuple[str, int], list[float]] = {(path, size): [] for path in PAGES for size in SIZES}
    for round_number in range(ROUNDS + 1):  # round 0 warms up
        for path in PAGES:
            for size in SIZES:
                seconds = get(clients[size], path)
                if round_number:
                    samples[(path, size)].append(seconds)
    results: dict[tuple[str, int], tuple[float, int]] = {}
    for path in PAGES:
        for size in SIZES:
            with CaptureQueriesContext(connection) as queries:
                get(clients[size], path)
            results[(path, size)] = statistics.median(samples[(path, size)]), len(queries)
            print(f"gallery: {path} at {size} videos: {results[(path, size)][0] * 1000:.1f} ms, "
                  f"{results[(path, size)][1]} queries", file=sys.stderr, flush=True)
    rows = []
    for path in PAGES:
        base_seconds, base_queries = results[(path, SIZES[0])]
        for size in SIZES[1:]:
            seconds, queries = results[(path, size)]
            rows.append(row(f"{path} at {size:,} videos", seconds * 1000, "ms", base_seconds * 1000,
                            f"same page at {SIZES[0]}", note=f"{queries} queries (at {SIZES[0]}: {base_queries})"))
    emit(rows)


if __name__ == "__main__":
    main()
