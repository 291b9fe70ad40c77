"""The download step: a real MP4 rendered by the sandbox, fetched over HTTP, probed,
stored; and every way a download can go wrong, with no orphan file left behind."""

import hashlib
import os
import time
from pathlib import Path

import av
import pytest
from django.core.files.storage import default_storage

from generation import downloads
from generation.downloads import DownloadError, check_source_url, download_result
from generation.models import ErrorKind, Task, TaskStatus
from history.models import HistoryItem
from tests.factories import make_task
from tests.support import finished_at_sandbox, queued_tasks

pytestmark = pytest.mark.django_db


def media_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_finished_video_is_stored_probed_and_completed(sandbox, settings):
    task = finished_at_sandbox(sandbox)
    assert task.status == TaskStatus.DOWNLOADING and task.result_url.startswith(sandbox.url)
    download_result(task_id=task.pk)

    task.refresh_from_db()
    item = HistoryItem.objects.get(task=task)
    assert (task.status, task.progress) == (TaskStatus.COMPLETED, 100)
    stored = Path(default_storage.path(item.video.name))
    assert item.video.name == f"videos/{task.created_at:%Y/%m/%d}/{task.pk}.mp4"
    assert item.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert item.size_bytes == stored.stat().st_size
    with av.open(str(stored)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.width, stream.codec_context.height) == ("h264", item.width, item.height)
    assert (item.width, item.height) == (480, 270)
    assert 4.5 < item.duration_seconds < 5.5
    assert default_storage.open(item.poster.name).read(3) == b"\xff\xd8\xff"  # a JPEG
    assert len(media_files(settings)) == 2


def test_running_the_download_twice_keeps_one_file(sandbox, settings):
    task = finished_at_sandbox(sandbox)
    download_result(task_id=task.pk)
    download_result(task_id=task.pk)
    assert Task.objects.get(pk=task.pk).download_attempts == 1
    assert len(media_files(settings)) == 2


def test_a_download_that_another_worker_holds_is_left_alone(sandbox, settings):
    from datetime import timedelta

    from django.utils import timezone

    task = finished_at_sandbox(sandbox)
    Task.objects.filter(pk=task.pk).update(lease_until=timezone.now() + timedelta(minutes=5))
    download_result(task_id=task.pk)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DOWNLOADING
    assert media_files(settings) == []


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("result_not_video", "not a playable video"),
        ("result_too_large", "larger than we accept"),
    ],
)
def test_bad_results_fail_the_task_and_leave_no_file(sandbox, settings, fault, message):
    settings.DOWNLOAD_MAX_BYTES = 50 * 1024 * 1024
    task = finished_at_sandbox(sandbox, prompt=f"a boat #fault:{fault}")
    download_result(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.FAILED, ErrorKind.DOWNLOAD)
    assert message in task.error_message
    assert media_files(settings) == []


@pytest.mark.parametrize("fault", ["result_500", "result_truncated", "result_wrong_type"])
def test_transient_download_faults_are_retried_then_given_up(sandbox, settings, fault):
    settings.DOWNLOAD_MAX_ATTEMPTS = 2
    task = finished_at_sandbox(sandbox, prompt=f"a boat #fault:{fault}")
    queued_before = len(queued_tasks("download_result"))
    download_result(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_kind, task.lease_until) == (TaskStatus.DOWNLOADING, ErrorKind.DOWNLOAD, None)
    assert len(queued_tasks("download_result")) == queued_before + 1  # the retry, with backoff
    download_result(task_id=task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED and "Gave up after 2 attempts" in task.error_message
    assert media_files(settings) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://v3.fal.media/files/video.mp4",  # not https
        "https://evil.example.com/video.mp4",  # not fal's
        "https://fal.media.evil.example.com/video.mp4",  # looks like it, is not
        "file:///etc/passwd",
        "not a url",
    ],
)
def test_urls_outside_fals_media_hosts_are_refused(url, settings):
    settings.FAL_SANDBOX_URL = ""
    with pytest.raises(DownloadError) as refused:
        check_source_url(url)
    assert not refused.value.retryable


def test_fal_media_hosts_resolving_to_private_addresses_are_refused(settings):
    settings.FAL_SANDBOX_URL = ""
    settings.DOWNLOAD_ALLOW_PRIVATE = False
    settings.FAL_MEDIA_HOSTS = ["localhost"]
    with pytest.raises(DownloadError, match="do not trust"):
        check_source_url("https://localhost/video.mp4")


