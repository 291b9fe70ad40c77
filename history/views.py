from urllib.parse import urlsplit
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _, ngettext
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
from history.selectors import (
    GalleryFilters,
    Sort,
    gallery_groups,
    gallery_page,
    history_for,
    processing_estimates,
    rating_of,
    viewable_items,
)
from history.services import (
    RatingRefused,
    cancel_items,
    delete_history_item,
    delete_items,
    rate_item,
    set_favourite,
    zip_archive,
)
from projects.selectors import own_project, project_names, project_slots, running_jobs
from projects.services import ProjectRefused, add_to_project
from videoplanet.private_media import serve_private_file

MODEL_KEYS = frozenset(m.key for m in MODELS)
BULK_MAX = 500  # cards one bulk action takes at most


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


def _selectable(request: HttpRequest) -> bool:
    """Cards on the gallery's list carry a checkbox for the bulk bar (also when the
    poller or a button renders them again)."""
    return urlsplit(_page_url(request)).path == reverse("history:gallery")


def _page_number(value: str | None) -> int:
    # Anything that is not a page number shows the first page, as a paginator would.
    try:
        return max(1, min(int(value or 1), 100_000))
    except ValueError:
        return 1


def _filters(query) -> GalleryFilters:
    """The toolbar's choices from the query string; anything not valid is no filter
    (junk such as a NUL byte is never a database error)."""
    status = query.get("status", "")
    model_key = query.get("model", "")
    sort = query.get("sort", "")
    return GalleryFilters(
        status=status if status in TaskStatus.values else "",
        model_key=model_key if model_key in MODEL_KEYS else "",
        query=query.get("q", "").replace("\x00", "").strip()[:200],
        favourites=query.get("favourites") == "1",
        sort=sort if sort in Sort.values else Sort.NEWEST,
    )


@login_required
@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    filters = _filters(request.GET)
    page = gallery_page(
        request.user, number=_page_number(request.GET.get("page")), size=settings.GALLERY_PAGE_SIZE, filters=filters
    )
    groups = gallery_groups(page.items)
    unfinished = [item for item in page.items if not item.task.is_finished]
    watch_progress(task_ids=[item.task_id for item in unfinished])
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "groups": groups,
        "items": page.items,
        "filters": filters,
        "status": filters.status,
        "model_key": filters.model_key,
        "statuses": TaskStatus.choices,
        "sorts": Sort.choices,
        "models": MODELS,
        "projects": project_names(request.user),
        "query_string": query.urlencode(),
        "refresh_seconds": settings.GALLERY_REFRESH_SECONDS,
        "poll_ids": [str(item.pk) for item in unfinished],
        "estimates": _estimates(unfinished),
        "page_url": _page_url(request),
    }
    return render(request, "history/gallery.html", context)


def _estimates(items) -> dict:
    """Models' typical processing times, asked for only when a card is processing."""
    processing = [item.task.job.model_key for item in items if item.task.status == TaskStatus.IN_PROGRESS]
    return processing_estimates(processing) if processing else {}


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
    unfinished = [item for item in items if not item.task.is_finished]
    watch_progress(task_ids=[item.task_id for item in items if not item.task.is_finished])
    jobs = {item.task.job_id: item.task.job for item in items}
    progress = progress_for_jobs(jobs)
    heads = [(job, progress[job_id]) for job_id, job in jobs.items() if job_id in progress and progress[job_id].total > 1]
    context = {
        "items": items,
        "heads": heads,
        "poll_ids": poll_ids,
        "refresh_seconds": settings.GALLERY_REFRESH_SECONDS,
        "estimates": _estimates(unfinished),
        "page_url": _page_url(request),
        "selectable": _selectable(request),
    }
    # The detail page refreshes every panel, its actions included, with the card.
    if request.GET.get("detail") == "1" and len(items) == 1:
        context.update(_detail_context(items[0]), detail=True)
    # A project page also refreshes its "now making" panel.
    project = own_project(request.user, request.GET["project"]) if request.GET.get("project") else None
    if project is not None:
        context.update(project=project, running_jobs=running_jobs(project_slots(project)))
    return render(request, "history/card_updates.html", context)


def _detail_context(item: HistoryItem) -> dict:
    attempts = []
    task = item.task
    while task is not None:
        attempts.append(task)
        task = task.retried_from
    return {
        "detail_item": item,
        "progress": progress_for(item.task.job),
        "attempts": attempts,
        "rating": rating_of(item),
        "star_choices": range(1, 6),
    }


