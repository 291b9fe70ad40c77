"""The HTTP face of the sandbox: fal's queue protocol plus test introspection.

Speaks HTTP/1.1 with keep-alive like the real queue, so every response carries
a Content-Length and every request body is read before answering.
"""

from __future__ import annotations

import json
import socket
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, unquote, urlsplit

import falschemas

from .config import SandboxConfig
from .downloads import serve_file
from .faults import FaultPlanner, once_key, requested_names, unknown_names
from .lifecycle import Engine
from .signing import Signer
from .state import COMPLETED, IN_QUEUE, SandboxRequest, Store, iso, log_line

MAX_BODY = 64 * 1024 * 1024
# Paths of fal's other hosts that the app's sandbox client sends here (storage and CDN
# uploads), and the sandbox's own; never taken for an application's owner.
_RESERVED_ROOTS = {"_sandbox", "_storage", "files", ".well-known", "health", "storage"}
LOCKED_DETAIL = "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, config: SandboxConfig, signer: Signer, planner: FaultPlanner) -> None:
        if ":" in config.host:
            self.address_family = socket.AF_INET6
        super().__init__((config.host, config.port), Handler)
        self.config = config
        self.signer = signer
        self.planner = planner
        self.store = Store()
        port = self.server_address[1]
        url_host = config.host
        if url_host in ("", "0.0.0.0", "::"):
            url_host = "127.0.0.1"  # a wildcard address is not something a client can connect to
        elif ":" in url_host:
            url_host = f"[{url_host}]"
        self.public_url = (config.public_url or f"http://{url_host}:{port}").rstrip("/")
        self.engine = Engine(config, self.store, signer, self.public_url)

    def stop_sandbox(self) -> None:
        self.engine.shutdown()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "falsandbox/1"
    timeout = 60  # idle keep-alive connections are dropped after this
    server: SandboxServer

    # --- plumbing ------------------------------------------------------------

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # The path without its query: a submit's fal_webhook carries the task's secret token.
        log_line(f"{self.command} {urlsplit(self.path).path} -> {code}")

    def log_message(self, format: str, *args: Any) -> None:
        log_line(f"http: {format % args}")

    def _json(self, status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self) -> Optional[bytes]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True  # the unread body would poison the next request
            self._json(413, {"detail": f"Request body larger than {MAX_BODY} bytes"})
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _authorized(self) -> bool:
        scheme, _, key = (self.headers.get("Authorization") or "").partition(" ")
        if scheme == "Key" and key.strip():
            return True
        self._json(401, {"detail": "Missing or invalid Authorization header; expected 'Key <your key>'"})
        return False

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        self.segments = [unquote(part) for part in url.path.strip("/").split("/") if part]
        try:
            body = self._read_body()
            if body is None:
                return
            self._route(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log_line("handler crashed:\n" + traceback.format_exc())
            self.close_connection = True
            try:
                self._json(500, {"detail": "falsandbox internal error"})
            except OSError:
                pass

    def _route(self, body: bytes) -> None:
        method, parts = self.command, self.segments
        path = "/".join(parts)
        if method in ("GET", "HEAD"):
            if path == "health":
                return self._json(200, {"ok": True})
            if path == ".well-known/jwks.json":
                return self._json(200, self.server.signer.jwks())
            if path == "_sandbox/requests":
                store = self.server.store
                return self._json(200, [store.snapshot(item) for item in store.all()])
            if path == "_sandbox/stats":
                return self._json(200, self.server.store.stats())
            if len(parts) == 2 and parts[0] == "files":
                return serve_file(self, self.server.store, self.server.engine.files_dir, parts[1], method == "HEAD")
            if len(parts) == 3 and parts[0] == "files":
                return self._serve_upload(parts[1], parts[2], method == "HEAD")
            if len(parts) == 5 and parts[2] == "requests" and parts[4] == "status":
                return self._status(parts)
            if len(parts) == 4 and parts[2] == "requests":
                return self._result(parts)
        elif method == "POST":
            if path == "_sandbox/reset":
                self.server.engine.discard_all()
                self.server.planner.reset()
                return self._json(200, {"ok": True})
            if path == "storage/auth/token":
                return self._storage_token()
            if path == "files/upload":
                return self._cdn_upload(body)
            if path == "storage/upload/initiate":
                return self._storage_initiate(body)
            if len(parts) == 4 and parts[:2] == ["_sandbox", "requests"] and parts[3] == "expire":
                return self._expire(parts[2])
            if len(parts) >= 2 and parts[0] not in _RESERVED_ROOTS and "requests" not in parts[2:3]:
                return self._submit("/".join(parts), body)
        elif method == "PUT":
            if len(parts) == 5 and parts[2] == "requests" and parts[4] == "cancel":
                return self._cancel(parts)
            if len(parts) == 2 and parts[0] == "_storage":
                return self._storage_put(parts[1], body)
        self._json(404 if method in ("GET", "HEAD", "POST", "PUT") else 405, {"detail": "Not Found"})

    # --- queue endpoints -----------------------------------------------------

    def _lookup(self, parts: list[str]) -> Optional[SandboxRequest]:
        request = self.server.store.get(parts[3])
        # Calls by id carry only owner/alias; a mismatch is a different app, so unknown.
        if request is None or request.owner_alias != f"{parts[0]}/{parts[1]}":
            return None
        return request

    def _urls(self, request: SandboxRequest) -> dict[str, str]:
        base = f"{self.server.public_url}/{request.owner_alias}/requests/{request.id}"
        return {"response_url": base, "status_url": base + "/status", "cancel_url": base + "/cancel"}

    def _submit(self, application: str, body: bytes) -> None:
        server = self.server
        server.store.count("submit_calls")
        if not self._authorized():
            return
        try:
            arguments = json.loads(body or b"null")
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            detail = [{"loc": ["body"], "msg": "Input should be a valid JSON object", "type": "model_type"}]
            return self._json(422, {"detail": detail})
        if not falschemas.known(application):
            # fal has no such endpoint; nothing is queued. (fal's pages do not show this
            # answer; a 404 with a plain detail is what its gateway gives a path it lacks.)
            with server.store.lock:
                server.store.rejected_submits.append({"fault": None, "application": application, "reason": "unknown endpoint", "at": iso()})
            return self._json(404, {"detail": f"Application '{application}' not found"})
        requested = requested_names(arguments)
        for name in unknown_names(requested):
            log_line(f"ignoring unknown fault {name!r}")
        fault = server.planner.submit_fault(requested, once_key(arguments))
        if fault:
            return self._submit_fault(fault, application, arguments)
        # The arguments are not checked here: fal queues any JSON object and the model
        # refuses bad input when it runs (see Engine._refusal).
        webhook_url = self.query.get("fal_webhook")
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            detail = [{"loc": ["query", "fal_webhook"], "msg": "Input should be a valid URL", "type": "url_parsing"}]
            return self._json(422, {"detail": detail})
        request = server.engine.create(application, arguments, webhook_url, server.planner.request_faults(requested))
        log_line(f"submitted {request.id} {application} faults={request.faults or '-'} webhook={urlsplit(webhook_url)._replace(query="").geturl() if webhook_url else '-'}")
        if "submit_lost_answer" in request.faults:
            server.engine.stop.wait(server.config.hang_seconds)
            self.close_connection = True
            return
        answer = {"status": IN_QUEUE, "request_id": request.id, **self._urls(request), "queue_position": request.initial_position}
        self._json(200, answer, {"x-fal-request-id": request.id})

    def _submit_fault(self, fault: str, application: str, arguments: dict[str, Any]) -> None:
        store = self.server.store
        prompt = arguments.get("prompt")
        with store.lock:
            store.counters["submit_faults"] += 1
            store.rejected_submits.append(
                {"fault": fault, "application": application, "prompt": prompt if isinstance(prompt, str) else None, "at": iso()}
            )
        log_line(f"fault {fault} on submit to {application}")
        if fault == "submit_500":
            return self._json(500, {"detail": "Sandbox: internal server error (fault injected)"})
        if fault == "submit_429":
            payload = {"detail": "Sandbox: rate limit exceeded (fault injected)", "error_type": "rate_limited"}
            return self._json(429, payload, {"Retry-After": "1", "X-Fal-Error-Type": "rate_limited"})
        if fault == "account_locked":
            return self._json(403, {"detail": LOCKED_DETAIL})
        # submit_timeout: hold the connection, then drop it without a single byte of answer.
        self.server.engine.stop.wait(self.server.config.hang_seconds)
        self.close_connection = True

    def _status(self, parts: list[str]) -> None:
        if not self._authorized():
            return
        request = self._lookup(parts)
        if request is None:
            return self._json(404, {"detail": "Request not found"})
        with_logs = self.query.get("logs") in ("true", "1", "True")
        store, engine = self.server.store, self.server.engine
        with store.lock:
            request.status_polls += 1
            store.counters["status_polls"] += 1
            answer: dict[str, Any] = {"status": request.status, "request_id": request.id, "queue_position": None,
                                      "logs": None, **self._urls(request)}
            if request.status == IN_QUEUE:
                answer["queue_position"] = engine.queue_position(request)
            elif with_logs:
                answer["logs"] = [dict(entry) for entry in request.logs]
            if request.status == COMPLETED:
                answer["metrics"] = {"inference_time": engine.inference_time(request)}
                if request.failure is not None:
                    answer["error"] = request.failure.message
                    answer["error_type"] = request.failure.error_type
        done = request.status == COMPLETED
        if done:
            request.completed_seen.set()
        # fal: 202 while the request is queued or running, 200 once it is completed.
        self._json(200 if done else 202, answer, {"x-fal-request-id": request.id})

    def _result(self, parts: list[str]) -> None:
        if not self._authorized():
            return
        request = self._lookup(parts)
        if request is None:
            return self._json(404, {"detail": "Request not found"})
        headers = {"x-fal-request-id": request.id}
        with self.server.store.lock:
            status, failure, result = request.status, request.failure, request.result
        if status != COMPLETED:
            return self._json(400, {"detail": "Request is still in progress"}, headers)
        request.completed_seen.set()
        if failure is not None:
            # fal's result call answers with what the model answered, error included.
            return self._json(failure.http_status, failure.body(), {**headers, **failure.headers()})
        self._json(200, result, headers)

    def _expire(self, request_id: str) -> None:
        """POST /_sandbox/requests/{id}/expire[?reissue=1]: the result's link stops
        working (403); with reissue the result names a new link."""
        request = self.server.store.get(request_id)
        if request is None:
            return self._json(404, {"detail": "Request not found"})
        url = self.server.engine.expire_link(request, reissue=self.query.get("reissue") in ("1", "true", "True"))
        if url is None:
            return self._json(409, {"detail": "Request has no video to expire"})
        self._json(200, {"url": url, "expired_files": sorted(request.expired_files)})

    def _cancel(self, parts: list[str]) -> None:
        if not self._authorized():
            return
        request = self._lookup(parts)
        if request is None:
            return self._json(404, {"status": "NOT_FOUND"})
        headers = {"x-fal-request-id": request.id}
        if "cancel_fail" in request.faults:
            self.server.store.note_fault(request, "cancel_fail", "cancel answered 500")
            return self._json(500, {"detail": "Sandbox: cancel failed (fault injected)"}, headers)
        outcome = self.server.engine.cancel(request)
        self._json(202 if outcome == "CANCELLATION_REQUESTED" else 400, {"status": outcome}, headers)

    # --- fal's storage, as fal-client uploads to it (see uploads.py) -----------

    def _storage_token(self) -> None:
        if not self._authorized():
            return
        if self.query.get("storage_type") != "fal-cdn-v3":
            return self._json(422, {"detail": [{"loc": ["query", "storage_type"], "msg": "Input should be 'fal-cdn-v3'", "type": "literal_error"}]})
        self._json(200, self.server.engine.uploads.issue_token())

    def _cdn_upload(self, body: bytes) -> None:
        uploads = self.server.engine.uploads
        if not uploads.token_valid(self.headers.get("Authorization") or ""):
            return self._json(401, {"detail": "Invalid or expired upload token"})
        upload = uploads.store(body, self.headers.get("Content-Type") or "", self.headers.get("X-Fal-File-Name"))
        self.server.store.count("uploads")
        log_line(f"upload {upload.key} {upload.name} ({upload.size} bytes, {upload.content_type})")
        self._json(200, {"access_url": uploads.url(upload)})

    def _storage_initiate(self, body: bytes) -> None:
        if not self._authorized():
            return
        try:
            spec = json.loads(body or b"null")
        except ValueError:
            spec = None
        if not isinstance(spec, dict) or not isinstance(spec.get("content_type"), str):
            return self._json(422, {"detail": [{"loc": ["body", "content_type"], "msg": "Field required", "type": "missing"}]})
        uploads = self.server.engine.uploads
        upload_url, upload = uploads.initiate(spec["content_type"], spec.get("file_name"))
        self._json(200, {"upload_url": upload_url, "file_url": uploads.url(upload)})

    def _storage_put(self, signed: str, body: bytes) -> None:
        upload = self.server.engine.uploads.receive(signed, body)
        if upload is None:
            return self._json(404, {"detail": "Upload URL not found or already used"})
        self.server.store.count("uploads")
        log_line(f"upload {upload.key} {upload.name} ({upload.size} bytes, {upload.content_type})")
        self._json(200, {})

    def _serve_upload(self, key: str, name: str, head_only: bool) -> None:
        upload = self.server.engine.uploads.get(key, name)
        if upload is None:
            return self._json(404, {"detail": "File not found"})
        data = upload.path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", upload.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head_only:
            self.wfile.write(data)
