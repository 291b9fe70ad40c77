"""Verifying that a webhook really comes from fal.

fal signs `request_id \\n user_id \\n timestamp \\n sha256_hex(body)` with Ed25519;
any key of its published JWKS may have signed it. The JWKS is cached (in Django's
cache, shared by the processes of a deployment when that cache is shared) and fetched
again early only when a signature fails to verify, at most once per
FAL_JWKS_MIN_REFRESH_SECONDS, so a flood of forged calls cannot make us hammer fal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import time
from collections.abc import Mapping

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

HEADER_REQUEST_ID = "X-Fal-Webhook-Request-Id"
HEADER_USER_ID = "X-Fal-Webhook-User-Id"
HEADER_TIMESTAMP = "X-Fal-Webhook-Timestamp"
HEADER_SIGNATURE = "X-Fal-Webhook-Signature"

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_CACHE_KEY = "fal:jwks"
_REFRESH_GUARD_KEY = "fal:jwks:refreshed"


class SignatureError(Exception):
    """The delivery is not provably from fal; the message says why (for the record)."""


def signed_message(*, request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _fetch_jwks() -> list[dict]:
    response = requests.get(settings.FAL_JWKS_URL, timeout=10)
    response.raise_for_status()
    keys = response.json().get("keys", [])
    cache.set(_CACHE_KEY, keys, settings.FAL_JWKS_CACHE_SECONDS)
    cache.set(_REFRESH_GUARD_KEY, True, settings.FAL_JWKS_MIN_REFRESH_SECONDS)
    logger.info("fetched %d webhook key(s) from %s", len(keys), settings.FAL_JWKS_URL)
    return keys


def public_keys(keys: list[dict]) -> list[Ed25519PublicKey]:
    """The Ed25519 keys of a JWKS's `keys` that can be read; others are skipped."""
    public_keys = []
    for jwk in keys:
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not jwk.get("x"):
            continue
        try:
            public_keys.append(Ed25519PublicKey.from_public_bytes(_b64url_decode(jwk["x"])))
        except (ValueError, binascii.Error):
            logger.warning("skipping an unreadable key in the JWKS: %r", jwk.get("kid"))
    return public_keys


def _any_key_verifies(keys: list[dict], signature: bytes, message: bytes) -> bool:
    for public_key in public_keys(keys):
        try:
            public_key.verify(signature, message)
            return True
        except InvalidSignature:
            continue
    return False


def verify_fal_signature(headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> str:
    """Check a delivery's signature; returns fal's request id from the headers.
    Raises SignatureError when it is missing, stale, malformed or does not verify."""
    values = {name: (headers.get(name) or "").strip() for name in (HEADER_REQUEST_ID, HEADER_USER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise SignatureError(f"missing header(s): {', '.join(missing)}")
    # Unix seconds: at most 12 digits (an int of 400 digits overflows the float clock).
    if not _TIMESTAMP.fullmatch(values[HEADER_TIMESTAMP]):
        raise SignatureError("timestamp is not Unix seconds")
    timestamp = int(values[HEADER_TIMESTAMP])
    skew = abs((now if now is not None else time.time()) - timestamp)
    if skew > settings.FAL_WEBHOOK_TOLERANCE_SECONDS:
        raise SignatureError(f"timestamp is {int(skew)} s away from our clock")
    try:
        signature = bytes.fromhex(values[HEADER_SIGNATURE])
    except ValueError:
        raise SignatureError("signature is not hex") from None
    message = signed_message(
        request_id=values[HEADER_REQUEST_ID],
        user_id=values[HEADER_USER_ID],
        timestamp=values[HEADER_TIMESTAMP],
        body=body,
    )

    keys = cache.get(_CACHE_KEY)
    if keys is not None and _any_key_verifies(keys, signature, message):
        return values[HEADER_REQUEST_ID]
    # Unknown key (fal rotated its keys) or nothing cached yet: fetch again, but not
    # more often than the guard allows.
    if keys is None or not cache.get(_REFRESH_GUARD_KEY):
        try:
            keys = _fetch_jwks()
        except (requests.RequestException, ValueError) as exc:
            raise SignatureError(f"could not fetch the JWKS: {exc}") from exc
        if _any_key_verifies(keys, signature, message):
            return values[HEADER_REQUEST_ID]
    raise SignatureError("signature does not verify with any published key")
