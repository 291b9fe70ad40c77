"""Handing a stored file to the one person allowed to see it.

Nothing under MEDIA_ROOT or in the bucket is public. A view decides who may see a
file (the owner, staff) and then calls `serve_private_file`, which delivers it the
cheapest way the deployment allows:

- object storage (django-storages' S3 backend, or any storage whose `url()` takes
  `expire` and `parameters`): a redirect to a signed URL that stops working after
  `MEDIA_URL_EXPIRE_SECONDS`, carrying the download name;
- local disk behind nginx (`MEDIA_X_ACCEL_REDIRECT`, an internal location) or
  Apache/lighttpd (`MEDIA_X_SENDFILE`): a header telling the web server which file to
  send, so no Python process is tied up streaming it;
- otherwise Django streams the file itself, answering `Range` requests with 206 so a
  video player can seek.

Any app that stores private files (the gallery, pixel art, ...) calls this after its
own permission check.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from werkzeug.http import parse_range_header

CHUNK_BYTES = 64 * 1024


def download_name(text: str, *, suffix: str, fallback: str = "video") -> str:
    """A file name made from a prompt: "A red fox, at dawn!" -> "a-red-fox-at-dawn.mp4"."""
    stem = slugify(text)[:60].strip("-") or fallback
    return f"{stem}{suffix}"


def serve_private_file(request: HttpRequest, *, file: FieldFile, filename: str, as_attachment: bool = False) -> HttpResponse:
    """The response that delivers `file` (already checked to be the requester's) under
    `filename`: a signed redirect, a web-server handoff, or a stream with Range support."""
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    disposition = content_disposition_header(as_attachment, filename)
    storage = file.storage
    if not _is_local(storage):
        response = HttpResponseRedirect(_signed_url(storage, file.name, content_type, disposition))
    elif settings.MEDIA_X_ACCEL_REDIRECT:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = f"{settings.MEDIA_X_ACCEL_REDIRECT.rstrip('/')}/{quote(file.name)}"
    elif settings.MEDIA_X_SENDFILE:
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = storage.path(file.name)
    else:
        response = _stream(request, storage, file.name, content_type)
    if response.status_code != 416:
        response["Content-Disposition"] = disposition
    # Private to this user: no shared cache may keep it (or the signed redirect).
    response["Cache-Control"] = "private, max-age=0, no-store" if not _is_local(storage) else "private, max-age=3600"
    return response


def _is_local(storage) -> bool:
    # default_storage is a lazy proxy; isinstance sees through it.
    return isinstance(storage, FileSystemStorage)


def _signed_url(storage, name: str, content_type: str, disposition: str) -> str:
    return storage.url(
        name,
        parameters={"ResponseContentDisposition": disposition, "ResponseContentType": content_type},
        expire=settings.MEDIA_URL_EXPIRE_SECONDS,
    )


def _stream(request: HttpRequest, storage, name: str, content_type: str) -> HttpResponse:
    size = storage.size(name)
    wanted = _requested_range(request, size)
    if wanted == "unsatisfiable":
        response = HttpResponse(status=416, content_type="text/plain")
        response["Content-Range"] = f"bytes */{size}"
        return response
    handle = storage.open(name, "rb")
    if wanted is None:
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        start, stop = wanted
        response = StreamingHttpResponse(_read_part(handle, start, stop), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        response["Content-Length"] = str(stop - start)
    response["Accept-Ranges"] = "bytes"
    return response


def _requested_range(request: HttpRequest, size: int):
    """(start, stop) for a single satisfiable byte range; None to send the whole file
    (no Range, a malformed one, several ranges, or an If-Range we do not check);
    "unsatisfiable" for a range wholly past the end."""
    header = request.headers.get("Range")
    if not header or request.headers.get("If-Range"):
        return None
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return None
    bounds = parsed.range_for_length(size)
    return bounds if bounds is not None else "unsatisfiable"


def _read_part(handle, start: int, stop: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        left = stop - start
        while left > 0:
            chunk = handle.read(min(CHUNK_BYTES, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        handle.close()
