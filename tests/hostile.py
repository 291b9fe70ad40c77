"""A hostile media host for the download tests: a real HTTPS server on loopback with a
self-signed certificate made here (for the names the test gives it), which records
every request it gets (path, Host header, TLS server name) and answers each path the
way the test set it up: a video, a redirect to anywhere, a trickle, an endless stream,
silence."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed_certificate(names: list[str], directory: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for `names`; the certificate is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    sans = [x509.DNSName(name) for name in names]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "hostile-cert.pem", directory / "hostile-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class Seen:
    path: str
    host: str
    server_name: str | None


@dataclass
class HostileServer:
    port: int
    cert_path: Path
    seen: list[Seen] = field(default_factory=list)
    # path -> how to answer: ("video", bytes) ("redirect", location) ("trickle", interval)
    # ("endless", rate) ("silent", None) ("chunked", bytes) ("paced", (bytes, seconds))
    # ("burst_then_trickle", interval) ("slow_headers", interval)
    routes: dict[str, tuple] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]


def start_hostile_server(directory: Path, names: list[str]) -> HostileServer:
    cert_path, key_path = self_signed_certificate(names, directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server_names: dict[int, str | None] = {}

    def remember_sni(sock, server_name, _context):
        server_names[id(sock)] = server_name

    context.sni_callback = remember_sni
    state = HostileServer(port=0, cert_path=cert_path)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            state.seen.append(Seen(self.path, self.headers.get("Host", ""), server_names.get(id(self.connection))))
            kind, value = state.routes.get(self.path.split("?")[0], ("missing", None))
            try:
                getattr(self, f"answer_{kind}")(value)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                pass

        def answer_missing(self, _):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def answer_video(self, body):
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def answer_chunked(self, body):
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 7000):
                piece = body[start : start + 7000]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

        def answer_paced(self, value):
            body, seconds = value
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            pieces = 20
            step = -(-len(body) // pieces)
            for start in range(0, len(body), step):
                self.wfile.write(body[start : start + step])
                self.wfile.flush()
                time.sleep(seconds / pieces)

        def answer_redirect(self, location):
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def answer_trickle(self, interval):
            # One byte at a time, for as long as anyone listens.
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            while True:
                self.wfile.write(b"\0")
                self.wfile.flush()
                time.sleep(interval)

        def answer_burst_then_trickle(self, interval):
            # Half a megabyte at once (a good start), then one byte at a time.
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(10 * 1024 * 1024))
            self.end_headers()
            self.wfile.write(b"\0" * 512 * 1024)
            self.wfile.flush()
            while True:
                time.sleep(interval)
                self.wfile.write(b"\0")
                self.wfile.flush()

        def answer_endless(self, rate):
            # Bytes with no end and no length; `rate` bytes per second, or as fast as it goes.
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()
            self.close_connection = True
            block = b"\0" * 16384
            while True:
                self.wfile.write(block)
                if rate:
                    self.wfile.flush()
                    time.sleep(len(block) / rate)

        def answer_slow_headers(self, interval):
            # A status line, then one header whose value never ends: a byte at a time,
            # each well within any read timeout (for 30 s at most).
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self.wfile.flush()
            until = time.monotonic() + 30
            while time.monotonic() < until:
                time.sleep(interval)
                self.wfile.write(b"a")
                self.wfile.flush()

        def answer_silent(self, _):
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.flush()
            time.sleep(30)

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):
            sock, address = super().get_request()
            return context.wrap_socket(sock, server_side=True), address

        def handle_error(self, request, client_address):
            pass  # refused handshakes are the point of several tests

    server = Server(("127.0.0.1", 0), Handler)
    state.port = server.server_port
    state.server = server
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return state


class Resolver:
    """Stands in for DNS (the network edge): answers per name, in order; the last
    answer repeats. Records every question."""

    def __init__(self, answers: dict[str, list[list[str]]]):
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        sequence = self.answers.get(host)
        if not sequence:
            raise socket.gaierror(f"no such name in the test's DNS: {host}")
        return sequence.pop(0) if len(sequence) > 1 else sequence[0]
