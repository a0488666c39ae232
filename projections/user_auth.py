"""The users view's credential state: password changes and resets, unlocks and TOTP.

These updaters join ``projections/users.py``'s; they keep what login decides on
(lockout counters, the TOTP secret and the last TOTP step used) in the user
document, so every decision reads one versioned document.
"""

from __future__ import annotations

from typing import Any

from events.model import RecordedEvent
from events.types import EventType as T

MAX_TOTP_FAILURES_KEPT = 10

# What an unlock, a reset or a successful login clears (SPEC §4: reset and unlock clear the lockout).
LOCKOUT_CLEARED = {"failures": [], "locked_until": None, "lock_count": 0}
TOTP_THROTTLE_CLEARED = {"totp_failures": [], "totp_locked_until": None, "totp_lock_count": 0}


def _login_succeeded(e: RecordedEvent) -> dict[str, Any]:
    fields: dict[str, Any] = {**LOCKOUT_CLEARED, "last_login_at": e.occurred_at}
    if e.data.get("totp_step") is not None:
        fields.update(TOTP_THROTTLE_CLEARED, totp_last_step=e.data["totp_step"])
    return {"$set": fields}


def _totp_enabled(e: RecordedEvent) -> dict[str, Any]:
    return {
        "$set": {
            "totp_enabled": True,
            "totp_secret": e.data["totp_secret"],
            "totp_pending_secret": None,
            "totp_last_step": e.data["totp_step"],
            **TOTP_THROTTLE_CLEARED,
            "updated_at": e.occurred_at,
        }
    }


def _totp_disabled(e: RecordedEvent) -> dict[str, Any]:
    fields: dict[str, Any] = {"totp_enabled": False, "totp_secret": None, "totp_pending_secret": None}
    if e.data.get("totp_step") is not None:
        fields["totp_last_step"] = e.data["totp_step"]
    return {"$set": {**fields, "updated_at": e.occurred_at}}


def _reset_completed(e: RecordedEvent) -> dict[str, Any]:
    return {
        "$set": {
            "password_hash": e.data["password_hash"],
            "reset_hash": None,
            "reset_expires_at": None,
            **LOCKOUT_CLEARED,
            "updated_at": e.occurred_at,
        }
    }


AUTH_UPDATERS = {
    T.LOGIN_SUCCEEDED: _login_succeeded,
    # An admin unlock clears the password lockout and the TOTP pause alike.
    T.USER_UNLOCKED: lambda e: {"$set": {**LOCKOUT_CLEARED, **TOTP_THROTTLE_CLEARED, "updated_at": e.occurred_at}},
    T.USER_PASSWORD_CHANGED: lambda e: {
        "$set": {"password_hash": e.data["password_hash"], "updated_at": e.occurred_at}
    },
    T.PASSWORD_RESET_REQUESTED: lambda e: {
        "$set": {"reset_hash": e.data["reset_hash"], "reset_expires_at": e.data["reset_expires_at"]}
    },
    T.PASSWORD_RESET_COMPLETED: _reset_completed,
    T.TOTP_SETUP_STARTED: lambda e: {"$set": {"totp_pending_secret": e.data["totp_pending_secret"]}},
    T.TOTP_ENABLED: _totp_enabled,
    T.TOTP_DISABLED: _totp_disabled,
    # Attempts made while throttled were never checked, so they do not count towards the next lock.
    T.TOTP_FAILED: lambda e: (
        {}
        if e.data.get("throttled")
        else {"$push": {"totp_failures": {"$each": [e.occurred_at], "$slice": -MAX_TOTP_FAILURES_KEPT}}}
    ),
    T.TOTP_LOCKED: lambda e: {
        "$set": {"totp_locked_until": e.data["locked_until"], "totp_failures": []},
        "$inc": {"totp_lock_count": 1},
    },
}
