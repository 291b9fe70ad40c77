"""The projects API (api/projects.py): projects and their slots, the same services and
the same error shape as the rest of the API."""

import pytest

from generation.models import Job, TaskStatus
from history.models import HistoryItem
from projects.models import Project, Slot
from projects.services import add_to_project, create_project
from tests.api.conftest import error_of
from tests.factories import fund, make_task

pytestmark = pytest.mark.django_db

PROJECTS = "/api/projects/"


def item_of(user, status=TaskStatus.COMPLETED):
    return make_task(user=user, status=status).history_item


def test_create_list_rename_and_delete(api, user, other_user):
    created = api.post(PROJECTS, {"name": "Trailer"}, format="json")
    assert created.status_code == 201, created.json()
    project_id = created.json()["id"]
    assert created.json()["slot_count"] == 0 and created.json()["video_count"] == 0
    create_project(user=other_user, name="Theirs")
    assert [p["name"] for p in api.get(PROJECTS).json()["results"]] == ["Trailer"]
    renamed = api.patch(f"{PROJECTS}{project_id}/", {"name": "Teaser"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Teaser"
    assert api.delete(f"{PROJECTS}{project_id}/").status_code == 204
    assert not Project.objects.filter(user=user).exists()


def test_a_blank_name_is_a_400_naming_the_field(api):
    error = error_of(api.post(PROJECTS, {"name": "  "}, format="json"))
    assert error["code"] == "invalid" and "name" in error["fields"]


def test_someone_elses_project_is_a_404(api, other_user):
    theirs = create_project(user=other_user, name="Theirs")
    response = api.get(f"{PROJECTS}{theirs.pk}/slots/")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_slots_are_added_listed_and_reordered(api, user, other_user):
    project = create_project(user=user, name="P")
    a, b = item_of(user), item_of(user)
    added = api.post(f"{PROJECTS}{project.pk}/slots/", {"items": [str(a.pk), str(b.pk)]}, format="json")
    assert added.status_code == 201
    assert [slot["item"]["id"] for slot in added.json()] == [str(a.pk), str(b.pk)]
    slot_ids = [slot["id"] for slot in added.json()]
    reordered = api.post(f"{PROJECTS}{project.pk}/reorder/", {"slots": slot_ids[::-1]}, format="json")
    assert [slot["item"]["id"] for slot in reordered.json()] == [str(b.pk), str(a.pk)]
    partial = error_of(api.post(f"{PROJECTS}{project.pk}/reorder/", {"slots": slot_ids[:1]}, format="json"))
    assert "slots" in partial["fields"]
    theirs = item_of(other_user)
    refused = error_of(api.post(f"{PROJECTS}{project.pk}/slots/", {"items": [str(theirs.pk)]}, format="json"))
    assert "items" in refused["fields"] and Slot.objects.filter(project=project).count() == 2


def test_move_copy_and_clear(api, user):
    source, target = create_project(user=user, name="S"), create_project(user=user, name="T")
    a, b = item_of(user), item_of(user)
    add_to_project(user=user, project=source, items=[a, b])
    slot_a, slot_b = Slot.objects.filter(project=source).order_by("position")
    moved = api.post(f"{PROJECTS}{source.pk}/slots/{slot_a.pk}/move/", {"project": str(target.pk)}, format="json")
    assert moved.status_code == 200 and [s["item"]["id"] for s in moved.json()] == [str(a.pk)]
    api.post(f"{PROJECTS}{source.pk}/slots/{slot_b.pk}/copy/", {"project": str(target.pk)}, format="json")
    cleared = api.post(f"{PROJECTS}{source.pk}/slots/{slot_b.pk}/clear/")
    assert [s["item"] for s in cleared.json()] == [None, None]
    assert list(Slot.objects.filter(project=target).order_by("position").values_list("item", flat=True)) == [a.pk, b.pk]


def test_a_job_started_into_a_project_fills_its_slots(api, user, other_user):
    fund(user, 50)
    project = create_project(user=user, name="Film")
    response = api.post("/api/jobs/", {"prompt": "a fox", "model": "kling-3-t2v", "duration": 5,
                                       "styles": ["anime", "noir"], "project": str(project.pk)}, format="json")
    assert response.status_code == 201, response.json()
    made = set(HistoryItem.objects.filter(task__job_id=response.json()["id"]).values_list("pk", flat=True))
    assert set(Slot.objects.filter(project=project).values_list("item", flat=True)) == made
    theirs = create_project(user=other_user, name="Theirs")
    refused = error_of(api.post("/api/jobs/", {"prompt": "a fox", "model": "kling-3-t2v", "duration": 5,
                                               "project": str(theirs.pk)}, format="json"))
    assert "project" in refused["fields"] and Job.objects.filter(user=user).count() == 1
