"""The project pages: list and create, rename, delete, the ordered slots with their
running job, reorder without JavaScript, move and copy, and Generate into a project."""

import re

import pytest
from django.urls import reverse

from generation.models import Job, TaskStatus
from history.models import HistoryItem
from projects.models import Project, Slot
from projects.services import add_to_project, create_project
from tests.factories import fund, make_task

pytestmark = pytest.mark.django_db


def contents(project) -> list:
    return [slot.item_id for slot in Slot.objects.filter(project=project).order_by("position")]


def cards(user, n, status=TaskStatus.COMPLETED):
    return [make_task(user=user, status=status, prompt=f"clip {k}").history_item for k in range(n)]


def test_the_list_creates_a_project_and_refuses_a_blank_name(signed_in, user):
    response = signed_in.post(reverse("projects:list"), {"name": "  Trailer  "})
    project = Project.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == project.get_absolute_url()
    assert project.name == "Trailer"
    refused = signed_in.post(reverse("projects:list"), {"name": "   "})
    assert refused.status_code == 400 and "needs a name" in refused.content.decode()
    listing = signed_in.get(reverse("projects:list")).content.decode()
    assert "Trailer" in listing and "0 videos" in listing


def test_another_users_project_is_a_404(signed_in, other_user):
    theirs = create_project(user=other_user, name="Theirs")
    assert signed_in.get(theirs.get_absolute_url()).status_code == 404
    assert signed_in.post(reverse("projects:delete", args=[theirs.pk])).status_code == 404
    assert Project.objects.filter(pk=theirs.pk).exists()
    assert "Theirs" not in signed_in.get(reverse("projects:list")).content.decode()


def test_rename_and_delete_keep_the_videos(signed_in, user):
    project = create_project(user=user, name="Old")
    item = cards(user, 1)[0]
    add_to_project(user=user, project=project, items=[item])
    signed_in.post(reverse("projects:rename", args=[project.pk]), {"name": "New"})
    assert Project.objects.get(pk=project.pk).name == "New"
    signed_in.post(reverse("projects:delete", args=[project.pk]))
    assert not Project.objects.filter(pk=project.pk).exists() and HistoryItem.objects.filter(pk=item.pk).exists()


def test_the_page_shows_slots_in_order_and_up_down_reorders_them(signed_in, user):
    project = create_project(user=user, name="Order")
    first, second, third = cards(user, 3)
    add_to_project(user=user, project=project, items=[first, second, third])
    html = signed_in.get(project.get_absolute_url()).content.decode()
    assert html.index(f'id="card-{first.pk}"') < html.index(f'id="card-{second.pk}"') < html.index(f'id="card-{third.pk}"')
    slot = Slot.objects.get(project=project, item=third)
    response = signed_in.post(reverse("projects:shift", args=[project.pk, slot.pk]), {"direction": "up"})
    assert response.status_code == 302
    assert contents(project) == [first.pk, third.pk, second.pk]
    signed_in.post(reverse("projects:shift", args=[project.pk, slot.pk]), {"direction": "up"})
    signed_in.post(reverse("projects:shift", args=[project.pk, slot.pk]), {"direction": "up"})  # already first
    assert contents(project) == [third.pk, first.pk, second.pk]


def test_drag_and_drop_sends_the_whole_order_and_a_partial_one_is_refused(signed_in, user):
    project = create_project(user=user, name="Drag")
    a, b = cards(user, 2)
    add_to_project(user=user, project=project, items=[a, b])
    slots = list(Slot.objects.filter(project=project).order_by("position").values_list("pk", flat=True))
    url = reverse("projects:reorder", args=[project.pk])
    assert signed_in.post(url, {"order": f"{slots[1]},{slots[0]}"}, headers={"HX-Request": "true"}).status_code == 204
    assert contents(project) == [b.pk, a.pk]
    assert signed_in.post(url, {"order": f"{slots[1]}"}, headers={"HX-Request": "true"}).status_code == 400
    assert contents(project) == [b.pk, a.pk]


def test_move_empties_the_slot_and_copy_keeps_it(signed_in, user):
    source, target = create_project(user=user, name="Source"), create_project(user=user, name="Target")
    a, b = cards(user, 2)
    add_to_project(user=user, project=source, items=[a, b])
    slot_a, slot_b = Slot.objects.filter(project=source).order_by("position")
    signed_in.post(reverse("projects:transfer", args=[source.pk, slot_a.pk]), {"target": target.pk, "mode": "move"})
    signed_in.post(reverse("projects:transfer", args=[source.pk, slot_b.pk]), {"target": target.pk, "mode": "copy"})
    assert contents(source) == [None, b.pk]
    assert contents(target) == [a.pk, b.pk]


def test_transfer_into_someone_elses_project_is_refused(signed_in, user, other_user):
    mine, theirs = create_project(user=user, name="Mine"), create_project(user=other_user, name="Theirs")
    item = cards(user, 1)[0]
    add_to_project(user=user, project=mine, items=[item])
    slot = Slot.objects.get(project=mine)
    response = signed_in.post(reverse("projects:transfer", args=[mine.pk, slot.pk]), {"target": theirs.pk, "mode": "move"}, follow=True)
    assert "Choose one of your projects" in response.content.decode()
    assert contents(mine) == [item.pk] and contents(theirs) == []


def test_generate_into_a_project_fills_it_and_the_page_watches_the_running_job(signed_in, user):
    fund(user, 50)
    project = create_project(user=user, name="Film", slot_count=1)
    form = signed_in.get(reverse("generation:generate") + f"?project={project.pk}").content.decode()
    assert re.search(rf'<option value="{project.pk}" selected>Film</option>', form)
    response = signed_in.post(
        reverse("generation:generate"),
        {"prompt": "a fox", "model": "kling-3-t2v", "duration": "5", "styles": ["anime", "noir"], "mode": "single",
         "project": str(project.pk)},
    )
    assert response.status_code == 302 and response["Location"] == project.get_absolute_url()
    job = Job.objects.get(user=user)
    made = list(HistoryItem.objects.filter(task__job=job).order_by("task__variant_index").values_list("pk", flat=True))
    assert contents(project) == made
    html = signed_in.get(project.get_absolute_url()).content.decode()
    assert 'id="project-running"' in html and "0 of 2 done" in html
    poller = re.search(r'<div id="poller"[^>]*>', html).group(0)
    assert all(str(pk) in poller for pk in made) and f"project={project.pk}" in poller
    # The poll answers the running panel too, and once the job is done it hides.
    for item in HistoryItem.objects.filter(task__job=job):
        type(item.task).objects.filter(pk=item.task_id).update(status=TaskStatus.COMPLETED)
    update = signed_in.get(reverse("history:updates") + f"?ids={','.join(map(str, made))}&project={project.pk}").content.decode()
    assert re.search(r'<section id="project-running"[^>]*hx-swap-oob="true" hidden>', update)


def test_generate_into_an_unknown_project_is_refused_and_starts_nothing(signed_in, user, other_user):
    fund(user, 50)
    theirs = create_project(user=other_user, name="Theirs")
    response = signed_in.post(
        reverse("generation:generate"),
        {"prompt": "a fox", "model": "kling-3-t2v", "duration": "5", "project": str(theirs.pk)},
    )
    assert response.status_code == 200 and "Choose one of your projects" in response.content.decode()
    assert not Job.objects.filter(user=user).exists()
