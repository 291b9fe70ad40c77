"""The project pages: translate requests into projects.services calls and back."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from generation.models import TaskStatus
from generation.services import watch_progress
from history.selectors import processing_estimates
from projects import services
from projects.models import Project, Slot
from projects.selectors import own_project, project_names, project_slots, projects_for, running_items, running_jobs


def _own(request: HttpRequest, project_id) -> Project:
    # Another user's project is a 404: its existence is not theirs to know.
    return get_object_or_404(Project, pk=project_id, user=request.user)


def _own_slot(project: Project, slot_id) -> Slot:
    return get_object_or_404(Slot.objects.select_related("project", "item"), pk=slot_id, project=project)


@login_required
@require_http_methods(["GET", "POST"])
def project_list(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            project = services.create_project(user=request.user, name=request.POST.get("name", ""))
        except services.ProjectRefused as refused:
            error = refused.message
        else:
            messages.success(request, _("Project “%(name)s” created.") % {"name": project.name})
            return redirect(project)
    projects = projects_for(request.user).order_by("-created_at")
    return render(request, "projects/list.html", {"projects": projects, "error": error}, status=400 if error else 200)


@login_required
@require_GET
def project_detail(request: HttpRequest, project_id) -> HttpResponse:
    project = _own(request, project_id)
    slots = project_slots(project)
    running = running_items(slots)
    watch_progress(task_ids=[item.task_id for item in running])
    others = [p for p in project_names(request.user) if p.pk != project.pk]
    return render(
        request,
        "projects/detail.html",
        {
            "project": project,
            "slots": slots,
            "running_jobs": running_jobs(slots),
            "others": others,
            "poll_ids": [str(item.pk) for item in running],
            "estimates": processing_estimates(
                item.task.job.model_key for item in running if item.task.status == TaskStatus.IN_PROGRESS
            ),
            "refresh_seconds": settings.GALLERY_REFRESH_SECONDS,
            "page_url": request.get_full_path(),
        },
    )


@login_required
@require_POST
def rename(request: HttpRequest, project_id) -> HttpResponse:
    project = _own(request, project_id)
    try:
        services.rename_project(user=request.user, project=project, name=request.POST.get("name", ""))
        messages.success(request, _("Renamed."))
    except services.ProjectRefused as refused:
        messages.error(request, refused.message)
    return redirect(project)


@login_required
@require_POST
def delete(request: HttpRequest, project_id) -> HttpResponse:
    project = _own(request, project_id)
    services.delete_project(user=request.user, project=project)
    messages.success(request, _("Project deleted; its videos are still in your history."))
    return redirect("projects:list")


@login_required
@require_POST
def shift(request: HttpRequest, project_id, slot_id) -> HttpResponse:
    """Up/down buttons: work without JavaScript."""
    project = _own(request, project_id)
    slot = _own_slot(project, slot_id)
    by = -1 if request.POST.get("direction") == "up" else 1
    services.shift_slot(project=project, slot=slot, by=by)
    return redirect(f"{project.get_absolute_url()}#slot-{slot.pk}")


@login_required
@require_POST
def reorder(request: HttpRequest, project_id) -> HttpResponse:
    """Drag and drop sends the whole new order as comma-separated slot ids."""
    project = _own(request, project_id)
    try:
        slot_ids = [int(value) for value in request.POST.get("order", "").split(",") if value.strip()]
        services.reorder_slots(project=project, slot_ids=slot_ids)
    except ValueError:
        messages.error(request, _("Give every slot of the project once."))
        return redirect(project) if not request.htmx else HttpResponse(status=400)
    except services.ProjectRefused as refused:
        messages.error(request, refused.message)
        return redirect(project) if not request.htmx else HttpResponse(refused.message, status=400)
    return HttpResponse(status=204) if request.htmx else redirect(project)


@login_required
@require_POST
def slot_remove(request: HttpRequest, project_id, slot_id) -> HttpResponse:
    project = _own(request, project_id)
    services.clear_slot(slot=_own_slot(project, slot_id))
    messages.success(request, _("Taken out of the project; the video is still in your history."))
    return redirect(project)


@login_required
@require_POST
def slot_transfer(request: HttpRequest, project_id, slot_id) -> HttpResponse:
    """Move or copy a slot's video into another of the user's projects."""
    project = _own(request, project_id)
    slot = _own_slot(project, slot_id)
    target = own_project(request.user, request.POST.get("target", ""))
    if target is None:
        messages.error(request, _("Choose one of your projects."))
        return redirect(project)
    try:
        if request.POST.get("mode") == "copy":
            if slot.item is None:
                raise services.ProjectRefused(_("That slot is empty."))
            placed = services.copy_item(user=request.user, item=slot.item, target=target)
            done = _("Copied to “%(name)s”.") if placed else _("Already in “%(name)s”.")
        else:
            services.move_item(user=request.user, slot=slot, target=target)
            done = _("Moved to “%(name)s”.")
        messages.success(request, done % {"name": target.name})
    except services.ProjectRefused as refused:
        messages.error(request, refused.message)
    return redirect(project)
