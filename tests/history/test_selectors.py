"""The gallery and every list that grows with a user's history stay index-driven on a
long history: each query the pages run is EXPLAINed on PostgreSQL over a large table,
and a sequential scan of jobs, tasks or cards fails the test. The number of queries does
not grow with the history either."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from devtools.bench.fill import add_videos
from history import selectors
from history.models import HistoryItem
from tests.factories import make_user
from generation.models import TaskStatus
from history.selectors import best_rated_first, ratings_per_model
from history.services import rate_item
from tests.factories import make_task


pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are checked on PostgreSQL"),
]

GUARDED = {"generation_job", "generation_task", "history_historyitem"}
VIDEOS = 10_000


@pytest.fixture
def long_history():
    """One user with a long history, a neighbour with a shorter one, and statistics
    that say so (as autovacuum would have gathered)."""
    now = timezone.now()
    user, neighbour = make_user("longhistory"), make_user("neighbour")
    add_videos(user, 0, VIDEOS, now=now)
    add_videos(neighbour, 0, 2_000, now=now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE generation_job, generation_task, history_historyitem")
    return user


def _queries_of(client, path: str) -> list[tuple[str, tuple]]:
    seen = []

    def record(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return [(sql, params) for sql, params in seen if sql.lstrip().upper().startswith("SELECT")]


def _sequential_scans(plan: dict) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in GUARDED:
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found.extend(_sequential_scans(child))
    return found


def _list_pages(user) -> list[str]:
    running = ",".join(str(pk) for pk in HistoryItem.objects.filter(user=user).values_list("pk", flat=True)[:6])
    return [
        reverse("history:gallery"),
        reverse("history:gallery") + "?page=3",
        reverse("history:gallery") + "?status=completed",
        reverse("history:gallery") + "?status=failed&page=2",
        reverse("history:gallery") + "?status=queued",
        reverse("history:gallery") + "?model=kling-2.1-t2v",
        reverse("history:gallery") + "?sort=oldest&page=2",
        reverse("history:gallery") + "?sort=best",
        reverse("history:gallery") + "?sort=best&page=4",
        reverse("history:gallery") + "?favourites=1",
        reverse("history:gallery") + "?q=video+123",
        reverse("history:gallery") + "?q=history&sort=oldest&page=2",
        reverse("history:gallery") + "?q=video+4321&status=completed&sort=best",
        reverse("history:gallery") + "?q=video+4321&page=2",
        reverse("history:updates") + f"?ids={running}",
        reverse("history:updates") + f"?ids={running.split(',')[0]}&detail=1",
        "/api/history/",
        "/api/history/?status=completed",
        "/api/jobs/",
    ]


@pytest.mark.parametrize("whose", ["longhistory", "neighbour"])
def test_no_list_page_scans_jobs_tasks_or_cards_sequentially(client, long_history, whose):
    # The neighbour's history is a sixth of the tables: plans that read a long
    # history's own rows well may still join every row for a shorter one.
    user = get_user_model().objects.get(username=whose)
    client.force_login(user)
    for path in _list_pages(user):
        for sql, params in _queries_of(client, path):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
                plan = cursor.fetchone()[0][0]["Plan"]
            assert not _sequential_scans(plan), f"{path} scans {_sequential_scans(plan)} sequentially:\n{sql}"


def test_the_query_count_does_not_grow_with_the_history(client, long_history):
    short = make_user("shorthistory")
    add_videos(short, 0, 400, now=timezone.now())  # enough that every page path shows cards
    counts = {}
    for user in (short, long_history):
        client.force_login(user)
        counts[user.username] = [len(_queries_of(client, path)) for path in _list_pages(user)]
    assert counts["shorthistory"] == counts["longhistory"]


# Reads of ratings: the gallery's best-rated order and each model's ratings (on
# PostgreSQL, with the plans above).


def rated(user, stars, model_key="kling-3-t2v"):
    item = make_task(user=user, status=TaskStatus.COMPLETED, model_key=model_key).history_item
    if stars:
        rate_item(item=item, stars=stars)
    return item


def test_best_rated_first_puts_unrated_cards_last(user):
    unrated, good, poor = rated(user, None), rated(user, 5), rated(user, 2)
    ordered = list(best_rated_first(HistoryItem.objects.filter(user=user)))
    assert [item.pk for item in ordered] == [good.pk, poor.pk, unrated.pk]
    assert [item.rating_stars for item in ordered] == [5, 2, None]


def test_ratings_per_model_count_thumbs_and_average(user, other_user):
    rated(user, 5), rated(other_user, 4), rated(user, 1)
    rated(user, 3, model_key="veo-3.1")
    summary = {row.model_key: row for row in ratings_per_model()}
    kling = summary["kling-3-t2v"]
    assert (kling.rated, kling.average, kling.thumbs_up, kling.thumbs_down) == (3, 3.33, 2, 1)
    assert summary["veo-3.1"].rated == 1


def test_a_video_made_with_a_fallback_is_rated_for_the_fallback(user):
    item = make_task(user=user, status=TaskStatus.COMPLETED, model_key="kling-3-t2v", made_with="veo-3.1").history_item
    rate_item(item=item, stars=4)
    assert [(row.model_key, row.rated) for row in ratings_per_model()] == [("veo-3.1", 1)]


def test_a_search_shows_the_same_pages_whether_it_matches_few_cards_or_many(user, monkeypatch):
    """A search matching at most SEARCH_FEW cards is answered from the ids of its
    matches, one matching more by walking the order's index: both give the same pages,
    in the same number of queries."""
    add_videos(user, 0, 40, now=timezone.now())
    for query in ("history", "video 7", "video 3", "nothing-like-this"):
        for sort in ("newest", "oldest", "best"):
            seen = {}
            for few in (2, 500):
                monkeypatch.setattr(selectors, "SEARCH_FEW", few)
                filters = selectors.GalleryFilters(query=query, sort=sort)
                with CaptureQueriesContext(connection) as queries:
                    pages = [[item.pk for item in selectors.gallery_page(user, number=n, size=5, filters=filters).items]
                             for n in (1, 2, 8)]
                seen[few] = (pages, len(queries))
            assert seen[2] == seen[500], (query, sort)
    monkeypatch.setattr(selectors, "SEARCH_FEW", 500)
    found = selectors.gallery_page(user, size=5, filters=selectors.GalleryFilters(query="video 7")).items
    assert [item.task.job.prompt for item in found] == ["history video 7"]
