"""One description of the product's local processes -- web server, task workers,
reconciler and the fal sandbox -- and one way to wait until a started server answers.

`make run` (devtools.serve), the local stack of the tests and benchmarks
(devtools.localstack) and the sandbox runner (devtools.sandbox) all build their command
lines here, so a flag changes in one place."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent

# How long a process may take to answer after it was started. Generous on purpose: on a
# machine busy with other work, interpreter start-up and imports alone can take seconds.
START_DEADLINE_SECONDS = 90.0


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: tuple[str, ...]


def web(*, bind: str, access_log: bool = False, python: str = sys.executable) -> ProcessSpec:
    argv = [
        python, "-m", "gunicorn", "videoplanet.wsgi:application", "--bind", bind,
        "--workers", "2", "--threads", "4", "--graceful-timeout", "3", "--no-control-socket",
    ]
    if access_log:
        argv += ["--access-logfile", "-"]
    return ProcessSpec("web", tuple(argv))


def worker(
    name: str = "worker", *, interval: float = 0.5, idle_seconds: float = 30.0, python: str = sys.executable
) -> ProcessSpec:
    # `worker` runs django-tasks-db's worker, woken by NOTIFY on PostgreSQL (see
    # generation/wakeup.py); `interval` is its polling interval on SQLite.
    return ProcessSpec(
        name,
        (python, "manage.py", "worker", "--interval", str(interval), "--idle-seconds", str(idle_seconds), "--worker-id", name),
    )


def reconciler(*, every: float = 1.0, python: str = sys.executable) -> ProcessSpec:
    return ProcessSpec("reconcile", (python, "manage.py", "reconcile", "--every", str(every)))


def pruner(*, every: float = 3600.0, python: str = sys.executable) -> ProcessSpec:
    """Removes webhook deliveries past their retention, on the reconciler's pattern."""
    return ProcessSpec("prune", (python, "manage.py", "prune_deliveries", "--every", str(every)))


def sandbox(
    *,
    port: int,
    seconds: float | None = None,
    faults: str | None = None,
    key_file: str | Path | None = None,
    extra: tuple[str, ...] = (),
    python: str = sys.executable,
) -> ProcessSpec:
    argv = [python, "-m", "falsandbox", "--host", "127.0.0.1", "--port", str(port)]
    if seconds is not None:
        argv += ["--seconds", str(seconds)]
    if faults is not None:
        argv += ["--faults", faults]
    if key_file is not None:
        argv += ["--key-file", str(key_file)]
    return ProcessSpec("sandbox", (*argv, *extra))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NotReady(RuntimeError):
    """A started process did not answer before its deadline, or exited first."""


def wait_until_answering(
    url: str,
    *,
    deadline_seconds: float = START_DEADLINE_SECONDS,
    attempt_seconds: float = 10.0,
    alive: Callable[[], bool] = lambda: True,
    ok: Callable[[requests.Response], bool] = lambda response: True,
    describe: Callable[[], str] = lambda: "",
) -> None:
    """Poll `url` until it answers (and `ok` accepts the answer). Any request error --
    refused, reset, a read timeout from a server that accepted but is still busy -- only
    means "not yet"; the deadline is the one thing that gives up. `alive` lets the caller
    stop waiting for a process that has already exited."""
    deadline = time.monotonic() + deadline_seconds
    last_error = "no answer"
    while True:
        if not alive():
            raise NotReady(f"{url}: the process exited before answering\n{describe()}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NotReady(f"{url}: no answer within {deadline_seconds:.0f} s ({last_error})\n{describe()}")
        try:
            response = requests.get(url, timeout=min(attempt_seconds, max(remaining, 0.1)), allow_redirects=False)
            if ok(response):
                return
            last_error = f"HTTP {response.status_code}"
        except requests.RequestException as error:
            last_error = type(error).__name__
        time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))


if __name__ == "__main__":
    # `python -m devtools.processes worker` runs one process of the description in the
    # foreground (the Makefile's `make worker`).
    import os

    specs = {"worker": worker(), "reconcile": reconciler()}
    if len(sys.argv) != 2 or sys.argv[1] not in specs:
        sys.exit(f"usage: python -m devtools.processes {{{','.join(specs)}}}")
    os.chdir(ROOT)
    spec = specs[sys.argv[1]]
    os.execv(spec.argv[0], list(spec.argv))
