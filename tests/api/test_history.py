"""GET /api/history/: the gallery as JSON, paginated and filtered."""

import pytest

from generation.models import TaskStatus
from tests.api.conftest import error_of
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def test_history_lists_my_items_newest_first_in_pages(api, user, other_user):
    for n in range(3):
        make_task(user=user, status=TaskStatus.COMPLETED, prompt=f"video {n}")
    make_task(user=other_user, prompt="frank's")
    body = api.get("/api/history/", {"page_size": 2}).json()
    assert "count" not in body and [item["prompt"] for item in body["results"]] == ["video 2", "video 1"]
    item = body["results"][0]
    assert set(item) == {"id", "created_at", "job", "prompt", "model", "task"}
    assert item["task"]["status"] == "completed"
    older = api.get(body["next"]).json()
    assert [i["prompt"] for i in older["results"]] == ["video 0"] and older["next"] is None
    assert [i["prompt"] for i in api.get(older["previous"]).json()["results"]] == ["video 2", "video 1"]


def test_history_filters_by_status_and_model(api, user):
    make_task(user=user, status=TaskStatus.FAILED, prompt="a failed one")
    make_task(user=user, status=TaskStatus.QUEUED, prompt="a queued veo", model_key="veo-3.1")
    assert [i["prompt"] for i in api.get("/api/history/", {"status": "failed"}).json()["results"]] == ["a failed one"]
    assert [i["prompt"] for i in api.get("/api/history/", {"model": "veo-3.1"}).json()["results"]] == ["a queued veo"]
    both = api.get("/api/history/", {"model": "veo-3.1", "status": "failed"}).json()
    assert both["results"] == [] and both["next"] is None


@pytest.mark.parametrize(("query", "field"), [({"status": "sleeping"}, "status"), ({"model": "sora"}, "model")])
def test_a_bad_filter_is_400(api, query, field):
    response = api.get("/api/history/", query)
    assert response.status_code == 400 and field in error_of(response)["fields"]
