"""In-memory records of requests and counters, guarded by one lock.

Every handler thread and request worker reads and writes through ``Store``;
snapshots are plain dicts so JSON encoding never races a worker.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

IN_QUEUE = "IN_QUEUE"
IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"

_print_lock = threading.Lock()


def iso(ts: Optional[float] = None) -> str:
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log_line(message: str) -> None:
    """One line per event on stdout; flushed so a parent process sees it at once."""
    with _print_lock:
        sys.stdout.write(f"{iso()} {message}\n")
        sys.stdout.flush()


@dataclass
class Failure:
    """How a request failed, answered in fal's shapes: a model error is
    ``{"detail": [{"loc", "msg", "type"}, ...]}``; a request (infrastructure) error is
    ``{"detail": "...", "error_type": ...}`` with the same type in ``X-Fal-Error-Type``."""

    message: str
    error_type: str
    http_status: int  # what GET .../requests/{id} answers for this failure
    entries: Optional[list[dict[str, Any]]] = None  # the model's detail list, when it has one
    request_error: bool = False

    def detail(self) -> list[dict[str, Any]]:
        if self.entries is not None:
            return self.entries
        return [{"loc": ["body"], "msg": self.message, "type": self.error_type}]

    def body(self) -> dict[str, Any]:
        """The result call's answer (and an ERROR webhook's ``payload``)."""
        if self.request_error:
            return {"detail": self.message, "error_type": self.error_type}
        return {"detail": self.detail()}

    def headers(self) -> dict[str, str]:
        return {"X-Fal-Error-Type": self.error_type} if self.request_error else {}


@dataclass
class SandboxRequest:
    id: str
    application: str
    arguments: dict[str, Any]
    webhook_url: Optional[str]
    faults: list[str]
    initial_position: int
    created_at: float = field(default_factory=time.time)
    status: str = IN_QUEUE
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    result: Optional[dict[str, Any]] = None
    failure: Optional[Failure] = None
    file_name: Optional[str] = None
    file_size: Optional[int] = None
    cancel_requested: bool = False
    # Queued requests cancelled before they started: they never get a webhook.
    removed: bool = False
    # Dropped by /_sandbox/reset or shutdown: its worker must stop without side effects.
    discarded: bool = False
    # Counted out of its endpoint's requests in flight (see Store.leave_flight).
    left_flight: bool = False
    # The id of the gateway's last attempt: request_id unless fal retried internally.
    gateway_request_id: str = ""
    webhook_attempts: list[dict[str, Any]] = field(default_factory=list)
    fault_events: list[dict[str, Any]] = field(default_factory=list)
    # File names whose links have expired (see Engine.expire_link): they answer 403.
    expired_files: set[str] = field(default_factory=set)
    downloads: int = 0
    status_polls: int = 0
    wake: threading.Event = field(default_factory=threading.Event, repr=False)
    completed_seen: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        self.gateway_request_id = self.gateway_request_id or self.id

    @property
    def owner_alias(self) -> str:
        return "/".join(self.application.split("/")[:2])

    def add_log(self, message: str, level: str = "INFO") -> None:
        self.logs.append({"message": message, "level": level, "source": "user", "timestamp": iso()})


def summarize_arguments(value: Any) -> Any:
    """Arguments for introspection, with data: URIs replaced by a short note."""
    if isinstance(value, dict):
        return {key: summarize_arguments(item) for key, item in value.items()}
    if isinstance(value, list):
        return [summarize_arguments(item) for item in value]
    if isinstance(value, str) and value.startswith("data:") and len(value) > 200:
        head = value.split(",", 1)[0]
        return f"{head},... ({len(value)} chars)"
    return value


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._requests: dict[str, SandboxRequest] = {}
        self._by_file: dict[str, str] = {}
        self.counters: Counter[str] = Counter()
        self.rejected_submits: list[dict[str, Any]] = []
        # Per endpoint: accepted submits, requests in flight now (accepted and not yet
        # completed) and the most ever in flight at once -- what a client's
        # concurrency cap is checked against.
        self.submits: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()

    def add(self, request: SandboxRequest) -> None:
        with self.lock:
            self._requests[request.id] = request
            self.counters["submissions"] += 1
            endpoint = request.application
            self.submits[endpoint] += 1
            self.in_flight[endpoint] += 1
            self.max_in_flight[endpoint] = max(self.max_in_flight[endpoint], self.in_flight[endpoint])

    def leave_flight(self, request: SandboxRequest) -> None:
        """The request completed (done, failed or cancelled): no longer in flight."""
        with self.lock:
            if request.left_flight or request.discarded:
                return
            request.left_flight = True
            self.in_flight[request.application] -= 1

    def get(self, request_id: str) -> Optional[SandboxRequest]:
        with self.lock:
            return self._requests.get(request_id)

    def by_file(self, file_name: str) -> Optional[SandboxRequest]:
        with self.lock:
            request_id = self._by_file.get(file_name)
            return self._requests.get(request_id) if request_id else None

    def register_file(self, file_name: str, request: SandboxRequest) -> None:
        with self.lock:
            self._by_file[file_name] = request.id

    def count(self, name: str, amount: int = 1) -> None:
        with self.lock:
            self.counters[name] += amount

    def note_fault(self, request: SandboxRequest, name: str, detail: str) -> None:
        """Record that a fault actually took effect, for /_sandbox/requests and the log."""
        with self.lock:
            request.fault_events.append({"fault": name, "detail": detail, "at": iso()})
        log_line(f"fault {name} on {request.id}: {detail}")

    def queued_count(self) -> int:
        with self.lock:
            return sum(1 for item in self._requests.values() if item.status == IN_QUEUE)

    def all(self) -> list[SandboxRequest]:
        with self.lock:
            return list(self._requests.values())

    def clear(self) -> list[SandboxRequest]:
        with self.lock:
            dropped = list(self._requests.values())
            self._requests.clear()
            self._by_file.clear()
            self.counters.clear()
            self.rejected_submits.clear()
            self.submits.clear()
            self.in_flight.clear()
            self.max_in_flight.clear()
            return dropped

    def snapshot(self, request: SandboxRequest) -> dict[str, Any]:
        with self.lock:
            return {
                "id": request.id,
                "application": request.application,
                "arguments": summarize_arguments(request.arguments),
                "status": request.status,
                "cancelled": request.cancel_requested,
                "removed": request.removed,
                "error": request.failure.message if request.failure else None,
                "gateway_request_id": request.gateway_request_id,
                "webhook_url": request.webhook_url,
                "webhook_attempts": len(request.webhook_attempts),
                "webhook_responses": [dict(item) for item in request.webhook_attempts],
                "faults": list(request.faults),
                "fault_events": [dict(item) for item in request.fault_events],
                "downloads": request.downloads,
                "status_polls": request.status_polls,
                "file_size": request.file_size,
                "video_url": (request.result or {}).get("video", {}).get("url"),
                "expired_files": sorted(request.expired_files),
                "created_at": iso(request.created_at),
                "started_at": iso(request.started_at) if request.started_at else None,
                "finished_at": iso(request.finished_at) if request.finished_at else None,
            }

    def stats(self) -> dict[str, Any]:
        with self.lock:
            statuses = Counter(item.status for item in self._requests.values())
            names = (
                "submit_calls", "submissions", "submit_faults", "completed", "errors", "cancels",
                "webhooks_sent", "webhooks_delivered", "webhooks_failed", "downloads", "status_polls", "uploads",
            )
            stats: dict[str, Any] = {name: self.counters[name] for name in names}
            stats["in_queue"] = statuses[IN_QUEUE]
            stats["in_progress"] = statuses[IN_PROGRESS]
            stats["rejected_submits"] = [dict(item) for item in self.rejected_submits]
            stats["submits"] = dict(self.submits)
            stats["in_flight"] = {name: count for name, count in self.in_flight.items() if count}
            stats["max_in_flight"] = dict(self.max_in_flight)
            return stats
