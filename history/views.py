from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from api.errors import error_body
from credits.services import CreditRefused
from generation.catalog import MODELS
from generation.models import TaskStatus
from generation.selectors import progress_for, progress_for_jobs
from generation.services import cancel_task, retry_task, watch_progress
from generation.transitions import TransitionRefused
from history.models import HistoryItem
from history.selectors import gallery_groups, gallery_page, history_for, viewable_items
from history.selectors import rating_of
from history.services import RatingRefused, delete_history_item, rate_item
from projects.selectors import own_project, project_slots, running_jobs
from videoplanet.private_media import serve_private_file

MODEL_KEYS = frozenset(m.key for m in MODELS)


def _own_item(request: HttpRequest, item_id) -> HistoryItem:
    # Another user's item is a 404, not a 403: its existence is not theirs to know.
    return get_object_or_404(history_for(request.user), pk=item_id)


def _back(request: HttpRequest) -> str:
    """Where a card's button returns to: the page it was pressed on, if it is ours."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("history:gallery")


def _page_url(request: HttpRequest) -> str:
    """The page the user sees. A card swapped in by the poller is rendered for
    /history/updates/, so its buttons must return to the page htmx reports instead."""
    if request.htmx and request.htmx.current_url_abs_path:
        return request.htmx.current_url_abs_path
    return request.get_full_path()


def _page_number(value: str | None) -> int:
    # Anything that is not a page number shows the first page, as a paginator would.
    try:
        return max(1, min(int(value or 1), 100_000))
    except ValueError:
        return 1


@login_required
@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    model_key = request.GET.get("model", "")
    if status not in TaskStatus.values:
        status = ""
    if model_key not in MODEL_KEYS:  # junk (a NUL byte, say) is no filter, not a database error
        model_key = ""
    page = gallery_page(
        request.user, number=_page_number(request.GET.get("page")), size=settings.GALLERY_PAGE_SIZE,
        status=status, model_key=model_key,
    )
    groups = gallery_groups(request.user, page.jobs, status=status, model_key=model_key)
    items = [item for group in groups for item in group.items]
    watch_progress(task_ids=[item.task_id for item in items if not item.task.is_finished])
    context = {
        "page": page,
        "groups": groups,
        "items": items,
        "status": status,
        "model_key": model_key,
        "statuses": TaskStatus.choices,
        "models": MODELS,
        "refresh_seconds": settings.GALLERY_REFRESH_SECONDS,
        "poll_ids": [str(item.pk) for item in items if not item.task.is_finished],
        "page_url": _page_url(request),
    }
    return render(request, "history/gallery.html", context)


def _uuids(text: str) -> list[UUID]:
    """The valid ids in a comma-separated list; anything else is ignored."""
    ids = []
    for value in text.split(","):
        try:
            ids.append(UUID(value.strip()))
        except ValueError:
            continue
    return ids


@login_required
@require_GET
def card_updates(request: HttpRequest) -> HttpResponse:
    """The unfinished cards again, swapped in place, with the headers of their jobs;
    the answer drops the poller once every card it watched has finished, so an idle
    page stops asking."""
    ids = _uuids(request.GET.get("ids", ""))[:100]
    items = list(history_for(request.user).filter(pk__in=ids))
    poll_ids = [str(item.pk) for item in items if not item.task.is_finished]
    watch_progress(task_ids=[item.task_id for item in items if not item.task.is_finished])
    jobs = {item.task.job_id: item.task.job for item in items}
    progress = progress_for_jobs(jobs)
    heads = [(job, progress[job_id]) for job_id, job in jobs.items() if job_id in progress and progress[job_id].total > 1]
    context = {
        "items": items,
        "heads": heads,
        "poll_ids": poll_ids,
        "refresh_seconds": settings.GALLERY_REFRESH_SECONDS,
        "page_url": _page_url(request),
    }
    # A project page also refreshes its "now making" panel.
    project = own_project(request.user, request.GET["project"]) if request.GET.get("project") else None
    if project is not None:
        context.update(project=project, running_jobs=running_jobs(project_slots(project)))
    return render(request, "history/card_updates.html", context)


@login_required
@require_GET
def detail(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    if not item.task.is_finished:
        watch_progress(task_ids=[item.task_id])
    attempts = []
    task = item.task
    while task is not None:
        attempts.append(task)
        task = task.retried_from
    return render(
        request,
        "history/detail.html",
        {
            "item": item,
            "progress": progress_for(item.task.job),
            "page_url": _page_url(request),
            "attempts": attempts,
            "rating": rating_of(item),
            "star_choices": range(1, 6),
            "poll_ids": [] if item.task.is_finished else [str(item.pk)],
            "refresh_seconds": settings.GALLERY_REFRESH_SECONDS,
        },
    )


@login_required
@require_POST
def retry(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    try:
        retry_task(task=item.task)
        messages.success(request, "Trying again. The card will update by itself.")
    except TransitionRefused:
        messages.info(request, "Only a failed or cancelled video can be retried.")
    except CreditRefused as refused:
        messages.error(request, refused.message)
    return redirect(_back(request))


@login_required
@require_POST
def cancel(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    try:
        cancel_task(task=item.task)
        messages.success(request, "Cancelled.")
    except TransitionRefused:
        messages.info(request, "This video is already finished or being saved; it can no longer be cancelled.")
    return redirect(_back(request))


@login_required
@require_POST
def delete(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    try:
        delete_history_item(item=item)
        messages.success(request, "Deleted.")
    except TransitionRefused:
        messages.info(request, "Cancel this video before deleting it.")
    return redirect("history:gallery")


@login_required
@require_POST
def rate(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    try:
        stars = int(request.POST.get("stars", ""))
    except ValueError:
        messages.error(request, "Choose 1 to 5 stars.")
    else:
        try:
            rate_item(item=item, stars=stars, note=request.POST.get("note", ""))
            messages.success(request, "Thanks, your rating is saved.")
        except RatingRefused as refused:
            messages.error(request, str(refused))
    return redirect("history:detail", item_id=item.pk)


@require_GET
def media(request: HttpRequest, item_id, kind: str) -> HttpResponse:
    """A card's video, poster or input image, for its owner (or staff) only. Pages use
    the session; API clients the same token they use on /api/ (the API links here)."""
    try:
        authenticated = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return JsonResponse(error_body("not_authenticated", "Invalid token."), status=401)
    viewer = authenticated[0] if authenticated else request.user
    if not viewer.is_authenticated:
        return redirect_to_login(request.get_full_path())
    item = get_object_or_404(viewable_items(viewer), pk=item_id)
    found = item.private_file(kind)
    if found is None:
        raise Http404("no such file")
    file, filename = found
    return serve_private_file(request, file=file, filename=filename, as_attachment=request.GET.get("download") == "1")
