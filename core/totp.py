"""TOTP (RFC 6238) on ``cryptography``: secrets, provisioning URIs and code checks.

Codes are 6 digits, SHA-1, 30-second steps (what every authenticator app
speaks). A code is accepted for the current step and one step either side
(clock drift), and only for a step later than the last one used, so each
code works once: the caller remembers the step this returns.
"""

from __future__ import annotations

import base64
import hmac
import os
from datetime import datetime
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1
SECRET_BYTES = 20  # 160 bits, the RFC 4226 recommendation for SHA-1


def new_secret() -> str:
    """A fresh shared secret, base32 without padding (as authenticator apps expect)."""
    return base64.b32encode(os.urandom(SECRET_BYTES)).decode().rstrip("=")


def _totp(secret: str) -> TOTP:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    # SHA-1 is what RFC 6238 apps implement; as an HMAC it is not weakened by SHA-1 collisions.
    return TOTP(key, DIGITS, SHA1(), STEP_SECONDS, enforce_key_length=False)  # noqa: S303


def step_of(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    return _totp(secret).generate(step * STEP_SECONDS).decode()


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    label = quote(f"{issuer}:{account}", safe="@:")
    query = urlencode({"secret": secret, "issuer": issuer, "digits": DIGITS, "period": STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"


def matching_step(secret: str, code: object, now: datetime, last_used_step: int | None) -> int | None:
    """The step ``code`` belongs to, or None when it is wrong, stale or already used."""
    if not isinstance(code, str) or len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    current = step_of(now)
    found = None
    # Check every candidate step, so the time taken says nothing about which one matched.
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step).encode(), code.encode()):
            found = step
    if found is None or (last_used_step is not None and found <= last_used_step):
        # A step at or before the last one used is a replay: each code works once.
        return None
    return found
