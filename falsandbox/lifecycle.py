"""A request's life: queued, rendering for real, completed, then the webhook.

Each request gets its own daemon thread; it sleeps on the request's ``wake``
event, which cancel, reset and shutdown set to cut any wait short.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import falschemas

from .config import TOO_LARGE_BYTES, SandboxConfig
from .render import RenderCancelled, decode_data_uri, image_size, render_video, seed_for, spec_from_arguments
from .signing import Signer
from .state import COMPLETED, IN_PROGRESS, IN_QUEUE, Failure, SandboxRequest, Store, log_line
from .uploads import Uploads
from .webhooks import WebhookSender

FAULT_ERROR_MESSAGE = "Sandbox: model failed to generate (fault injected)"
CANCELLED_MESSAGE = "Request cancelled by user"
# The first-frame image, under the names fal's video endpoints give it.
IMAGE_FIELDS = ("image_url", "start_image_url")


class _InjectedError(Exception):
    pass


def cancelled_failure() -> Failure:
    return Failure(CANCELLED_MESSAGE, "request_cancelled", 422)


class Engine:
    def __init__(self, config: SandboxConfig, store: Store, signer: Signer, public_url: str) -> None:
        self.config = config
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.stop = threading.Event()
        self.sender = WebhookSender(store, signer, self.stop, config.seconds)
        self._own_files_dir = config.files_dir is None
        self.files_dir = Path(tempfile.mkdtemp(prefix="falsandbox-")) if config.files_dir is None else config.files_dir
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.uploads = Uploads(self.files_dir, self.public_url)
        # A provider runs a bounded number of generations at once; the rest wait queued.
        # It also bounds the sandbox's memory (an encoder per render).
        self.render_slots = threading.BoundedSemaphore(config.max_concurrent)

    # --- API used by the HTTP handlers -------------------------------------

    def create(self, application: str, arguments: dict[str, Any], webhook_url: Optional[str], faults: list[str]) -> SandboxRequest:
        with self.store.lock:
            ahead = self.store.queued_count()
            request = SandboxRequest(
                id=str(uuid.uuid4()),
                application=application,
                arguments=arguments,
                webhook_url=webhook_url,
                faults=faults,
                initial_position=min(ahead, 8) + 2,
                gateway_request_id=str(uuid.uuid4()) if "gateway_retry" in faults else "",
            )
            self.store.add(request)
        worker = threading.Thread(target=self._run, args=(request,), name=f"request-{request.id[:8]}", daemon=True)
        worker.start()
        return request

    def queue_position(self, request: SandboxRequest) -> int:
        queue_seconds = self.config.queue_seconds
        if queue_seconds <= 0:
            return 0
        remaining = max(0.0, queue_seconds - (time.time() - request.created_at))
        # Counts down from initial_position to 0 over the queue phase.
        return min(request.initial_position, math.floor((request.initial_position + 1) * remaining / queue_seconds))

    def inference_time(self, request: SandboxRequest) -> float:
        if request.started_at is None:
            return 0.0
        return round((request.finished_at or time.time()) - request.started_at, 3)

    def cancel(self, request: SandboxRequest) -> str:
        """Returns CANCELLATION_REQUESTED or ALREADY_COMPLETED."""
        with self.store.lock:
            if request.status == COMPLETED or request.cancel_requested:
                return "ALREADY_COMPLETED"
            request.cancel_requested = True
            self.store.counters["cancels"] += 1
            if request.status == IN_QUEUE:
                # fal drops queued requests outright: no run, no webhook.
                request.removed = True
                request.status = COMPLETED
                request.failure = cancelled_failure()
                request.finished_at = time.time()
                self.store.leave_flight(request)
            request.wake.set()
        log_line(f"cancel {request.id} ({'removed from queue' if request.removed else 'stopping render'})")
        return "CANCELLATION_REQUESTED"

    def expire_link(self, request: SandboxRequest, *, reissue: bool) -> Optional[str]:
        """Make the result's current link stop working, as fal's media links do after
        a while. With `reissue`, the result (what GET .../requests/{id} answers) names
        a new working link to the same video; without, asking again gives the dead
        link. Returns the result's link now, or None if there is no video to expire."""
        with self.store.lock:
            if request.result is None or request.file_name is None:
                return None
            video = request.result["video"]
            request.expired_files.add(video["url"].rsplit("/", 1)[-1])
            if reissue:
                name = f"{request.id}-{len(request.expired_files)}.mp4"
                self.store.register_file(name, request)
                video["url"] = f"{self.public_url}/files/{name}"
            url = video["url"]
        log_line(f"expired a link of {request.id}{' and issued ' + url if reissue else ''}")
        return url

    def discard_all(self) -> None:
        """Forget every request (``/_sandbox/reset``); running workers stop quietly."""
        for request in self.store.clear():
            request.discarded = True
            request.wake.set()
            request.completed_seen.set()
            if request.file_name:
                (self.files_dir / request.file_name).unlink(missing_ok=True)
        self.uploads.clear()

    def shutdown(self) -> None:
        self.stop.set()
        for request in self.store.all():
            request.discarded = True
            request.wake.set()
            request.completed_seen.set()
        if self._own_files_dir:
            shutil.rmtree(self.files_dir, ignore_errors=True)

    # --- the worker ----------------------------------------------------------

    def _run(self, request: SandboxRequest) -> None:
        if request.wake.wait(self.config.queue_seconds):
            return  # cancelled while queued, reset or shutting down
        while not self.render_slots.acquire(timeout=0.1):
            if request.wake.is_set():
                return
        try:
            finished = self._run_in_slot(request)
        finally:
            self.render_slots.release()
        if finished:
            self.sender.dispatch(request)  # outside the slot: a held-back webhook must not block renders

    def _run_in_slot(self, request: SandboxRequest) -> bool:
        """Render the request; returns whether it finished (and so needs its webhook)."""
        with self.store.lock:
            if request.status != IN_QUEUE or request.discarded:
                return False
            request.status = IN_PROGRESS
            request.started_at = time.time()
            request.add_log("Sandbox worker picked up the request")
        log_line(f"start {request.id} {request.application}")
        failure = self._refusal(request)
        if failure is not None:
            # fal's apps check their input when a runner takes the request: the
            # request was accepted at submit and now completes with the model's 422.
            self._finish(request, failure)
            return True
        try:
            self._render(request)
        except RenderCancelled:
            if request.discarded:
                return False
            failure = cancelled_failure()
        except _InjectedError:
            failure = Failure(FAULT_ERROR_MESSAGE, "internal_server_error", 500)
            self.store.note_fault(request, "error", "generation failed on purpose")
        except Exception as exc:  # A render bug must still end the request, as a real model failure would.
            failure = Failure(f"Sandbox render failed: {type(exc).__name__}: {exc}", "internal_server_error", 500)
        if request.discarded:
            return False
        self._finish(request, failure)
        return True

    def _refusal(self, request: SandboxRequest) -> Optional[Failure]:
        """What the model would refuse about this request's input, as fal's 422."""
        entries = falschemas.validate(request.application, request.arguments)
        for name in IMAGE_FIELDS:
            value = request.arguments.get(name)
            if isinstance(value, str) and not self._image_bytes(value) and not value.startswith(("http://", "https://")):
                entries.append({"loc": ["body", name], "msg": "Failed to download the file. Please check if the URL is accessible.",
                                "type": "file_download_error", "input": value[:100]})
        if not entries and "validation_422" in request.faults:
            entries = [{"loc": ["body", "prompt"], "type": "content_policy_violation",
                        "msg": "The content could not be processed because it contained material flagged by a content checker.",
                        "url": "https://docs.fal.ai/errors/#content_policy_violation"}]
            self.store.note_fault(request, "validation_422", "valid request refused with 422")
        if not entries:
            return None
        return Failure(str(entries[0].get("msg", "Unprocessable Entity")), str(entries[0].get("type", "")), 422, entries=entries)

    def _image_bytes(self, value: object) -> Optional[bytes]:
        """An uploaded file of ours or a data: URI; other URLs are not fetched (no network)."""
        return self.uploads.bytes_for(value) or decode_data_uri(value)

    def _render(self, request: SandboxRequest) -> None:
        seed = seed_for(request.arguments)
        image = next((data for data in (self._image_bytes(request.arguments.get(name)) for name in IMAGE_FIELDS) if data), None)
        spec = spec_from_arguments(request.arguments, seed, image=image)
        with self.store.lock:
            request.add_log(f"Generating a {spec.duration:g}s {spec.width}x{spec.height} video (seed {seed})")
            source = image_size(image) if image else None
            if source:
                request.add_log(f"Animating the input image {source[0]}x{source[1]}")
        fail_midway = "error" in request.faults
        run_seconds = self.config.run_seconds
        started = request.started_at or time.time()
        step = max(1, spec.frame_count // 10)

        def on_frame(done: int, total: int) -> bool:
            if request.wake.is_set():
                return False
            if fail_midway and done >= total // 2:
                raise _InjectedError()
            if done % step == 0 or done == total:
                with self.store.lock:
                    request.add_log(f"Rendering frame {done}/{total} ({done * 100 // total}%)")
            # Pace the (fast) render so the IN_PROGRESS phase lasts as long as configured.
            delay = started + run_seconds * done / total - time.time()
            return not (delay > 0 and request.wake.wait(delay))

        file_name = f"{request.id}.mp4"
        size = render_video(spec, self.files_dir / file_name, on_frame)
        served_size = TOO_LARGE_BYTES if "result_too_large" in request.faults else size
        with self.store.lock:
            request.file_name, request.file_size = file_name, size
            request.result = {
                "video": {
                    "url": f"{self.public_url}/files/{file_name}",
                    "content_type": "video/mp4",
                    "file_name": "output.mp4",
                    "file_size": served_size,
                },
                "seed": seed,
            }
            self.store.register_file(file_name, request)

    def _finish(self, request: SandboxRequest, failure: Optional[Failure]) -> None:
        with self.store.lock:
            request.failure = failure
            request.status = COMPLETED
            request.finished_at = time.time()
            self.store.leave_flight(request)
            if failure is None:
                request.add_log("Video ready")
                self.store.counters["completed"] += 1
            else:
                request.result = None
                request.add_log(failure.message, level="ERROR")
                if failure.error_type != "request_cancelled":
                    self.store.counters["errors"] += 1
        log_line(f"completed {request.id} {'OK' if failure is None else 'ERROR: ' + failure.message}")
