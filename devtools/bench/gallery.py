"""Gallery and list pages at 100 / 10,000 / 100,000 videos of one user.

Run by the suite in a process of its own with DATABASE_URL naming a fresh database.
Fills the database in steps, ANALYZEs it (as autovacuum would), and times each page
through Django's test client (the whole view, template and queries, no network), the
median of five rounds after a warm-up. The baseline is the same page at 100 videos."""

from __future__ import annotations

import os
import sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videoplanet.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from devtools.bench.common import emit, median_seconds, row  # noqa: E402
from devtools.bench.fill import add_videos  # noqa: E402

SIZES = (100, 1_000, 10_000) if "--quick" in sys.argv else (100, 10_000, 100_000)
PAGES = ("/history/", "/history/?status=completed", "/api/history/", "/api/jobs/")


def measure(client: Client, path: str) -> tuple[float, int]:
    def get():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    seconds = median_seconds(get)
    with CaptureQueriesContext(connection) as queries:
        get()
    return seconds, len(queries)


def main() -> None:
    call_command("migrate", "--noinput", verbosity=0)
    user = get_user_model().objects.create_user("bench-gallery", password="x")
    # Another user's history in the same tables, so that "the user's rows" is a real filter.
    other = get_user_model().objects.create_user("bench-other", password="x")
    now = timezone.now()
    add_videos(other, 0, 5_000, now=now)
    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host, as a browser would send
    client.force_login(user)
    results: dict[tuple[str, int], tuple[float, int]] = {}
    have = 0
    for size in SIZES:
        add_videos(user, have, size, now=now)
        have = size
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        for path in PAGES:
            results[(path, size)] = measure(client, path)
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
