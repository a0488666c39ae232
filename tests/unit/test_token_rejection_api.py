"""Access tokens an attacker could forge or replay, presented over HTTP (SPEC §4).

Each forged token carries a live session's ids, so the only thing that can
refuse it is the token check itself: the same claims under the right key pass.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import mongomock
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.clock import FixedClock
from core.crypto import key_id
from core.settings import Secret, new_encryption_key
from events.memory import InMemoryEventStore
from services.deps import Deps
from tests.conftest import Api, make_settings

EMAIL = "tok@example.com"
OLD_KEY = "old-jwt-key-" + "q1w2e3r4" * 6
NEW_KEY = "new-jwt-key-" + "z9x8c7v6" * 6


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], sign: Any) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def me(api: Api, token: str) -> int:
    return api.call("GET", "/api/users/me", token=token).status_code


def claims_of(api: Api, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def session(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    api.register(EMAIL)
    token = api.login(EMAIL)["access_token"]
    assert me(api, token) == 200
    return claims_of(api, token)


def _rsa_public_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_the_same_claims_under_the_right_key_pass(api: Api, session: Any) -> None:
    """The control: proves the forgeries below fail for their signature or algorithm only."""
    header, payload = session
    key = api.deps.settings.jwt_secret_key.reveal().encode()
    token = handmade(header, payload, lambda m: hmac.new(key, m, hashlib.sha256).digest())
    assert me(api, token) == 200


def test_hs256_signed_with_an_rsa_public_key_is_rejected(api: Api, session: Any) -> None:
    """HS/RS confusion: a server that verified with "the" key whatever the alg would accept this."""
    header, payload = session
    pem = _rsa_public_pem()
    for kid in (header["kid"], key_id(pem)):
        token = handmade({**header, "kid": kid}, payload, lambda m: hmac.new(pem, m, hashlib.sha256).digest())
        assert me(api, token) == 401


def test_rs256_token_is_rejected_even_with_the_current_kid(api: Api, session: Any) -> None:
    header, payload = session
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(payload, private, algorithm="RS256", headers={"kid": header["kid"]})
    assert me(api, token) == 401


def test_es256_token_is_rejected(api: Api, session: Any) -> None:
    header, payload = session
    token = jwt.encode(
        payload, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": header["kid"]}
    )
    assert me(api, token) == 401


def test_alg_none_is_rejected(api: Api, session: Any) -> None:
    header, payload = session
    token = handmade({**header, "alg": "none"}, payload, lambda m: b"")
    assert me(api, token) == 401
    assert me(api, token.rsplit(".", 1)[0] + ".") == 401


def test_unknown_kid_is_rejected(api: Api, session: Any) -> None:
    header, payload = session
    key = api.deps.settings.jwt_secret_key.reveal().encode()
    token = handmade({**header, "kid": "0" * 12}, payload, lambda m: hmac.new(key, m, hashlib.sha256).digest())
    assert me(api, token) == 401


def test_missing_exp_is_rejected(api: Api, session: Any) -> None:
    header, payload = session
    key = api.deps.settings.jwt_secret_key.reveal().encode()
    trimmed = {k: v for k, v in payload.items() if k != "exp"}
    token = handmade(header, trimmed, lambda m: hmac.new(key, m, hashlib.sha256).digest())
    assert me(api, token) == 401


# --- key rotation --------------------------------------------------------------------


def _api(clock: FixedClock, db: Any, store: InMemoryEventStore, kek: str, current: str, *previous: str) -> Api:
    settings = make_settings(
        jwt_secret_key=Secret(current),
        jwt_previous_secret_keys=tuple(Secret(k) for k in previous),
        encryption_key=Secret(kek),  # one database, one KEK: only the JWT keys rotate
    )
    built = Deps.build(settings, db, store, clock)
    built.ensure_schema()
    return Api(built)


def test_rotation_previous_key_verifies_until_removed(clock: FixedClock) -> None:
    db = mongomock.MongoClient(tz_aware=True)["rotation"]
    store = InMemoryEventStore(clock)
    kek = new_encryption_key()
    before = _api(clock, db, store, kek, OLD_KEY)
    before.register(EMAIL)
    old_token = before.login(EMAIL)["access_token"]
    # Rotated: NEW signs, OLD still verifies.
    rotated = _api(clock, db, store, kek, NEW_KEY, OLD_KEY)
    assert me(rotated, old_token) == 200
    new_token = rotated.login(EMAIL)["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == key_id(NEW_KEY.encode())
    # Retired: OLD removed from JWT_PREVIOUS_SECRET_KEYS, its tokens fail; NEW ones still pass.
    retired = _api(clock, db, store, kek, NEW_KEY)
    assert me(retired, old_token) == 401
    assert me(retired, new_token) == 200
