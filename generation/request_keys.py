"""One request, one job: a request may carry a key (the Generate form's one-time key,
or an API client's Idempotency-Key) and a key makes at most one job per user.

A repeat of the same request under the same key is answered with the first job; the
same key with a different request is refused, because the client is confused about
what it asked for and guessing would either lose a job or make one it did not mean.
"Same request" is decided on what the request asks for (every setting, and the input
images' bytes), not on how it was spelt."""

from __future__ import annotations

import hashlib
import json
import secrets

from django.core.files.uploadedfile import UploadedFile

REQUEST_KEY_MAX_LENGTH = 255


class RequestKeyReused(Exception):
    """The key already made a job for a different request."""

    message = "This key was already used for a different request."

    def __init__(self, job):
        self.job = job
        super().__init__(self.message)


def new_request_key() -> str:
    """A one-time key for a form about to be shown."""
    return secrets.token_urlsafe(24)


def _file_digest(upload: UploadedFile | None) -> str:
    if upload is None:
        return ""
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def request_digest(*, image: UploadedFile | None = None, end_image: UploadedFile | None = None, **settings) -> str:
    """SHA-256 of what a start request asks for: its settings and its images' bytes."""
    described = {
        **{name: (list(value) if isinstance(value, (list, tuple)) else value) for name, value in settings.items()},
        "image": _file_digest(image),
        "end_image": _file_digest(end_image),
    }
    canonical = json.dumps(described, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
