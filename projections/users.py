"""Users: profile (sealed PII), roles, status, verification and lockout state."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING

from events.model import RecordedEvent
from events.types import EventType as T
from projections.base import EntityView
from projections.privacy import ERASURE_UPDATERS
from projections.user_auth import AUTH_UPDATERS

MAX_FAILURES_KEPT = 10


def _registered(e: RecordedEvent) -> dict[str, Any]:
    d = e.data
    return {
        "email_index": d["email_index"],
        "email": d["email"],
        "full_name": d["full_name"],
        "password_hash": d["password_hash"],
        "roles": list(d["roles"]),
        "status": "active",
        "email_verified": d["email_verified"],
        "verification_hash": d.get("verification_hash"),
        "verification_expires_at": d.get("verification_expires_at"),
        "totp_enabled": False,
        "failures": [],
        "locked_until": None,
        "lock_count": 0,
        "created_at": e.occurred_at,
        "updated_at": e.occurred_at,
    }


def _set(**fields: Any) -> dict[str, Any]:
    return {"$set": fields}


UPDATERS = {
    T.USER_EMAIL_VERIFIED: lambda e: _set(email_verified=True, verification_hash=None, updated_at=e.occurred_at),
    T.USER_PROFILE_UPDATED: lambda e: _set(full_name=e.data["full_name"], updated_at=e.occurred_at),
    T.USER_ROLES_CHANGED: lambda e: _set(roles=list(e.data["roles"]), updated_at=e.occurred_at),
    T.USER_DISABLED: lambda e: _set(status="disabled", updated_at=e.occurred_at),
    T.USER_ENABLED: lambda e: _set(status="active", updated_at=e.occurred_at),
    T.USER_PASSWORD_REHASHED: lambda e: _set(password_hash=e.data["password_hash"]),
    # An admin unlock clears the lockout entirely, as a successful reset does (SPEC §4).
    T.USER_UNLOCKED: lambda e: _set(failures=[], locked_until=None, lock_count=0, updated_at=e.occurred_at),
    T.LOGIN_FAILED: lambda e: (
        {"$push": {"failures": {"$each": [e.occurred_at], "$slice": -MAX_FAILURES_KEPT}}}
        if e.data.get("reason") == "wrong_password"
        else {}
    ),
    T.ACCOUNT_LOCKED: lambda e: {
        "$set": {"locked_until": e.data["locked_until"], "failures": []},
        "$inc": {"lock_count": 1},
    },
    T.LOGIN_SUCCEEDED: lambda e: _set(failures=[], locked_until=None, lock_count=0, last_login_at=e.occurred_at),
}


class UsersView(EntityView):
    name = "users"
    kind = "user"
    collections = ("users",)

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.creators = {T.USER_REGISTERED: _registered}
        self.updaters = {**UPDATERS, **AUTH_UPDATERS, **ERASURE_UPDATERS}

    def ensure_indexes(self) -> None:
        self.docs.create_index([("email_index", ASCENDING)], name="email_index")
        self.docs.create_index([("roles", ASCENDING)], name="roles")
        self.docs.create_index([("status", ASCENDING)], name="status")
