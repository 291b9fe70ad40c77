"""Projects: slots filled in order, generation into a project, reorder, move, copy."""

import pytest

from generation.services import start_generation
from history.models import HistoryItem
from projects.models import Slot
from projects.services import (
    ProjectRefused,
    add_to_project,
    clear_slot,
    copy_item,
    create_project,
    move_item,
    reorder_slots,
)
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def contents(project) -> list:
    return [slot.item_id for slot in Slot.objects.filter(project=project).order_by("position")]


def card(user):
    return make_task(user=user).history_item


def test_generating_into_a_project_fills_its_first_free_slots_in_order(user):
    project = create_project(user=user, name="Trailer", slot_count=3)
    first = card(user)
    add_to_project(user=user, project=project, items=[first])
    clear_slot(slot=Slot.objects.get(project=project, position=0))
    job = start_generation(
        user=user, model_key="kling-3-t2v", prompt="a fox", duration=5, mode="single",
        styles=["cinematic", "anime"], aspect_ratios=["16:9"], project=project,
    )
    made = list(HistoryItem.objects.filter(task__job=job).order_by("task__variant_index").values_list("pk", flat=True))
    assert len(made) == 2
    assert contents(project) == [made[0], made[1], None]


def test_more_videos_than_free_slots_get_new_slots_at_the_end(user):
    project = create_project(user=user, name="Short", slot_count=1)
    items = [card(user) for _ in range(3)]
    add_to_project(user=user, project=project, items=items)
    assert contents(project) == [item.pk for item in items]


def test_a_video_sits_once_in_a_project(user):
    project = create_project(user=user, name="Once")
    item = card(user)
    add_to_project(user=user, project=project, items=[item, item])
    assert add_to_project(user=user, project=project, items=[item]) == []
    assert contents(project) == [item.pk]


def test_another_users_project_or_video_is_refused(user, other_user):
    theirs = create_project(user=other_user, name="Theirs")
    with pytest.raises(ProjectRefused):
        add_to_project(user=user, project=theirs, items=[card(user)])
    mine = create_project(user=user, name="Mine")
    with pytest.raises(ProjectRefused):
        add_to_project(user=user, project=mine, items=[card(other_user)])
    with pytest.raises(ProjectRefused):
        start_generation(user=user, model_key="kling-3-t2v", prompt="a fox", duration=5, project=theirs)
    assert contents(mine) == [] and contents(theirs) == []


def test_slots_are_reordered_and_every_slot_must_be_named(user):
    project = create_project(user=user, name="Order")
    items = [card(user) for _ in range(3)]
    add_to_project(user=user, project=project, items=items)
    slots = list(Slot.objects.filter(project=project).order_by("position"))
    reorder_slots(project=project, slot_ids=[slots[2].pk, slots[0].pk, slots[1].pk])
    assert contents(project) == [items[2].pk, items[0].pk, items[1].pk]
    with pytest.raises(ProjectRefused):
        reorder_slots(project=project, slot_ids=[slots[0].pk])


def test_a_video_is_moved_or_copied_between_projects(user):
    source = create_project(user=user, name="A")
    target = create_project(user=user, name="B")
    moving, copied = card(user), card(user)
    add_to_project(user=user, project=source, items=[moving, copied])
    move_item(user=user, slot=Slot.objects.get(project=source, item=moving), target=target)
    copy_item(user=user, item=copied, target=target)
    assert contents(source) == [None, copied.pk]
    assert contents(target) == [moving.pk, copied.pk]


def test_a_deleted_video_leaves_its_slot_free(user):
    project = create_project(user=user, name="Gap")
    items = [card(user) for _ in range(2)]
    add_to_project(user=user, project=project, items=items)
    items[0].delete()
    assert contents(project) == [None, items[1].pk]


def test_a_project_needs_a_name(user):
    with pytest.raises(ProjectRefused):
        create_project(user=user, name="  ")