def test_a_refused_host_fails_the_task(settings):
    settings.FAL_SANDBOX_URL = ""
    task = make_task(status=TaskStatus.DOWNLOADING, result_url="https://evil.example.com/v.mp4")
    download_result(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_message) == (TaskStatus.FAILED, "The result came from a host we do not trust.")


@pytest.fixture
def redirector(settings):
    """A local server standing in for fal's media host: /hop/N redirects to the
    target in ?to=, /video serves the bytes of a real sandbox-rendered file."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    from falsandbox.render import RenderSpec, render_video

    video = Path(settings.MEDIA_ROOT).parent / "clip.mp4"
    render_video(RenderSpec(prompt="redirected", width=320, height=180, duration=1.0, seed=1), video)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/video":
                body = video.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(302)
                self.send_header("Location", parse_qs(url.query)["to"][0])
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    settings.FAL_SANDBOX_URL = base  # the only plain-http origin we accept
    settings.DOWNLOAD_ALLOW_PRIVATE = True
    yield base, video
    server.shutdown()


def test_redirects_are_followed_and_each_hop_is_checked(redirector):
    base, video = redirector
    task = make_task(status=TaskStatus.DOWNLOADING, result_url=f"{base}/hop?to={base}/video")
    download_result(task_id=task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED
    assert task.history_item.sha256 == hashlib.sha256(video.read_bytes()).hexdigest()


@pytest.mark.parametrize("target", ["https://evil.example.com/video.mp4", "http://127.0.0.1:9/video.mp4", "file:///etc/passwd"])
def test_a_redirect_to_an_untrusted_place_is_refused(redirector, target, settings):
    base, _ = redirector
    task = make_task(status=TaskStatus.DOWNLOADING, result_url=f"{base}/hop?to={target}")
    download_result(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.FAILED, ErrorKind.DOWNLOAD)
    assert media_files(settings) == []


def test_endless_redirects_are_refused(redirector):
    base, _ = redirector
    url = f"{base}/video"
    for _ in range(5):
        url = f"{base}/hop?to={url.replace('&', '%26').replace('?', '%3F').replace('=', '%3D')}"
    task = make_task(status=TaskStatus.DOWNLOADING, result_url=url)
    download_result(task_id=task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED and "redirected too many times" in task.error_message


def test_retrying_a_failed_download_fetches_the_same_video_without_generating_again(sandbox, settings):
    from generation.services import fail_task, retry_task

    task = finished_at_sandbox(sandbox, prompt="a tram in the fog, once")
    fail_task(task_id=task.pk, kind=ErrorKind.DOWNLOAD, message="The download was interrupted.")  # retries ran out
    new = retry_task(task=Task.objects.get(pk=task.pk))
    assert (new.status, new.request_id, new.result_url) == (TaskStatus.DOWNLOADING, task.request_id, task.result_url)
    assert [r.task_path.rsplit(".", 1)[1] for r in queued_tasks() if str(new.pk) in r.args_kwargs["args"]] == ["download_result"]
    download_result(task_id=new.pk)
    assert Task.objects.get(pk=new.pk).status == TaskStatus.COMPLETED
    assert len([r for r in sandbox.requests() if "a tram in the fog, once" in r["arguments"]["prompt"]]) == 1


def test_a_second_retry_after_the_same_download_fails_again_generates_afresh(sandbox, settings):
    from generation.services import retry_task

    settings.DOWNLOAD_MAX_ATTEMPTS = 1
    task = finished_at_sandbox(sandbox, prompt="a broken link #fault:result_500")
    download_result(task_id=task.pk)
    redownload = retry_task(task=Task.objects.get(pk=task.pk))
    assert redownload.status == TaskStatus.DOWNLOADING
    download_result(task_id=redownload.pk)
    assert Task.objects.get(pk=redownload.pk).error_kind == ErrorKind.DOWNLOAD
    fresh = retry_task(task=Task.objects.get(pk=redownload.pk))
    assert (fresh.status, fresh.request_id, fresh.result_url) == (TaskStatus.PENDING, "", "")


def _download_in_thread(task_id):
    """download_result as another worker runs it: in a thread with its own connection."""
    import threading

    from django.db import connection

    errors = []

    def run():
        try:
            download_result(task_id=task_id)
        except BaseException as exc:  # surfaced by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _wait_for(condition, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_the_lease_is_renewed_while_bytes_flow_so_no_second_worker_starts(hostile, settings, clip):
    # A download three times longer than its lease: only renewal keeps it ours. (The
    # lease is not shorter still: after the stream, proving the file is a video must
    # fit in it too, and this machine may be busy.)
    settings.DOWNLOAD_LEASE_SECONDS = 2
    settings.DOWNLOAD_PROGRESS_SECONDS = 0.1
    hostile.routes["/paced"] = ("paced", (clip, 6.0))
    task = make_task(status=TaskStatus.DOWNLOADING, result_url=f"{hostile.base}/paced")
    thread, errors = _download_in_thread(task.pk)
    _wait_for(lambda: hostile.paths() == ["/paced"], "the first worker to start")
    leases = set()
    while thread.is_alive():
        download_result(task_id=task.pk)  # a second worker, again and again
        row = Task.objects.get(pk=task.pk)
        if row.status == TaskStatus.DOWNLOADING:
            leases.add(row.lease_until)
        time.sleep(0.2)
    thread.join()
    assert errors == []
    task.refresh_from_db()
    assert (task.status, task.download_attempts) == (TaskStatus.COMPLETED, 1)
    assert hostile.paths() == ["/paced"]  # fetched once
    assert len(leases) >= 3  # renewed while streaming


@pytest.mark.django_db(transaction=True)
def test_a_run_that_lost_its_lease_stops_and_saves_nothing(hostile, settings, clip):
    from datetime import timedelta

    from django.utils import timezone

    settings.DOWNLOAD_PROGRESS_SECONDS = 0.1
    hostile.routes["/paced"] = ("paced", (clip, 3.0))
    task = make_task(status=TaskStatus.DOWNLOADING, result_url=f"{hostile.base}/paced")
    thread, errors = _download_in_thread(task.pk)
    _wait_for(lambda: hostile.paths() == ["/paced"], "the first worker to start")
    # Another worker took over (as after the first one froze past its lease).
    theirs = timezone.now() + timedelta(minutes=5)
    Task.objects.filter(pk=task.pk).update(lease_until=theirs)
    thread.join(timeout=30)
    assert not thread.is_alive() and errors == []
    task.refresh_from_db()
    assert (task.status, task.lease_until, task.error_kind) == (TaskStatus.DOWNLOADING, theirs, "")
    assert media_files(settings) == []


@pytest.mark.django_db(transaction=True)
def test_a_trickling_source_fails_the_attempt_well_before_the_lease_runs_out(hostile, settings):
    settings.DOWNLOAD_THROUGHPUT_GRACE_SECONDS = 1.0
    settings.DOWNLOAD_MIN_BYTES_PER_SECOND = 1000
    settings.DOWNLOAD_MAX_ATTEMPTS = 1
    hostile.routes["/trickle"] = ("trickle", 0.3)
    task = make_task(status=TaskStatus.DOWNLOADING, result_url=f"{hostile.base}/trickle")
    started = time.monotonic()
    download_result(task_id=task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED and "too slow" in task.error_message
    assert time.monotonic() - started < settings.DOWNLOAD_LEASE_SECONDS


def test_the_downloaded_file_is_moved_into_storage_not_copied(sandbox, settings, tmp_path, monkeypatch):
    # The temporary file on the same file system as the media: storage renames it
    # into place, so the stored video is the very file the fetch wrote.
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "partial")
    (tmp_path / "partial").mkdir()
    written = []
    real_fetch = downloads.fetch_to_file

    def fetch_and_note_the_file(url, destination, **kwargs):
        written.append(os.fstat(destination.fileno()).st_ino)
        return real_fetch(url, destination, **kwargs)

    monkeypatch.setattr(downloads, "fetch_to_file", fetch_and_note_the_file)
    task = finished_at_sandbox(sandbox)
    download_result(task_id=task.pk)
    item = HistoryItem.objects.get(task=task)
    stored = Path(default_storage.path(item.video.name))
    assert written == [stored.stat().st_ino]
    assert item.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert stored.stat().st_mode & 0o777 == settings.FILE_UPLOAD_PERMISSIONS
    assert list((tmp_path / "partial").iterdir()) == []


@pytest.mark.parametrize("fault", ["result_truncated", "result_not_video"])
def test_a_failed_download_leaves_no_temporary_file(sandbox, settings, tmp_path, fault):
    # Cut mid-body, or whole but not a video: the half (or bad) file goes with the attempt.
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.DOWNLOAD_MAX_ATTEMPTS = 1
    task = finished_at_sandbox(sandbox, prompt=f"a boat #fault:{fault}")
    download_result(task_id=task.pk)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.FAILED
    assert list(tmp_path.iterdir()) == []
    assert media_files(settings) == []
