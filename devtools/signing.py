"""A stand-in for fal's signing side: an Ed25519 key, its JWKS served over real HTTP,
and signed webhook headers."""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from generation.signatures import signed_message


def jwk_for(key: Ed25519PrivateKey, kid: str) -> dict:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}


class JwksServer:
    def __init__(self):
        self.keys: list[dict] = []
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"


_used_timestamps: dict[bytes, set[int]] = {}


def fresh_timestamp(key: Ed25519PrivateKey) -> int:
    """Now, or a second or so earlier: never the same twice for one key. fal signs each
    delivery afresh, and two identical signatures would (rightly) be taken for a replay."""
    used = _used_timestamps.setdefault(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), set())
    now = timestamp = int(time.time())
    while timestamp in used:
        timestamp -= 1
    # Walking back this far would leave fal's five-minute window: use another key.
    assert now - timestamp < 60, "too many deliveries signed with one key in one minute"
    used.add(timestamp)
    return timestamp


def sign(key: Ed25519PrivateKey, body: bytes, *, request_id="req-1", user_id="user-1", timestamp=None) -> dict:
    timestamp = str(fresh_timestamp(key) if timestamp is None else timestamp)
    message = signed_message(request_id=request_id, user_id=user_id, timestamp=timestamp, body=body)
    return {
        "X-Fal-Webhook-Request-Id": request_id,
        "X-Fal-Webhook-User-Id": user_id,
        "X-Fal-Webhook-Timestamp": timestamp,
        "X-Fal-Webhook-Signature": key.sign(message).hex(),
    }
