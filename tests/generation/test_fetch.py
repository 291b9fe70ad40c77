"""The download gate under attack (SSRF): a hostile HTTPS server on loopback, a DNS
that lies, and URLs built to be read one way by the check and another by the client.

Production rules are in force (no sandbox, private addresses refused); the only
exceptions are the hostile server's own address (127.0.0.1, as if it were a public
one) and its port, so that the legitimate path can be shown to work too."""

import hashlib
import io
import os
import threading
import time

import pytest

from generation import fetch
from generation.fetch import DownloadError, check_url, fetch_to_file
from tests.generation.conftest import NAME


def fetch_bytes(url: str, *, max_bytes: int = 50 * 1024 * 1024):
    out = io.BytesIO()
    result = fetch_to_file(url, out, max_bytes=max_bytes)
    return result, out.getvalue()


def test_a_result_is_fetched_from_the_checked_address_with_its_name_verified(hostile, clip):
    result, body = fetch_bytes(f"{hostile.base}/video")
    assert body == clip and result.sha256 == hashlib.sha256(clip).hexdigest() and result.size == len(clip)
    [seen] = hostile.seen
    # Connected to the address, but spoke to the name: SNI and Host carry it.
    assert (seen.path, seen.host, seen.server_name) == ("/video", f"{NAME}:{hostile.port}", NAME)
    assert hostile.resolver.asked == [NAME]


def test_a_chunked_result_is_read_whole(hostile, clip):
    _, body = fetch_bytes(f"{hostile.base}/chunked")
    assert body == clip


def test_a_certificate_that_does_not_name_the_host_is_refused(hostile, settings):
    settings.FAL_MEDIA_HOSTS = [*settings.FAL_MEDIA_HOSTS, "unnamed.fal.test"]
    hostile.resolver.answers["unnamed.fal.test"] = [["127.0.0.1"]]
    with pytest.raises(DownloadError) as refused:
        fetch_bytes(f"https://unnamed.fal.test:{hostile.port}/video")
    assert not refused.value.retryable and "TLS" in refused.value.detail
    assert hostile.seen == []  # no request was ever sent over the unproven connection


def ssrf_urls(port: int) -> list[str]:
    return [
        # The issue's own example: urlsplit reads fal.media, the client 127.0.0.1.
        f"https://127.0.0.1:{port}\\@{NAME}/video",
        f"https://{NAME}\\@127.0.0.1:{port}/video",
        f"https://127.0.0.1:{port}\\\\@{NAME}/video",
        f"https://{NAME}:{port}@127.0.0.1:{port}/video",
        f"https://user:secret@{NAME}:{port}/video",
        f"https://@{NAME}:{port}/video",
        f"https://{NAME}:22/video",
        f"https://{NAME}:{port}/\tvideo",
        f"https://{NAME}\x00.evil:{port}/video",
        f"https://{NAME}%2F@127.0.0.1:{port}/video",
        f"http://{NAME}:{port}/video",
        f"https://127.0.0.1:{port}/video",
        f"https://[::ffff:127.0.0.1]:{port}/video",
        f"https://{NAME}.evil.example:{port}/video",
        f"https://медиа.fal.test:{port}/video",
        "file:///etc/passwd",
        f"gopher://{NAME}:{port}/",
    ]


@pytest.mark.parametrize("index", range(len(ssrf_urls(1))))
def test_urls_read_differently_by_the_check_and_the_client_are_refused(hostile, index):
    url = ssrf_urls(hostile.port)[index]
    with pytest.raises(DownloadError) as refused:
        fetch_bytes(url)
    assert not refused.value.retryable
    assert hostile.seen == []


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.2"],
        ["10.0.0.7"],
        ["192.168.1.1"],
        ["169.254.169.254"],  # cloud metadata
        ["100.64.0.1"],  # carrier-grade NAT
        ["0.0.0.0"],
        ["224.0.0.1"],
        ["::1"],
        ["fe80::1"],
        ["fc00::1"],
        ["ff02::1"],
        ["64:ff9b::7f00:1"],  # NAT64 of 127.0.0.1
        ["64:ff9b::a9fe:a9fe"],  # NAT64 of 169.254.169.254
        ["2002:7f00:1::1"],  # 6to4 of 127.0.0.1
        ["2001:0:4136:e378:8000:63bf:80ff:fffe"],  # Teredo, embedding 127.0.0.1
        ["::ffff:127.0.0.1"],  # IPv4-mapped
        ["::127.0.0.1"],  # IPv4-compatible
        ["fec0::1"],  # site-local (deprecated, still internal)
        ["192.88.99.1"],  # 6to4 relay anycast
        ["8.8.8.8", "10.0.0.7"],  # one bad answer among good ones
    ],
)
def test_names_resolving_to_internal_addresses_are_refused(hostile, answer):
    hostile.resolver.answers[NAME] = [answer]
    with pytest.raises(DownloadError) as refused:
        fetch_bytes(f"{hostile.base}/video")
    assert not refused.value.retryable and "resolves to" in refused.value.detail
    assert hostile.seen == []


