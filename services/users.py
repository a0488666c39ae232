"""Loading users from the view, opening their PII, and profile/role use cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.clock import utc
from core.errors import NotFound, ValidationFailed
from core.permissions import ALL_ROLES
from events.keys import ERASED
from events.lockout import LockoutState
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services.deps import Deps

MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class User:
    """A user as the view holds it (PII still sealed)."""

    id: str
    version: int
    doc: dict[str, Any]

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.doc["roles"])

    @property
    def active(self) -> bool:
        return self.doc["status"] == "active"

    @property
    def lockout(self) -> LockoutState:
        until = self.doc.get("locked_until")
        return LockoutState(
            recent_failures=tuple(utc(t) for t in self.doc.get("failures", [])),
            locked_until=utc(until) if until else None,
            lock_count=self.doc.get("lock_count", 0),
        )


def load_user(deps: Deps, user_id: str) -> User | None:
    doc = deps.db["users"].find_one({"_id": str(user_id)})
    return User(doc["_id"], doc["version"], doc) if doc else None


def find_by_email(deps: Deps, email: str) -> User | None:
    doc = deps.db["users"].find_one({"email_index": deps.email_index(email), "status": {"$ne": "erased"}})
    return User(doc["_id"], doc["version"], doc) if doc else None


def user_view(deps: Deps, user: User) -> dict[str, Any]:
    vault = deps.vault
    return {
        "id": user.id,
        "email": vault.open(user.id, "email", user.doc["email"]),
        "full_name": vault.open(user.id, "full_name", user.doc["full_name"]),
        "roles": list(user.roles),
        "email_verified": bool(user.doc["email_verified"]),
        "totp_enabled": bool(user.doc.get("totp_enabled")),
        "created_at": utc(user.doc["created_at"]),
    }


def notify(deps: Deps, user: User, *, subject: str, text: str, kind: str) -> bool:
    """Queue mail to a user's own address; nothing goes to an erased (unreadable) address."""
    email = deps.vault.open(user.id, "email", user.doc["email"])
    if not email or email == ERASED:
        return False
    deps.mailer.send(subject_id=user.id, to=email, subject=subject, text=text, kind=kind)
    return True


def check_full_name(value: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= MAX_NAME_LENGTH:
        raise ValidationFailed("full_name must be 1–200 characters.", errors=[{"field": "full_name", "code": "length"}])
    return value


def update_profile(deps: Deps, user_id: str, full_name: str, ctx: Context) -> dict[str, Any]:
    full_name = check_full_name(full_name)

    def decide() -> None:
        user = load_user(deps, user_id)
        if user is None:
            raise NotFound()
        sealed = deps.vault.seal(user.id, "full_name", full_name)
        event = NewEvent(T.USER_PROFILE_UPDATED, {"subject": user.id, "full_name": sealed})
        deps.commit([StreamAppend(stream_id("user", user.id), user.version, (event,))], ctx)

    deps.retrying(decide)
    user = load_user(deps, user_id)
    assert user is not None
    return user_view(deps, user)


def set_roles(deps: Deps, user_id: str, roles: list[str], ctx: Context) -> User:
    """Replace a user's roles; recorded on the user's stream with the acting admin."""
    unknown = sorted(set(roles) - ALL_ROLES)
    if unknown or not roles:
        raise ValidationFailed("Unknown or missing role.", errors=[{"field": "roles", "code": "invalid_role"}])

    def decide() -> None:
        user = load_user(deps, user_id)
        if user is None:
            raise NotFound()
        event = NewEvent(
            T.USER_ROLES_CHANGED,
            {"subject": user.id, "roles": sorted(set(roles)), "previous": list(user.roles)},
        )
        deps.commit([StreamAppend(stream_id("user", user.id), user.version, (event,))], ctx)

    deps.retrying(decide)
    user = load_user(deps, user_id)
    assert user is not None
    return user
