"""fal's storage, as fal-client uploads to it, so that input images travel by URL.

fal-client 1.0.3 uploads a file (below its 100 MB multipart threshold) in one of two ways:
- its default, fal's v3 CDN: ``POST https://rest.fal.ai/storage/auth/token?storage_type=fal-cdn-v3``
  (``Authorization: Key ...``) answers ``{"token", "token_type", "base_url", "expires_at"}``;
  then ``POST https://v3.fal.media/files/upload`` with the raw bytes, ``Authorization:
  <token_type> <token>``, ``Content-Type`` and ``X-Fal-File-Name``, answers ``{"access_url"}``;
- its fallback: ``POST https://rest.fal.ai/storage/upload/initiate?storage_type=gcs`` with
  ``{"file_name", "content_type"}`` answers ``{"upload_url", "file_url"}``; then a ``PUT`` of
  the bytes to ``upload_url``.
The sandbox answers both at the same paths (the app's sandbox client sends fal's
storage hosts here) and serves what was stored at ``/files/<key>/<name>``, where the
render picks it up when a request names that URL.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .state import iso

TOKEN_SECONDS = 3600
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Upload:
    key: str
    name: str
    content_type: str
    path: Path
    size: int = 0
    complete: bool = False


class Uploads:
    def __init__(self, files_dir: Path, public_url: str) -> None:
        self.dir = files_dir / "uploads"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.public_url = public_url.rstrip("/")
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._uploads: dict[str, Upload] = {}
        self._pending: dict[str, str] = {}  # signed upload id -> key, for the fallback's PUT

    # --- the CDN path ------------------------------------------------------------

    def issue_token(self) -> dict[str, str]:
        token = secrets.token_urlsafe(24)
        expires = time.time() + TOKEN_SECONDS
        with self._lock:
            self._tokens[token] = expires
        return {"token": token, "token_type": "Bearer", "base_url": self.public_url, "expires_at": iso(expires)}

    def token_valid(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            expires = self._tokens.get(token.strip())
        return scheme.lower() == "bearer" and expires is not None and expires > time.time()

    def store(self, data: bytes, content_type: str, file_name: Optional[str]) -> Upload:
        upload = self._new(content_type, file_name)
        self._write(upload, data)
        return upload

    # --- the storage fallback ------------------------------------------------------

    def initiate(self, content_type: str, file_name: Optional[str]) -> tuple[str, Upload]:
        upload = self._new(content_type, file_name)
        signed = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[signed] = upload.key
        return f"{self.public_url}/_storage/{signed}", upload

    def receive(self, signed: str, data: bytes) -> Optional[Upload]:
        with self._lock:
            key = self._pending.pop(signed, None)
            upload = self._uploads.get(key) if key else None
        if upload is not None:
            self._write(upload, data)
        return upload

    # --- reading back ------------------------------------------------------------

    def url(self, upload: Upload) -> str:
        return f"{self.public_url}/files/{upload.key}/{upload.name}"

    def get(self, key: str, name: str) -> Optional[Upload]:
        with self._lock:
            upload = self._uploads.get(key)
        return upload if upload is not None and upload.name == name and upload.complete else None

    def bytes_for(self, url: object) -> Optional[bytes]:
        """The stored bytes behind one of our access URLs, or None for any other value."""
        prefix = f"{self.public_url}/files/"
        if not isinstance(url, str) or not url.startswith(prefix):
            return None
        parts = url[len(prefix):].split("/")
        if len(parts) != 2:
            return None
        upload = self.get(parts[0], parts[1])
        return upload.path.read_bytes() if upload is not None else None

    def clear(self) -> None:
        with self._lock:
            uploads = list(self._uploads.values())
            self._uploads.clear()
            self._pending.clear()
            self._tokens.clear()
        for upload in uploads:
            upload.path.unlink(missing_ok=True)

    def _new(self, content_type: str, file_name: Optional[str]) -> Upload:
        key = secrets.token_hex(8)
        name = _SAFE_NAME.sub("_", (file_name or "upload.bin").rsplit("/", 1)[-1])[:100] or "upload.bin"
        upload = Upload(key=key, name=name, content_type=content_type or "application/octet-stream",
                        path=self.dir / f"{key}-{name}")
        with self._lock:
            self._uploads[key] = upload
        return upload

    def _write(self, upload: Upload, data: bytes) -> None:
        upload.path.write_bytes(data)
        with self._lock:
            upload.size = len(data)
            upload.complete = True
