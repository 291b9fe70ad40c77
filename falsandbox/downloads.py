"""Serving rendered files, including the ways a result download can go wrong."""

from __future__ import annotations

import random
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Iterator, Optional

from .config import SLOW_BYTES_PER_SECOND, TOO_LARGE_BYTES
from .faults import result_fault
from .state import SandboxRequest, Store

CHUNK = 64 * 1024
_WRONG_TYPE_PAGE = (
    b"<!doctype html><html><head><title>Access denied</title></head>"
    b"<body><h1>403</h1><p>This object is not public (falsandbox result_wrong_type fault).</p></body></html>"
)


def _file_chunks(path: Path, limit: Optional[int] = None, chunk: int = CHUNK) -> Iterator[bytes]:
    remaining = path.stat().st_size if limit is None else limit
    with path.open("rb") as handle:
        while remaining > 0:
            data = handle.read(min(chunk, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data


def _zeros(total: int) -> Iterator[bytes]:
    block = bytes(CHUNK)
    sent = 0
    while sent < total:
        size = min(CHUNK, total - sent)
        sent += size
        yield block if size == CHUNK else block[:size]


def _send(handler: BaseHTTPRequestHandler, status: int, content_type: str, length: int,
          body: Iterator[bytes], head_only: bool, pace: float = 0.0) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(length))
    handler.end_headers()
    if head_only:
        return
    try:
        for data in body:
            handler.wfile.write(data)
            if pace:
                time.sleep(pace)
    except (BrokenPipeError, ConnectionResetError):
        # Apps are expected to hang up on oversized or slow downloads; that is not an error here.
        handler.close_connection = True


def serve_file(handler: BaseHTTPRequestHandler, store: Store, files_dir: Path, name: str, head_only: bool) -> None:
    request = store.by_file(name)
    # Every link of a request (see Engine.expire_link) serves its one rendered file.
    path = files_dir / request.file_name if request is not None and request.file_name else None
    if request is None or path is None or not path.is_file():
        body = b'{"detail":"File not found"}'
        _send(handler, 404, "application/json", len(body), iter([body]), head_only)
        return
    if name in request.expired_files:
        # What an expired signed link of an object store answers.
        body = b'{"detail":"This link has expired"}'
        _send(handler, 403, "application/json", len(body), iter([body]), head_only)
        return
    fault = result_fault(request.faults)
    with store.lock:
        request.downloads += 1
        store.counters["downloads"] += 1
    if fault:
        store.note_fault(request, fault, "download")
    _serve_with_fault(handler, request, path, fault, head_only)


def _serve_with_fault(handler: BaseHTTPRequestHandler, request: SandboxRequest, path: Path,
                      fault: Optional[str], head_only: bool) -> None:
    size = path.stat().st_size
    if fault == "result_500":
        body = b'{"detail":"Sandbox: storage backend error (fault injected)"}'
        _send(handler, 500, "application/json", len(body), iter([body]), head_only)
    elif fault == "result_truncated":
        # Promise the whole file, deliver half, hang up: the client sees a short body.
        _send(handler, 200, "video/mp4", size, _file_chunks(path, limit=size // 2), head_only)
        handler.close_connection = True
    elif fault == "result_wrong_type":
        _send(handler, 200, "text/html; charset=utf-8", len(_WRONG_TYPE_PAGE), iter([_WRONG_TYPE_PAGE]), head_only)
    elif fault == "result_too_large":
        _send(handler, 200, "video/mp4", TOO_LARGE_BYTES, _zeros(TOO_LARGE_BYTES), head_only)
    elif fault == "result_slow":
        chunk = 2048
        _send(handler, 200, "video/mp4", size, _file_chunks(path, chunk=chunk), head_only,
              pace=chunk / SLOW_BYTES_PER_SECOND)
    elif fault == "result_not_video":
        noise = random.Random(request.id).randbytes(size)
        _send(handler, 200, "video/mp4", size, iter([noise]), head_only)
    else:
        _send(handler, 200, "video/mp4", size, _file_chunks(path), head_only)