def test_the_address_rule_applies_without_the_test_exemption(hostile, settings):
    settings.DOWNLOAD_ALLOWED_NETWORKS = []
    with pytest.raises(DownloadError, match="do not trust"):
        fetch_bytes(f"{hostile.base}/video")
    assert hostile.seen == []


def redirect_targets(port: int) -> list[str]:
    return [
        f"https://127.0.0.1:{port}\\@{NAME}/video",
        f"https://127.0.0.1:{port}/video",
        f"https://{NAME}:{port}@127.0.0.1:{port}/video",
        f"http://{NAME}:{port}/video",
        f"https://{NAME}:8080/video",
        "https://internal.fal.test/video",  # resolves to a private address
        f"https://[64:ff9b::7f00:1]:{port}/video",
        "/\\127.0.0.1/video",
    ]


@pytest.mark.parametrize("index", range(len(redirect_targets(1))))
def test_every_redirect_passes_the_same_gate(hostile, index):
    hostile.routes["/hop"] = ("redirect", redirect_targets(hostile.port)[index])
    hostile.resolver.answers["internal.fal.test"] = [["10.20.30.40"]]
    with pytest.raises(DownloadError) as refused:
        fetch_bytes(f"{hostile.base}/hop")
    assert not refused.value.retryable
    assert hostile.paths() == ["/hop"]  # the first hop only


def test_a_redirect_within_the_rules_is_followed_and_resolved_again(hostile, clip):
    hostile.routes["/hop"] = ("redirect", f"https://other.fal.test:{hostile.port}/video")
    result, body = fetch_bytes(f"{hostile.base}/hop")
    assert body == clip and result.url == f"https://other.fal.test:{hostile.port}/video"
    assert [(s.path, s.server_name) for s in hostile.seen] == [("/hop", NAME), ("/video", "other.fal.test")]
    assert hostile.resolver.asked == [NAME, "other.fal.test"]


def test_too_many_redirects_are_refused(hostile):
    hostile.routes["/loop"] = ("redirect", "/loop")
    with pytest.raises(DownloadError, match="redirected too many times"):
        fetch_bytes(f"{hostile.base}/loop")
    assert len(hostile.seen) == fetch.MAX_REDIRECTS + 1


def test_dns_rebinding_gains_nothing_the_checked_address_is_the_one_used(hostile, clip):
    # First answer the checked one, every later answer internal: a client that looked
    # the name up again would go to the metadata address and fail.
    hostile.resolver.answers["other.fal.test"] = [["127.0.0.1"], ["169.254.169.254"]]
    _, body = fetch_bytes(f"https://other.fal.test:{hostile.port}/video")
    assert body == clip
    assert hostile.resolver.asked == ["other.fal.test"]  # looked up once, then connected there


def test_dns_rebinding_towards_us_never_reaches_the_internal_address(hostile, settings):
    # The check sees a public address; a second look-up would say 127.0.0.1 (the
    # hostile server). The connection goes to the public address (unreachable here).
    settings.DOWNLOAD_CONNECT_TIMEOUT_SECONDS = 1.0
    hostile.resolver.answers[NAME] = [["8.8.8.8"], ["127.0.0.1"]]
    with pytest.raises(DownloadError) as failed:
        fetch_bytes(f"{hostile.base}/video")
    assert failed.value.retryable and "8.8.8.8" in failed.value.detail
    assert hostile.seen == []
    assert hostile.resolver.asked == [NAME]


def test_a_trickling_source_is_cut_off_by_the_minimum_throughput(hostile, settings):
    settings.DOWNLOAD_THROUGHPUT_GRACE_SECONDS = 1.0
    settings.DOWNLOAD_MIN_BYTES_PER_SECOND = 1000
    settings.DOWNLOAD_TIMEOUT_SECONDS = 10.0
    hostile.routes["/trickle"] = ("trickle", 0.3)  # the attack, a little faster
    started = time.monotonic()
    with pytest.raises(DownloadError, match="too slow") as failed:
        fetch_bytes(f"{hostile.base}/trickle")
    assert failed.value.retryable
    assert time.monotonic() - started < 8  # cut off soon after the grace period, not at the read timeout


def test_a_good_start_does_not_buy_a_long_trickle(hostile, settings):
    settings.DOWNLOAD_THROUGHPUT_GRACE_SECONDS = 1.0
    settings.DOWNLOAD_MIN_BYTES_PER_SECOND = 1000
    hostile.routes["/burst"] = ("burst_then_trickle", 0.3)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="too slow"):
        fetch_bytes(f"{hostile.base}/burst")
    # Averaged from the start, 512 KB would have covered the trickle for minutes.
    assert time.monotonic() - started < 8


