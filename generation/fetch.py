"""Fetching a result file without being turned against our own network.

A result URL comes from outside (a webhook's payload, a provider's answer), so it is
treated as hostile until proven otherwise:

- It is parsed once, with urllib3's parser (the one the connection below uses), and
  refused when it is ambiguous: backslashes, user-info, control characters, non-ASCII,
  or a host that Python's own parser reads differently.
- Outside the sandbox: https only, one of fal's media hosts, the default port.
- The host name is resolved once, every address it resolves to must be public
  (not loopback, private, link-local, multicast, reserved, NAT64, 6to4, Teredo or an
  IPv4-mapped/-compatible form of any of those), and the connection then goes to that
  checked address, with the name sent as SNI and Host and checked against the
  certificate. Nothing resolves the name a second time, so DNS rebinding gains nothing.
- Every redirect is a new URL and goes through the same gate.
- The whole fetch has a deadline, and every stretch of it a minimum throughput, so a
  source that trickles bytes cannot hold a worker (and the task's lease) for ever.
  Socket timeouts bound one read at a time, so an alarm cuts the connection when time
  is up whatever it is waiting for: the headers (which must all arrive within the
  connect and read timeouts of the request) or the body (the deadline).

requests cannot pin the address it connects to; urllib3 (which it is built on) can,
through a connection pool made for the checked address with `server_hostname` and
`assert_hostname` set to the name, so that layer is used directly.
"""

from __future__ import annotations

import hashlib
import ipaddress
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings
from django.utils.translation import gettext_noop
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import LocationParseError, SSLError

from generation.said import Said, said

# One read takes at most this much (one packet's worth, usually much less on a slow
# link); up to HASH_BACKLOG reads wait for the hashing thread, which bounds the memory
# a download holds when hashing falls behind.
CHUNK_BYTES = 1024 * 1024
HASH_BACKLOG = 16
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"https": 443, "http": 80}

# Ranges `ipaddress` counts as global that still lead somewhere we must not go:
# NAT64 and 6to4 embed an IPv4 address (127.0.0.1 among them), Teredo tunnels, the
# deprecated IPv4-compatible form, the 6to4 relay anycast, deprecated site-local IPv6
# (still routed inside some networks), multicast.
_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2002::/16",
        "2001::/32",
        "192.88.99.0/24",
        "fec0::/10",
        "::/96",
        "::ffff:0:0/96",
        "100.64.0.0/10",
        "224.0.0.0/4",
        "ff00::/8",
    )
)


class DownloadError(Exception):
    def __init__(self, message: str, detail: str = "", *, retryable: bool, http_status: int | None = None):
        super().__init__(message)
        # Read again in the reader's language when shown (see generation.said).
        self.message = message if isinstance(message, Said) else said(message)
        self.detail = detail or message
        self.retryable = retryable
        # The media host's answer, when it gave one: a 4xx that is not worth retrying
        # means the link is gone (expired or removed).
        self.http_status = http_status

    @property
    def link_gone(self) -> bool:
        return self.http_status is not None and 400 <= self.http_status < 500 and not self.retryable


class LeaseLost(Exception):
    """Another worker owns this download now (our lease ran out): stop, keep nothing."""


UNTRUSTED = gettext_noop("The result came from a host we do not trust.")


def _refuse(detail: str) -> DownloadError:
    return DownloadError(UNTRUSTED, detail, retryable=False)


@dataclass(frozen=True)
class Target:
    """A URL that passed the gate, in the parts the connection will use."""

    url: str
    scheme: str
    host: str
    port: int
    request_target: str  # path and query, exactly as sent

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def _host_allowed(host: str) -> bool:
    for allowed in settings.FAL_MEDIA_HOSTS:
        allowed = allowed.lower()
        if allowed.startswith(".") and host.endswith(allowed):
            return True
        if host == allowed:
            return True
    return False


def _sandbox_origin() -> tuple[str, str, int] | None:
    if not settings.FAL_SANDBOX_URL:
        return None
    parts = urlsplit(settings.FAL_SANDBOX_URL)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


