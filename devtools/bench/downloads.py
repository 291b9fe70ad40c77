"""The download step on a 1 GiB result over loopback, beside `curl -o` of the same file
from the same server: the fetch alone (`fetch_to_file`: stream, cap, hash) and the
whole step (`download_result`: fetch, hash, probe, poster, store, complete), with the
growth of the process's peak memory.

The file is a short real MP4 followed by a 1 GiB `free` box (which players skip), so
that probing and the poster see a genuine video. Run by the suite in a process of its
own with DATABASE_URL naming a fresh database."""

from __future__ import annotations

import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK = "--quick" in sys.argv
SIZE = (256 if QUICK else 1024) * 1024 * 1024
ROUNDS = 1 if QUICK else 6
WORKDIR = Path(tempfile.mkdtemp(prefix="bench-downloads-"))


(WORKDIR / "serve").mkdir()
SERVER = subprocess.Popen([sys.executable, "-m", "devtools.bench.fileserver", str(WORKDIR / "serve")], stdout=subprocess.PIPE, text=True)
ORIGIN = SERVER.stdout.readline().strip()
os.environ.update(
    FAL_SANDBOX_URL=ORIGIN, DOWNLOAD_ALLOW_PRIVATE="true", DOWNLOAD_MAX_BYTES=str(SIZE + 64 * 1024 * 1024),
    DOWNLOAD_TIMEOUT_SECONDS="120", DOWNLOAD_DEADLINE_SECONDS="900", MEDIA_ROOT=str(WORKDIR / "media"),
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videoplanet.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from devtools.bench.common import emit, row  # noqa: E402
from generation.downloads import download_result  # noqa: E402
from generation.fetch import fetch_to_file  # noqa: E402
from generation.models import TaskStatus  # noqa: E402
from tests.factories import make_task  # noqa: E402

MIB = 1024 * 1024


def make_big_video(path: Path) -> None:
    """A one-second H.264 clip with a `free` box making the file SIZE bytes long."""
    import av
    from PIL import Image

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for n in range(10):
            frame = av.VideoFrame.from_image(Image.new("RGB", (64, 64), (n * 20, 80, 160)))
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    padding = SIZE - path.stat().st_size
    with open(path, "ab") as handle:
        handle.write(struct.pack(">I4sQ", 1, b"free", padding))  # size 1: a 64-bit size follows
        chunk = bytes(8 * MIB)
        left = padding - 16
        while left:
            left -= handle.write(chunk[: min(left, len(chunk))])


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_growth_mib(action) -> float:
    """How far the process's resident memory rose above where it stood while `action`
    ran: the peak (VmHWM) is reset first through /proc/self/clear_refs, so that the
    making of the test file or an earlier round does not hide it."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mib("VmRSS")
    action()
    return _status_mib("VmHWM") - before


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    call_command("migrate", "--noinput", verbosity=0)
    make_big_video(WORKDIR / "serve" / "big.mp4")
    url = f"{ORIGIN}/big.mp4"
    curl, fetch, whole, growth = [], [], [], []

    def run_curl(n: int) -> None:
        target = WORKDIR / "curl.out"
        curl.append(timed(lambda: subprocess.run(["curl", "-sS", "-o", str(target), url], check=True)))
        target.unlink()

    def run_fetch(n: int) -> None:
        with open(WORKDIR / "fetch.out", "wb") as handle:
            fetch.append(timed(lambda: fetch_to_file(url, handle, max_bytes=SIZE * 2)))
        (WORKDIR / "fetch.out").unlink()

    def run_whole(n: int) -> None:
        task = make_task(status=TaskStatus.DOWNLOADING, result_url=url, request_id=f"bench-{n}")
        seconds = []
        growth.append(peak_growth_mib(lambda: seconds.append(timed(lambda: download_result(task_id=task.pk)))))
        whole.append(seconds[0])
        task.refresh_from_db()
        if task.status != TaskStatus.COMPLETED:
            raise RuntimeError(f"download ended {task.status}: {task.error_detail}")
        shutil.rmtree(WORKDIR / "media", ignore_errors=True)

    # Each round starts with a different one of the three, so that none always comes
    # first (after a pause) or right after another's gigabyte was written and deleted.
    runs = [run_curl, run_fetch, run_whole]
    for n in range(ROUNDS):
        for run in runs[n % 3:] + runs[: n % 3]:
            run(n)
        print(f"downloads: round {n}: curl {SIZE / MIB / curl[-1]:.0f} MiB/s, fetch {SIZE / MIB / fetch[-1]:.0f} MiB/s, "
              f"whole step {SIZE / MIB / whole[-1]:.0f} MiB/s (peak memory +{growth[-1]:.0f} MiB)",
              file=sys.stderr, flush=True)
    base = SIZE / MIB / statistics.median(curl)
    label = f"{SIZE // MIB:,} MiB"
    emit([
        row(f"download {label}, fetch only", SIZE / MIB / statistics.median(fetch), "MiB/s", base, "curl -o, same server"),
        row(f"download {label}, whole step", SIZE / MIB / statistics.median(whole), "MiB/s", base, "curl -o, same server",
            note=f"peak memory growth {max(growth):.0f} MiB (the most of {len(growth)} rounds)"),
    ])
    SERVER.terminate()
    shutil.rmtree(WORKDIR, ignore_errors=True)


if __name__ == "__main__":
    main()
