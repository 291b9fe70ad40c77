"""fal's webhook signature: Ed25519 over request id, user id, timestamp and the body's
SHA-256, verified against a JWKS served over real HTTP by a small local server."""

import hashlib
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from generation.signatures import SignatureError, signed_message, verify_fal_signature
from devtools.signing import jwk_for, sign


BODY = b'{"request_id": "req-1", "status": "OK", "payload": {}}'


@pytest.fixture
def jwks(jwks_server):
    return jwks_server


def test_message_is_the_four_lines_fal_signs():
    expected = f"r\nu\n42\n{hashlib.sha256(b'x').hexdigest()}".encode()
    assert signed_message(request_id="r", user_id="u", timestamp="42", body=b"x") == expected


def test_a_valid_signature_verifies_and_names_the_request(jwks):
    key = Ed25519PrivateKey.generate()
    jwks.keys = [jwk_for(key, "k1")]
    assert verify_fal_signature(sign(key, BODY), BODY) == "req-1"


def test_any_published_key_may_have_signed(jwks):
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    jwks.keys = [jwk_for(old, "old"), jwk_for(new, "new")]
    assert verify_fal_signature(sign(new, BODY), BODY) == "req-1"


def test_a_forged_key_is_refused(jwks):
    jwks.keys = [jwk_for(Ed25519PrivateKey.generate(), "k1")]
    with pytest.raises(SignatureError, match="does not verify"):
        verify_fal_signature(sign(Ed25519PrivateKey.generate(), BODY), BODY)


def test_a_tampered_body_is_refused(jwks):
    key = Ed25519PrivateKey.generate()
    jwks.keys = [jwk_for(key, "k1")]
    headers = sign(key, BODY)
    with pytest.raises(SignatureError):
        verify_fal_signature(headers, BODY.replace(b"OK", b"ERROR"))


def test_a_changed_request_id_is_refused(jwks):
    key = Ed25519PrivateKey.generate()
    jwks.keys = [jwk_for(key, "k1")]
    headers = sign(key, BODY) | {"X-Fal-Webhook-Request-Id": "req-2"}
    with pytest.raises(SignatureError):
        verify_fal_signature(headers, BODY)


@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_a_stale_or_future_timestamp_is_refused(jwks, offset):
    key = Ed25519PrivateKey.generate()
    jwks.keys = [jwk_for(key, "k1")]
    headers = sign(key, BODY, timestamp=int(time.time()) + offset)
    with pytest.raises(SignatureError, match="away from our clock"):
        verify_fal_signature(headers, BODY)


def test_a_timestamp_inside_the_window_is_accepted(jwks):
    key = Ed25519PrivateKey.generate()
    jwks.keys = [jwk_for(key, "k1")]
    assert verify_fal_signature(sign(key, BODY, timestamp=int(time.time()) - 290), BODY) == "req-1"


@pytest.mark.parametrize("missing", ["X-Fal-Webhook-Signature", "X-Fal-Webhook-Timestamp", "X-Fal-Webhook-Request-Id", "X-Fal-Webhook-User-Id"])
def test_missing_headers_are_refused_without_fetching_keys(jwks, missing):
    key = Ed25519PrivateKey.generate()
    headers = sign(key, BODY)
    del headers[missing]
    with pytest.raises(SignatureError, match="missing header"):
        verify_fal_signature(headers, BODY)
    assert jwks.fetches == 0


@pytest.mark.parametrize("signature", ["not-hex", "00" * 64, ""])
def test_garbage_signatures_are_refused(jwks, signature):
    key = Ed25519PrivateKey.generate()
    jwks.keys = [jwk_for(key, "k1")]
    headers = sign(key, BODY) | {"X-Fal-Webhook-Signature": signature}
    with pytest.raises(SignatureError):
        verify_fal_signature(headers, BODY)


def test_the_jwks_is_cached_not_fetched_per_delivery(jwks):
    key = Ed25519PrivateKey.generate()
    jwks.keys = [jwk_for(key, "k1")]
    for _ in range(5):
        verify_fal_signature(sign(key, BODY), BODY)
    assert jwks.fetches == 1


def test_a_rotated_key_is_picked_up_by_one_refetch(jwks, settings):
    settings.FAL_JWKS_MIN_REFRESH_SECONDS = 0
    first, rotated = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    jwks.keys = [jwk_for(first, "k1")]
    verify_fal_signature(sign(first, BODY), BODY)
    jwks.keys = [jwk_for(rotated, "k2")]
    assert verify_fal_signature(sign(rotated, BODY), BODY) == "req-1"
    assert jwks.fetches == 2


def test_forged_floods_do_not_refetch_within_the_guard(jwks, settings):
    settings.FAL_JWKS_MIN_REFRESH_SECONDS = 60
    key = Ed25519PrivateKey.generate()
    jwks.keys = [jwk_for(key, "k1")]
    verify_fal_signature(sign(key, BODY), BODY)
    forger = Ed25519PrivateKey.generate()
    for _ in range(5):
        with pytest.raises(SignatureError):
            verify_fal_signature(sign(forger, BODY), BODY)
    assert jwks.fetches == 1
