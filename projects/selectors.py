"""Reads of projects: a user's projects, a project's slots and what is running in it."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Count, Q, QuerySet

from generation.selectors import JobProgress, progress_for_jobs
from projects.models import Project, Slot


def projects_for(user) -> QuerySet[Project]:
    return Project.objects.filter(user=user).annotate(
        slot_total=Count("slots"), filled=Count("slots", filter=Q(slots__item__isnull=False))
    )


def project_names(user) -> list[Project]:
    """The user's projects for a choice (the Generate form, "add to project"), newest first."""
    return list(Project.objects.filter(user=user).only("pk", "name").order_by("-created_at"))


def own_project(user, project_id) -> Project | None:
    """The user's project with this id, or None (also for anyone else's)."""
    try:
        project_id = UUID(str(project_id))
    except ValueError:
        return None
    return Project.objects.filter(user=user, pk=project_id).first()


def project_slots(project: Project) -> list[Slot]:
    """The project's slots in order, each with its card, task and job at hand."""
    return list(
        Slot.objects.filter(project=project)
        .select_related("item__task__job", "item__task__retried_by", "item__rating")
        .order_by("position")
    )


def running_items(slots: list[Slot]) -> list:
    """The cards of the project's slots whose videos are still being made: the
    project's running job, which the page keeps live."""
    return [slot.item for slot in slots if slot.item is not None and not slot.item.task.is_finished]


def running_jobs(slots: list[Slot]) -> list[tuple]:
    """(job, progress) of each job with a video still being made in the project, in
    slot order: the project page's "now making" panel."""
    jobs = {}
    for item in running_items(slots):
        jobs.setdefault(item.task.job_id, item.task.job)
    progress = progress_for_jobs(list(jobs)) if jobs else {}
    return [(job, progress.get(job_id, JobProgress())) for job_id, job in jobs.items()]
