"""Run the local fal sandbox as a subprocess: ``with run_sandbox(seconds=1) as sandbox: ...``
(tests, the chaos run, benchmarks)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import tempfile
import threading
import urllib.request
from collections import deque
from contextlib import contextmanager
from typing import IO, Any, Iterator, Optional, Sequence

from devtools import processes
from devtools.processes import ROOT

STOP_TIMEOUT = 5.0
_BANNER = "falsandbox listening on "
# The child must not pick these up from the developer's shell: tests pass everything explicitly.
_ENV_SETTINGS = ("SANDBOX_SECONDS", "SANDBOX_FAULTS", "SANDBOX_KEY_FILE", "SANDBOX_PUBLIC_URL")


class SandboxProcess:
    def __init__(self, process: subprocess.Popen[str], url: str, output: deque[str]) -> None:
        self.process = process
        self.url = url.rstrip("/")
        self.jwks_url = f"{self.url}/.well-known/jwks.json"
        self.output = output  # recent log lines, handy when a test fails

    def _call(self, method: str, path: str) -> Any:
        call = urllib.request.Request(f"{self.url}{path}", method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(call, timeout=10) as response:
            return json.loads(response.read())

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_sandbox/requests")

    def request(self, request_id: str) -> dict[str, Any]:
        for item in self.requests():
            if item["id"] == request_id:
                return item
        raise KeyError(request_id)

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/stats")

    def jwks(self) -> dict[str, Any]:
        return self._call("GET", "/.well-known/jwks.json")

    def reset(self) -> None:
        self._call("POST", "/_sandbox/reset")

    def expire(self, request_id: str, *, reissue: bool = False) -> dict[str, Any]:
        """Make a finished request's video link expire (403); with reissue, its result
        then names a new link."""
        return self._call("POST", f"/_sandbox/requests/{request_id}/expire{'?reissue=1' if reissue else ''}")


def _pump(stream: IO[str], first: "queue.Queue[Optional[str]]", keep: deque[str]) -> None:
    # Reading continuously keeps the child from blocking on a full stdout pipe.
    waiting = True
    for line in stream:
        line = line.rstrip("\n")
        keep.append(line)
        if waiting:
            first.put(line)
            waiting = False
    if waiting:
        first.put(None)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


@contextmanager
def run_sandbox(
    *,
    seconds: float = 1.0,
    faults: str = "",
    key_file: Optional[os.PathLike[str] | str] = None,
    extra_args: Sequence[str] = (),
) -> Iterator[SandboxProcess]:
    env = {key: value for key, value in os.environ.items() if key not in _ENV_SETTINGS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    # Port 0: the sandbox binds a free port itself and names it in its first line, so two
    # runs on one machine never race for a port.
    spec = processes.sandbox(port=0, seconds=seconds, faults=faults, key_file=key_file, extra=tuple(extra_args))

    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(spec.argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, bufsize=1)

        def describe() -> str:
            stderr.seek(0)
            return f"exit code {process.poll()}:\n{stderr.read()[-5000:]}"

        try:
            assert process.stdout is not None
            lines: queue.Queue[Optional[str]] = queue.Queue()
            keep: deque[str] = deque(maxlen=2000)
            threading.Thread(target=_pump, args=(process.stdout, lines, keep), daemon=True).start()
            try:
                first = lines.get(timeout=processes.START_DEADLINE_SECONDS)
            except queue.Empty:
                first = None
            if not first or not first.startswith(_BANNER):
                raise processes.NotReady(f"falsandbox did not start (first line {first!r}), {describe()}")
            sandbox = SandboxProcess(process, first[len(_BANNER):].strip(), keep)
            processes.wait_until_answering(
                f"{sandbox.url}/health", alive=lambda: process.poll() is None,
                ok=lambda response: response.status_code == 200, describe=describe,
            )
            yield sandbox
        finally:
            _stop(process)