@login_required
@require_GET
def detail(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    if not item.task.is_finished:
        watch_progress(task_ids=[item.task_id])
    context = {
        "item": item,
        "page_url": _page_url(request),
        "poll_ids": [] if item.task.is_finished else [str(item.pk)],
        "refresh_seconds": settings.GALLERY_REFRESH_SECONDS,
        "estimates": _estimates([item]),
        "detail": True,
        **_detail_context(item),
    }
    return render(request, "history/detail.html", context)


@login_required
@require_POST
def retry(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    try:
        retry_task(task=item.task)
        messages.success(request, _("Trying again. The card will update by itself."))
    except TransitionRefused:
        messages.info(request, _("Only a failed or cancelled video can be retried."))
    except CreditRefused as refused:
        messages.error(request, refused.message)
    return redirect(_back(request))


@login_required
@require_POST
def cancel(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    try:
        cancel_task(task=item.task)
        messages.success(request, _("Cancelled."))
    except TransitionRefused:
        messages.info(request, _("This video is already finished or being saved; it can no longer be cancelled."))
    return redirect(_back(request))


@login_required
@require_POST
def delete(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    try:
        delete_history_item(item=item)
        messages.success(request, _("Deleted."))
    except TransitionRefused:
        messages.info(request, _("Cancel this video before deleting it."))
    return redirect("history:gallery")


def _card_response(request: HttpRequest, item_id) -> HttpResponse:
    """The card again (for htmx, which swaps it in place), with this request's messages
    as toasts' text in the HX-Trigger header left to the page."""
    item = _own_item(request, item_id)
    return render(request, "history/_card.html", {"item": item, "page_url": _page_url(request), "selectable": _selectable(request)})


@login_required
@require_POST
def rate(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    try:
        stars = int(request.POST.get("stars", ""))
    except ValueError:
        messages.error(request, _("Choose 1 to 5 stars."))
    else:
        try:
            # The card's stars carry no note: they keep the one given on the detail page.
            note = None if request.POST.get("keep_note") else request.POST.get("note", "")
            rate_item(item=item, stars=stars, note=note)
            messages.success(request, _("Thanks, your rating is saved."))
        except RatingRefused as refused:
            messages.error(request, str(refused))
    if request.htmx:
        return _card_response(request, item.pk)
    if request.POST.get("next"):
        return redirect(_back(request))
    return redirect("history:detail", item_id=item.pk)


@login_required
@require_POST
def favourite(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    set_favourite(item=item, favourite=request.POST.get("favourite") == "1")
    if request.htmx:
        return _card_response(request, item.pk)
    return redirect(_back(request))


BULK_ACTIONS = ("delete", "cancel", "add", "zip")


@login_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """The gallery's bulk bar: delete, cancel, add to a project or download the chosen
    cards (the user's own; other ids are ignored)."""
    action = request.POST.get("action", "")
    ids = []
    for value in request.POST.getlist("items")[:BULK_MAX]:
        try:
            ids.append(UUID(value))
        except ValueError:
            continue
    items = list(history_for(request.user).filter(pk__in=ids).order_by("-created_at"))
    if action not in BULK_ACTIONS:
        messages.error(request, _("Choose what to do with the selected videos."))
    elif not items:
        messages.info(request, _("Select some videos first."))
    elif action == "zip":
        response = StreamingHttpResponse(zip_archive(items), content_type="application/zip")
        response["Content-Disposition"] = content_disposition_header(True, "videoplanet-videos.zip")
        return response
    elif action == "add":
        project = own_project(request.user, request.POST.get("project", ""))
        if project is None:
            messages.error(request, _("Choose one of your projects."))
        else:
            try:
                placed = add_to_project(user=request.user, project=project, items=items)
                messages.success(request, ngettext(
                    "%(count)d video added to “%(name)s”.", "%(count)d videos added to “%(name)s”.", len(placed)
                ) % {"count": len(placed), "name": project.name})
            except ProjectRefused as refused:
                messages.error(request, refused.message)
    else:
        outcome = (delete_items if action == "delete" else cancel_items)(items=items)
        done = (
            ngettext("%(count)d video deleted.", "%(count)d videos deleted.", outcome.done)
            if action == "delete"
            else ngettext("%(count)d video cancelled.", "%(count)d videos cancelled.", outcome.done)
        ) % {"count": outcome.done}
        if outcome.skipped:
            done += " " + ngettext(
                "%(count)d left as it was: %(reason)s.", "%(count)d left as they were: %(reason)s.", outcome.skipped
            ) % {"count": outcome.skipped, "reason": outcome.reason}
        messages.success(request, done)
    return redirect(_back(request))


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
