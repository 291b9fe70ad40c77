from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from generation.catalog import MODELS
from generation.models import TaskStatus
from generation.services import cancel_task, retry_task
from generation.transitions import TransitionRefused
from history.models import HistoryItem
from history.selectors import history_for
from history.services import delete_history_item


def _own_item(request: HttpRequest, item_id) -> HistoryItem:
    # Another user's item is a 404, not a 403: its existence is not theirs to know.
    return get_object_or_404(history_for(request.user), pk=item_id)


@login_required
@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    model_key = request.GET.get("model", "")
    if status not in TaskStatus.values:
        status = ""
    items = history_for(request.user, status=status, model_key=model_key)
    page = Paginator(items, settings.GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "items": page.object_list,
        "status": status,
        "model_key": model_key,
        "statuses": TaskStatus.choices,
        "models": MODELS,
        "refresh_seconds": settings.GALLERY_REFRESH_SECONDS,
        "poll_ids": [str(item.pk) for item in page.object_list if not item.task.is_finished],
    }
    return render(request, "history/gallery.html", context)


@login_required
@require_GET
def card_updates(request: HttpRequest) -> HttpResponse:
    """The unfinished cards again, swapped in place; the answer drops the poller once
    every card it watched has finished, so an idle page stops asking."""
    ids = [value for value in request.GET.get("ids", "").split(",") if value][:100]
    try:
        items = list(history_for(request.user).filter(pk__in=ids))
    except Exception:  # malformed ids
        items = []
    poll_ids = [str(item.pk) for item in items if not item.task.is_finished]
    return render(
        request,
        "history/card_updates.html",
        {"items": items, "poll_ids": poll_ids, "refresh_seconds": settings.GALLERY_REFRESH_SECONDS},
    )


@login_required
@require_GET
def detail(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
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
            "attempts": attempts,
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
    return redirect(request.POST.get("next") or "history:gallery")


@login_required
@require_POST
def cancel(request: HttpRequest, item_id) -> HttpResponse:
    item = _own_item(request, item_id)
    try:
        cancel_task(task=item.task)
        messages.success(request, "Cancelled.")
    except TransitionRefused:
        messages.info(request, "This video is already finished or being saved; it can no longer be cancelled.")
    return redirect(request.POST.get("next") or "history:gallery")


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