def check_url(url: str) -> Target:
    """Parse `url` the way the connection will and refuse anything we should not fetch."""
    if not isinstance(url, str) or not url:
        raise _refuse(f"bad url {url!r}")
    if not url.isascii() or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url) or "\\" in url:
        raise _refuse(f"backslash, space, control or non-ASCII character in {url!r}")
    try:
        parsed = urllib3.util.parse_url(url)
        ours = urlsplit(url)
        our_port = ours.port
    except (LocationParseError, ValueError) as exc:
        raise _refuse(f"unparseable url {url!r}: {exc}") from exc
    scheme = (parsed.scheme or "").lower()
    if scheme not in DEFAULT_PORTS:
        raise _refuse(f"refused scheme in {url!r}")
    if parsed.auth is not None or "@" in ours.netloc:
        raise _refuse(f"user-info in {url!r}")
    host = (parsed.host or "").lower().strip("[]").rstrip(".")
    if not host or host != (ours.hostname or "").rstrip("."):
        raise _refuse(f"ambiguous host in {url!r}: {parsed.host!r} / {ours.hostname!r}")
    port = parsed.port or DEFAULT_PORTS[scheme]
    if port != (our_port or DEFAULT_PORTS[scheme]):
        raise _refuse(f"ambiguous port in {url!r}")
    target = Target(url=url, scheme=scheme, host=host, port=port, request_target=parsed.request_uri)
    if (scheme, host, port) == _sandbox_origin():
        return target
    if scheme != "https":
        raise DownloadError(gettext_noop("The result link is not secure (https)."), f"refused scheme in {url!r}", retryable=False)
    if not _host_allowed(host):
        raise _refuse(f"refused host in {url!r}")
    if port not in settings.DOWNLOAD_ALLOWED_PORTS:
        raise _refuse(f"refused port {port} in {url!r}")
    return target


def address_refusal(address: str) -> str | None:
    """Why we must not connect to `address`, or None when we may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if settings.DOWNLOAD_ALLOW_PRIVATE:
        return None
    if any(ip in ipaddress.ip_network(network) for network in settings.DOWNLOAD_ALLOWED_NETWORKS):
        return None
    for network in _REFUSED_NETWORKS:
        if ip.version == network.version and ip in network:
            return f"{ip} is in {network}"
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return f"{ip} is not a public address"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the one DNS look-up of a hop)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_addresses(target: Target) -> list[str]:
    try:
        addresses = resolve(target.host, target.port)
    except (socket.gaierror, UnicodeError) as exc:
        raise DownloadError(gettext_noop("Could not reach the result's host."), f"dns {target.host}: {exc}", retryable=True) from exc
    if not addresses:
        raise DownloadError(gettext_noop("Could not reach the result's host."), f"dns {target.host}: no address", retryable=True)
    # One bad answer refuses the host: a name that mixes public and internal
    # addresses is not one we want to talk to.
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise _refuse(f"{target.host} resolves to {address}: {reason}")
    return addresses


class _Alarm:
    """Cuts the connection being made or read at a set time, whatever it is doing.

    Socket timeouts apply to one read at a time: a source that sends a byte of its
    headers every few seconds would otherwise hold the download for ever. The alarm
    keeps its own duplicate of the socket and shuts the connection down through it
    (shutdown acts on the connection, not on one descriptor), so the read in progress
    ends at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer: threading.Timer | None = None
        self.fired = False

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._forget()
            self._sock = sock.dup()
            if self.fired:
                self._cut()

    def ring_at(self, when: float) -> None:
        """Ring at `when` (time.monotonic()) instead of any earlier setting."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(max(0.0, when - time.monotonic()), self._ring)
            self._timer.daemon = True
            self._timer.start()

    def _ring(self) -> None:
        with self._lock:
            self.fired = True
            self._cut()

    def _cut(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def _forget(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._forget()


def _watched(connection_class: type, alarm: _Alarm) -> type:
    """urllib3's connection class, with every socket it opens shown to `alarm`."""

    class Watched(connection_class):
        def _new_conn(self):
            sock = super()._new_conn()
            alarm.watch(sock)
            return sock

    return Watched


def _open(target: Target, address: str, *, timeout: urllib3.Timeout, alarm: _Alarm) -> urllib3.BaseHTTPResponse:
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.DOWNLOAD_CA_BUNDLE or certifi.where(),
            server_hostname=target.host,  # SNI
            assert_hostname=target.host,  # the certificate must name the host, not the address
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)
    pool.ConnectionCls = _watched(pool.ConnectionCls, alarm)
    return pool.urlopen(
        "GET",
        target.request_target,
        headers={"Host": target.host_header, "Accept-Encoding": "identity", "User-Agent": "VideoPlanet result download"},
        redirect=False,
        retries=False,
        preload_content=False,
        decode_content=False,
        assert_same_host=False,
        release_conn=False,
    )


