"""Writes of projects: create one, put videos into its slots, reorder, move and copy.

Slot assignment locks the project row, so two jobs started into one project at the
same moment fill different slots rather than the same one."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from history.models import HistoryItem
from projects.models import Project, Slot

logger = logging.getLogger(__name__)

MAX_SLOTS = 500


class ProjectRefused(Exception):
    """The request does not fit the project; `message` is safe to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def create_project(*, user, name: str, slot_count: int = 0) -> Project:
    """A new project with `slot_count` empty slots ready to be filled in order."""
    name = name.strip()
    if not name:
        raise ProjectRefused(_("A project needs a name."))
    if not 0 <= slot_count <= MAX_SLOTS:
        raise ProjectRefused(_("A project has between 0 and %(max)s slots.") % {"max": MAX_SLOTS})
    with transaction.atomic():
        project = Project.objects.create(user=user, name=name[:120])
        Slot.objects.bulk_create(Slot(project=project, position=n) for n in range(slot_count))
    return project


def place_items(*, project: Project, items: Sequence[HistoryItem]) -> list[Slot]:
    """Put `items` into the project's first free slots, in order, adding slots at the
    end when there are too few; an item already in the project stays where it is.
    The caller has checked that project and items are the same user's. Returns the
    slots filled."""
    with transaction.atomic():
        # Locked so that concurrent placements into one project see each other's slots.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        slots = list(Slot.objects.filter(project=project).order_by("position"))
        present = {slot.item_id for slot in slots if slot.item_id}
        wanted = [item for item in dict.fromkeys(items) if item.pk not in present]
        free = [slot for slot in slots if slot.item_id is None]
        if len(slots) - len(free) + len(wanted) > MAX_SLOTS:
            raise ProjectRefused(_("A project holds at most %(max)s videos.") % {"max": MAX_SLOTS})
        filled = []
        for slot, item in zip(free, wanted):
            slot.item = item
            filled.append(slot)
        Slot.objects.bulk_update(filled, ["item"])
        next_position = slots[-1].position + 1 if slots else 0
        extra = wanted[len(filled):]
        filled += Slot.objects.bulk_create(
            Slot(project=project, position=next_position + n, item=item) for n, item in enumerate(extra)
        )
    return filled


def add_to_project(*, user, project: Project, items: Iterable[HistoryItem]) -> list[Slot]:
    """The gallery's "add to project" (one card or many): the user's own cards into
    the user's own project."""
    items = list(items)
    if project.user_id != user.pk or any(item.user_id != user.pk for item in items):
        raise ProjectRefused(_("That project or video is not yours."))
    filled = place_items(project=project, items=items)
    logger.info("project %s: %d video(s) added", project.pk, len(filled))
    return filled


def reorder_slots(*, project: Project, slot_ids: Sequence[int]) -> None:
    """Give the project's slots the order of `slot_ids` (every slot, once each)."""
    with transaction.atomic():
        current = set(Slot.objects.select_for_update().filter(project=project).values_list("pk", flat=True))
        if len(slot_ids) != len(current) or set(slot_ids) != current:
            raise ProjectRefused(_("Give every slot of the project once."))
        # Positions are unique per project: move every slot out of the way first.
        offset = MAX_SLOTS * 10
        Slot.objects.filter(project=project).update(position=F("position") + offset)
        for position, slot_id in enumerate(slot_ids):
            Slot.objects.filter(pk=slot_id).update(position=position)


def copy_item(*, user, item: HistoryItem, target: Project) -> Slot | None:
    """Put a video into another project as well. None when it was there already."""
    filled = add_to_project(user=user, project=target, items=[item])
    return filled[0] if filled else None


def move_item(*, user, slot: Slot, target: Project) -> Slot | None:
    """Move the video of `slot` into `target`'s first free slot, leaving `slot` empty."""
    if slot.item_id is None:
        raise ProjectRefused(_("That slot is empty."))
    if slot.project.user_id != user.pk:
        raise ProjectRefused(_("That project or video is not yours."))
    with transaction.atomic():
        moved = copy_item(user=user, item=slot.item, target=target)
        if target.pk != slot.project_id:
            Slot.objects.filter(pk=slot.pk).update(item=None)
    return moved


def clear_slot(*, slot: Slot) -> None:
    """Take the video out of the project (the video itself stays in the gallery)."""
    Slot.objects.filter(pk=slot.pk).update(item=None)


def rename_project(*, user, project: Project, name: str) -> Project:
    """Give the user's project a new name (1 to 120 characters once trimmed)."""
    if project.user_id != user.pk:
        raise ProjectRefused(_("That project is not yours."))
    name = name.strip()
    if not name:
        raise ProjectRefused(_("A project needs a name."))
    Project.objects.filter(pk=project.pk).update(name=name[:120])
    project.name = name[:120]
    return project


def delete_project(*, user, project: Project) -> None:
    """Delete the project and its slots; the videos stay in the gallery."""
    if project.user_id != user.pk:
        raise ProjectRefused(_("That project is not yours."))
    project.delete()
    logger.info("project %s deleted", project.pk)


def shift_slot(*, project: Project, slot: Slot, by: int) -> None:
    """Move a slot `by` places earlier (negative) or later (positive) in its project,
    the others closing up around it; at either end it stays where it is."""
    if slot.project_id != project.pk:
        raise ProjectRefused(_("That slot is not in this project."))
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        order = list(Slot.objects.filter(project=project).order_by("position").values_list("pk", flat=True))
        index = order.index(slot.pk)
        target = max(0, min(len(order) - 1, index + by))
        if target == index:
            return
        order.insert(target, order.pop(index))
        reorder_slots(project=project, slot_ids=order)
