"""Ed25519 webhook signatures in fal's format, and the JWKS that publishes the key.

Signed message (UTF-8): request_id, user_id, timestamp and sha256_hex(raw body),
joined by newlines; the signature travels hex-encoded in X-Fal-Webhook-Signature.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path
from typing import Any, Optional

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# fal signs as the account that owns the key; the sandbox has one fixed account.
SANDBOX_USER_ID = "falsandbox-user"

HEADER_REQUEST_ID = "X-Fal-Webhook-Request-Id"
HEADER_USER_ID = "X-Fal-Webhook-User-Id"
HEADER_TIMESTAMP = "X-Fal-Webhook-Timestamp"
HEADER_SIGNATURE = "X-Fal-Webhook-Signature"


def load_or_create_key(path: Optional[Path]) -> Ed25519PrivateKey:
    """The key in ``path`` (PEM, PKCS8); created there if missing so restarts keep it."""
    if path is None:
        return Ed25519PrivateKey.generate()
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a side file and renamed so two sandboxes starting together never see half a key.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.replace(tmp, path)
    return key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    def __init__(self, key: Ed25519PrivateKey, user_id: str = SANDBOX_USER_ID) -> None:
        self._key = key
        self.user_id = user_id
        self._public_raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        # Derived from the key itself so it is stable across restarts with the same key file.
        self.kid = hashlib.sha256(self._public_raw).hexdigest()[:16]

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64url(self._public_raw),
                    "kid": self.kid,
                    "use": "sig",
                    "alg": "EdDSA",
                }
            ]
        }

    def headers(self, request_id: str, body: bytes, timestamp: Optional[int] = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        message = "\n".join([request_id, self.user_id, stamp, hashlib.sha256(body).hexdigest()])
        signature = self._key.sign(message.encode("utf-8")).hex()
        return {
            HEADER_REQUEST_ID: request_id,
            HEADER_USER_ID: self.user_id,
            HEADER_TIMESTAMP: stamp,
            HEADER_SIGNATURE: signature,
        }