def _connect(target: Target, addresses: list[str], *, deadline: float, alarm: _Alarm) -> urllib3.BaseHTTPResponse:
    """The response's status and headers from the first address that answers. Each
    address gets the connect and read timeouts in all (handshake and headers included,
    however slowly they come), and none goes past the fetch's deadline."""
    last: Exception | None = None
    for address in addresses:
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            break
        timeout = urllib3.Timeout(
            connect=min(settings.DOWNLOAD_CONNECT_TIMEOUT_SECONDS, remaining),
            read=min(settings.DOWNLOAD_TIMEOUT_SECONDS, remaining),
        )
        alarm.ring_at(min(deadline, now + settings.DOWNLOAD_CONNECT_TIMEOUT_SECONDS + settings.DOWNLOAD_TIMEOUT_SECONDS))
        try:
            response = _open(target, address, timeout=timeout, alarm=alarm)
        except (Urllib3Error, OSError) as exc:
            if alarm.fired:
                raise DownloadError(
                    gettext_noop("The result's host did not answer in time."),
                    f"GET {target.url} via {address}: no response within the time allowed ({exc!r})",
                    retryable=True,
                ) from exc
            if not isinstance(exc, SSLError):
                last = exc
                continue
            # The certificate does not prove the name: the same on every address.
            raise DownloadError(UNTRUSTED, f"TLS with {target.host} at {address}: {exc}", retryable=False) from exc
        if alarm.fired:
            # Cut while the headers came (http.client reads the cut as their end).
            response.close()
            raise DownloadError(
                gettext_noop("The result's host did not answer in time."),
                f"GET {target.url} via {address}: headers still coming when the time allowed ran out",
                retryable=True,
            )
        return response
    raise DownloadError(gettext_noop("Could not download the video."), f"GET {target.url} via {addresses}: {last!r}", retryable=True)



