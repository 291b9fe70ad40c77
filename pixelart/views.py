"""Pixel-art pages: the form, the section on a video's detail page, and the files,
served only to their owner."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from credits.services import CreditRefused
from history.models import HistoryItem
from history.selectors import history_for
from pixelart.forms import PixelArtForm
from pixelart.models import PixelArt, PixelArtStatus
from pixelart.selectors import frame_image, output_file, pixel_arts_for, pixel_arts_of, png_bytes
from pixelart.services import PixelArtRefused, check_source, last_frame_of, request_last_frame, request_pixel_art
from videoplanet.private_media import serve_private_file

REFRESH_SECONDS = 2


def _detail_url(item: HistoryItem) -> str:
    return reverse("history:detail", args=[item.pk]) + "#pixel-art"


@login_required
def new(request: HttpRequest, item_id) -> HttpResponse:
    # Another user's video is a 404: its existence is not theirs to know.
    item = get_object_or_404(history_for(request.user), pk=item_id)
    try:
        check_source(item)
    except PixelArtRefused as refused:
        messages.info(request, refused.message)
        return redirect("history:detail", item.pk)
    if request.method == "POST":
        form = PixelArtForm(request.POST, source=item)
        if form.is_valid():
            try:
                art, reused = request_pixel_art(user=request.user, source=item, options=form.options)
            except (PixelArtRefused, CreditRefused) as refused:  # CreditRefused: a suspended account
                form.add_error(None, refused.message)
            else:
                if reused:
                    messages.info(request, _("You asked for these settings before; here is that result."))
                else:
                    messages.success(request, _("Making your pixel art. You can leave this page; it will be here."))
                return redirect(_detail_url(item))
    else:
        form = PixelArtForm(source=item)
    return render(request, "pixelart/new.html", {"form": form, "item": item})


@login_required
@require_GET
def section(request: HttpRequest, item_id) -> HttpResponse:
    """The detail page's pixel-art section again, for its poller."""
    item = get_object_or_404(history_for(request.user), pk=item_id)
    return render(request, "pixelart/_section.html", section_context(item))


def section_context(item: HistoryItem) -> dict:
    arts = list(pixel_arts_of(item))
    return {
        "item": item,
        "arts": arts,
        "watching": any(not art.is_finished for art in arts),
        "refresh_seconds": REFRESH_SECONDS,
    }


def _own(request: HttpRequest, art_id) -> PixelArt:
    return get_object_or_404(pixel_arts_for(request.user), pk=art_id)


def serve_output(request: HttpRequest, art: PixelArt, name: str) -> HttpResponse:
    """One of `art`'s files (its owner already checked), delivered as videos are: a
    signed redirect, a web-server handoff or a stream (`serve_private_file`). The
    sheet and the GIF show in the browser; the JSON and the ZIP download."""
    found = output_file(art, name)
    if found is None:
        raise Http404(_("No such file."))
    stored, download_name = found
    return serve_private_file(request, file=stored, filename=download_name, as_attachment=name.endswith((".zip", ".json")))


@login_required
@require_GET
def output(request: HttpRequest, art_id, name: str) -> HttpResponse:
    return serve_output(request, _own(request, art_id), name)


@login_required
@require_GET
def frame(request: HttpRequest, art_id, index: int) -> HttpResponse:
    art = _own(request, art_id)
    try:
        image = frame_image(art, index)
    except LookupError:
        raise Http404(_("No such frame.")) from None
    return HttpResponse(png_bytes(image), content_type="image/png")


@login_required
@require_http_methods(["GET", "POST"])
def last_frame(request: HttpRequest, item_id) -> HttpResponse:
    """"Use the last frame as input image": the button posts here, a worker takes the
    frame, and this page (refreshing itself) opens the Generate page once it is there."""
    item = get_object_or_404(history_for(request.user), pk=item_id)
    try:
        frame = request_last_frame(user=request.user, source=item) if request.method == "POST" else last_frame_of(item)
    except PixelArtRefused as refused:
        messages.info(request, refused.message)
        return redirect("history:detail", item.pk)
    if request.method == "POST" or frame is None:
        return redirect("pixelart:last_frame", item.pk) if frame is not None else redirect("history:detail", item.pk)
    if frame.status == PixelArtStatus.COMPLETED:
        return redirect(reverse("generation:generate") + f"?frame=video:{item.pk}")
    if frame.status == PixelArtStatus.FAILED:
        messages.error(request, _("The last frame could not be taken: %(reason)s") % {"reason": frame.error_text})
        return redirect("history:detail", item.pk)
    return render(request, "pixelart/last_frame.html", {"item": item, "refresh_seconds": 1})
