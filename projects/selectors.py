"""Reads of projects: a user's projects, a project's slots and what is running in it."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from projects.models import Project, Slot


def projects_for(user) -> QuerySet[Project]:
    return Project.objects.filter(user=user).annotate(
        slot_total=Count("slots"), filled=Count("slots", filter=Q(slots__item__isnull=False))
    )


def project_slots(project: Project) -> list[Slot]:
    """The project's slots in order, each with its card, task and job at hand."""
    return list(
        Slot.objects.filter(project=project).select_related("item__task__job").order_by("position")
    )


def running_items(slots: list[Slot]) -> list:
    """The cards of the project's slots whose videos are still being made: the
    project's running job, which the page keeps live."""
    return [slot.item for slot in slots if slot.item is not None and not slot.item.task.is_finished]