class _Hasher:
    """SHA-256 of a stream on a thread of its own, so that hashing a chunk overlaps
    reading and writing the next ones (hashlib lets go of the GIL while it digests a
    large buffer). Chunks are handed over as the immutable bytes the reads return, so
    nothing is copied for it."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=HASH_BACKLOG)
        self._thread = threading.Thread(target=self._run, name="download-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._digest.update(chunk)

    def add(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def finish(self) -> str:
        """The hex digest of everything added (waits for the thread to catch up)."""
        self.stop()
        return self._digest.hexdigest()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()


@dataclass(frozen=True)
class Fetched:
    size: int
    sha256: str
    content_type: str
    url: str  # after redirects


ACCEPTED_CONTENT_TYPES = ("video/", "application/octet-stream", "binary/octet-stream")


def fetch_to_file(
    url: str,
    destination,
    *,
    max_bytes: int,
    on_progress: Callable[[int], None] | None = None,
) -> Fetched:
    """Stream `url` into the open binary file `destination` through the gate above.

    `on_progress(bytes_so_far)` is called every few seconds while bytes flow and after
    each response's headers (the download step renews its lease there; it may raise to
    stop the fetch)."""
    started = time.monotonic()
    deadline = started + settings.DOWNLOAD_DEADLINE_SECONDS
    alarm = _Alarm()
    try:
        return _fetch(url, destination, max_bytes=max_bytes, on_progress=on_progress, started=started,
                      deadline=deadline, alarm=alarm)
    finally:
        alarm.stop()


def _fetch(url, destination, *, max_bytes, on_progress, started, deadline, alarm) -> Fetched:
    for _ in range(MAX_REDIRECTS + 1):
        target = check_url(url)
        response = _connect(target, checked_addresses(target), deadline=deadline, alarm=alarm)
        if on_progress is not None:
            on_progress(0)
        location = response.headers.get("Location")
        if response.status in REDIRECT_STATUSES and location:
            response.release_conn()
            response.close()
            if "\\" in location or not location.isascii() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in location):
                raise _refuse(f"redirect from {url} to {location!r}")
            url = urljoin(url, location)
            continue
        break
    else:
        raise DownloadError(gettext_noop("The result link redirected too many times."), f"last url {url}", retryable=False)

    alarm.ring_at(deadline)
    try:
        return _stream_body(response, url, destination, max_bytes=max_bytes, started=started, deadline=deadline,
                            on_progress=on_progress, alarm=alarm)
    finally:
        response.close()


def _stream_body(response, url, destination, *, max_bytes, started, deadline, on_progress, alarm) -> Fetched:
    if response.status >= 500 or response.status in (408, 429):
        raise DownloadError(
            gettext_noop("The provider could not serve the video just now."), f"HTTP {response.status} from {url}",
            retryable=True, http_status=response.status,
        )
    if response.status != 200:
        raise DownloadError(
            gettext_noop("The provider no longer has this video."), f"HTTP {response.status} from {url}",
            retryable=False, http_status=response.status,
        )
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type and not content_type.startswith(ACCEPTED_CONTENT_TYPES):
        raise DownloadError(gettext_noop("The provider sent something that is not a video."), f"Content-Type {content_type!r} from {url}", retryable=True)
    declared = response.headers.get("Content-Length", "")
    declared_size = int(declared) if declared.isdigit() and len(declared) < 20 else None
    if declared_size is not None and declared_size > max_bytes:
        raise DownloadError(gettext_noop("The video is larger than we accept."), f"Content-Length {declared} > {max_bytes}", retryable=False)

    hasher = _Hasher()
    try:
        return _copy_body(response, url, destination, hasher, max_bytes=max_bytes, declared_size=declared_size,
                          content_type=content_type, started=started, deadline=deadline, on_progress=on_progress,
                          alarm=alarm)
    finally:
        hasher.stop()


def _copy_body(response, url, destination, hasher, *, max_bytes, declared_size, content_type, started, deadline,
               on_progress, alarm) -> Fetched:
    """Read the body into `destination` and `hasher`, watching the size, the clocks and
    the throughput after every read."""
    size = 0
    min_rate = settings.DOWNLOAD_MIN_BYTES_PER_SECOND
    grace = settings.DOWNLOAD_THROUGHPUT_GRACE_SECONDS
    progress_every = settings.DOWNLOAD_PROGRESS_SECONDS
    last_progress = started
    # The rate is judged per window of `grace` seconds, not averaged from the start:
    # a quick first burst must not buy a long trickle afterwards.
    window_start, window_bytes = started, 0
    while True:
        try:
            # read1: whatever one read brings, so that the clocks below are looked at
            # after every packet, however slowly they come.
            chunk = response.read1(CHUNK_BYTES)
        except (Urllib3Error, OSError) as exc:
            if alarm.fired:
                raise DownloadError(
                    gettext_noop("The download took too long."),
                    f"{size} bytes, cut at the {settings.DOWNLOAD_DEADLINE_SECONDS} s deadline: {exc!r}",
                    retryable=True,
                ) from exc
            raise DownloadError(gettext_noop("The download was interrupted."), f"after {size} bytes: {exc!r}", retryable=True) from exc
        if not chunk:
            if alarm.fired:  # the connection was cut, not finished
                raise DownloadError(
                    gettext_noop("The download took too long."),
                    f"{size} bytes, cut at the {settings.DOWNLOAD_DEADLINE_SECONDS} s deadline",
                    retryable=True,
                )
            break
        size += len(chunk)
        window_bytes += len(chunk)
        if size > max_bytes:
            raise DownloadError(gettext_noop("The video is larger than we accept."), f"more than {max_bytes} bytes from {url}", retryable=False)
        hasher.add(chunk)
        destination.write(chunk)
        now = time.monotonic()
        elapsed = now - started
        if now > deadline:
            raise DownloadError(
                gettext_noop("The download took too long."),
                f"{size} bytes in {elapsed:.1f} s: past the {settings.DOWNLOAD_DEADLINE_SECONDS} s deadline",
                retryable=True,
            )
        window = now - window_start
        if window >= grace:
            if window_bytes / window < min_rate:
                raise DownloadError(
                    gettext_noop("The download was too slow."),
                    f"{window_bytes} bytes in the last {window:.1f} s ({size} in all) is under {min_rate} bytes/s",
                    retryable=True,
                )
            window_start, window_bytes = now, 0
        if on_progress is not None and now - last_progress >= progress_every:
            last_progress = now
            on_progress(size)
    if time.monotonic() > deadline:
        raise DownloadError(gettext_noop("The download took too long."), f"past the {settings.DOWNLOAD_DEADLINE_SECONDS} s deadline", retryable=True)
    if declared_size is not None and size != declared_size:
        raise DownloadError(gettext_noop("The download was interrupted."), f"got {size} of {declared_size} bytes", retryable=True)
    return Fetched(size=size, sha256=hasher.finish(), content_type=content_type, url=url)
