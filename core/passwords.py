"""The password policy and argon2id hashing: the one place passwords are judged.

Policy (NIST SP 800-63B): 12–128 characters, not a common password, not
containing the email's local part. No composition rules.
"""

from __future__ import annotations

import functools
from importlib import resources

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.emails import local_part
from core.errors import WeakPassword
from core.settings import Argon2Params

MIN_LENGTH = 12
MAX_LENGTH = 128
# Local parts shorter than this ("al@...") would reject too many good passwords.
MIN_LOCAL_PART_TO_CHECK = 3


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("core").joinpath("data/common-passwords.txt").read_text()
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def check_password_policy(password: object, email: str = "", field: str = "password") -> str:
    """Return the password if it meets the policy, else raise WeakPassword naming why."""
    if not isinstance(password, str):
        raise WeakPassword(errors=[{"field": field, "code": "wrong_type"}])
    length = len(password)
    reason = None
    if length < MIN_LENGTH:
        reason = "too_short"
    elif length > MAX_LENGTH:
        reason = "too_long"
    elif password.casefold() in common_passwords():
        reason = "too_common"
    else:
        local = local_part(email) if email else ""
        if len(local) >= MIN_LOCAL_PART_TO_CHECK and local in password.casefold():
            reason = "contains_email"
    if reason:
        raise WeakPassword(
            f"The password does not meet the policy ({reason.replace('_', ' ')}).",
            errors=[{"field": field, "code": reason}],
        )
    return password


class PasswordHasher:
    """argon2id with parameters from config; verification is constant-time in argon2."""

    def __init__(self, params: Argon2Params) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            type=argon2.Type.ID,
        )
        # Verified against when the email is unknown, so every failure costs one hash.
        self._dummy = self._hasher.hash("warden-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when the password matches; unknown users pass ``None`` and still pay the cost."""
        try:
            self._hasher.verify(stored_hash or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