def test_an_endless_steady_source_is_cut_off_by_the_deadline(hostile, settings):
    settings.DOWNLOAD_DEADLINE_SECONDS = 2.0
    settings.DOWNLOAD_MIN_BYTES_PER_SECOND = 1
    hostile.routes["/steady"] = ("endless", 200_000)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="took too long"):
        fetch_bytes(f"{hostile.base}/steady")
    assert time.monotonic() - started < 10


def test_an_endless_fast_source_is_cut_off_by_the_size_cap(hostile):
    hostile.routes["/endless"] = ("endless", 0)
    with pytest.raises(DownloadError, match="larger than we accept") as failed:
        fetch_bytes(f"{hostile.base}/endless", max_bytes=2 * 1024 * 1024)
    assert not failed.value.retryable


def test_headers_sent_a_byte_at_a_time_are_cut_off(hostile, settings):
    # Every byte comes well within the read timeout; only a clock over the whole
    # response (not one per read) ends it.
    settings.DOWNLOAD_CONNECT_TIMEOUT_SECONDS = 1.0
    settings.DOWNLOAD_TIMEOUT_SECONDS = 1.0
    hostile.routes["/slow-headers"] = ("slow_headers", 0.2)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="did not answer in time") as failed:
        fetch_bytes(f"{hostile.base}/slow-headers")
    assert failed.value.retryable
    assert time.monotonic() - started < 8


def test_the_deadline_cuts_a_body_mid_read(hostile, settings):
    # Bytes come steadily (fast enough for the throughput rule) but the deadline
    # falls while a read is waiting: the fetch ends at the deadline, not a read later.
    settings.DOWNLOAD_DEADLINE_SECONDS = 1.5
    settings.DOWNLOAD_TIMEOUT_SECONDS = 30.0
    settings.DOWNLOAD_MIN_BYTES_PER_SECOND = 1
    hostile.routes["/trickle"] = ("trickle", 20.0)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="took too long"):
        fetch_bytes(f"{hostile.base}/trickle")
    assert time.monotonic() - started < 10  # the next byte would come at 20 s


def test_each_hop_reports_progress_once_its_headers_are_in(hostile, clip):
    # The download step renews its lease there, so hops that take their time (within
    # their limits) never let the lease lapse before the body starts flowing.
    hostile.routes["/hop"] = ("redirect", "/video")
    reported = []
    fetch_to_file(f"{hostile.base}/hop", io.BytesIO(), max_bytes=len(clip), on_progress=reported.append)
    assert reported[:2] == [0, 0]


def test_a_silent_source_times_out(hostile, settings):
    settings.DOWNLOAD_TIMEOUT_SECONDS = 1.0
    hostile.routes["/silent"] = ("silent", None)
    with pytest.raises(DownloadError, match="interrupted") as failed:
        fetch_bytes(f"{hostile.base}/silent")
    assert failed.value.retryable


def test_the_sandbox_origin_alone_may_be_plain_http_on_its_port(settings):
    settings.FAL_SANDBOX_URL = "http://127.0.0.1:8001"
    assert check_url("http://127.0.0.1:8001/files/a.mp4").port == 8001
    for url in ("http://127.0.0.1:8002/files/a.mp4", "http://localhost:8001/files/a.mp4", "https://127.0.0.1:8001/a"):
        with pytest.raises(DownloadError):
            check_url(url)


def test_a_url_passes_through_unchanged(settings):
    settings.FAL_SANDBOX_URL = ""
    target = check_url("https://v3.fal.media/files/monkey/a%20b.mp4?x=1&y=%2F")
    assert (target.host, target.port, target.request_target) == ("v3.fal.media", 443, "/files/monkey/a%20b.mp4?x=1&y=%2F")


def test_a_body_of_many_reads_is_hashed_whole_beside_the_writes(hostile):
    # Far more reads than the hashing thread may have waiting: the digest is still
    # that of every byte, in order.
    body = os.urandom(fetch.CHUNK_BYTES * (fetch.HASH_BACKLOG + 8) + 12_345)
    hostile.routes["/large"] = ("video", body)
    result, fetched = fetch_bytes(f"{hostile.base}/large", max_bytes=len(body))
    assert fetched == body
    assert (result.size, result.sha256) == (len(body), hashlib.sha256(body).hexdigest())


def test_a_failed_fetch_leaves_no_hashing_thread_behind(hostile):
    hostile.routes["/endless"] = ("endless", 0)
    with pytest.raises(DownloadError, match="larger than we accept"):
        fetch_bytes(f"{hostile.base}/endless", max_bytes=4 * 1024 * 1024)
    assert [t for t in threading.enumerate() if t.name == "download-sha256"] == []
