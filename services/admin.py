"""Bootstrap and administration use cases."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.clock import utc
from core.emails import looks_like_email, normalize_email
from core.errors import Forbidden, LastActiveAdmin, NotFound, SelfDemotion, ValidationFailed, VersionConflict
from core.passwords import check_password_policy
from core.permissions import ALL_ROLES, Role
from events.lockout import WINDOW as LOCKOUT_WINDOW
from events.model import SYSTEM, Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services.claims import claim_holder
from services.deps import Deps
from services.paging import Page, decode_key_cursor, encode_key_cursor
from services.users import User, load_user


def create_admin(deps: Deps, email: str, password: str) -> str:
    """A verified admin, created by ``system`` (CLI bootstrap)."""
    if not looks_like_email(email):
        raise ValidationFailed("That is not an email address.", errors=[{"field": "email", "code": "invalid_email"}])
    check_password_policy(password, email)
    index = deps.email_index(email)
    claim_stream = stream_id("email", index)
    claims = deps.store.read_stream(claim_stream)
    if claim_holder(claims) is not None:
        raise ValidationFailed("A user with that email exists; use set-roles.", code="email_taken")
    user_id = uuid.uuid4().hex
    vault = deps.vault
    data = {
        "subject": user_id,
        "email_index": index,
        "email": vault.seal(user_id, "email", normalize_email(email)),
        "full_name": vault.seal(user_id, "full_name", "Administrator"),
        "password_hash": vault.seal(user_id, "password_hash", deps.hasher.hash(password)),
        "roles": [Role.ADMIN.value],
        "email_verified": True,
        "verification_hash": None,
        "verification_expires_at": None,
    }
    deps.commit(
        [
            StreamAppend(
                claim_stream, claims[-1].version if claims else 0, (NewEvent(T.EMAIL_CLAIMED, {"subject": user_id}),)
            ),
            StreamAppend(stream_id("user", user_id), 0, (NewEvent(T.USER_REGISTERED, data),)),
        ],
        Context(actor=SYSTEM),
    )
    return user_id


# --- administering users (API.md /api/admin/users) ------------------------------------
#
# Every action is one event on the target user's stream, written with the acting
# admin as actor and the request id (both from ``ctx``), carrying the admin's reason
# sealed under the target's data key (free text about a person is PII: erasure
# shreds it, admins read it redacted in the audit log, auditors decrypted).

USER_STATUSES = frozenset({"active", "disabled", "erased"})
ROSTER_STREAM = stream_id("roster", "admins")
_USER_ID = re.compile(r"^[0-9a-f]{1,64}$")


def list_users(deps: Deps, role: str | None, status: str | None, q: str | None, after: str | None, limit: int) -> Page:
    """A page of users in id order, filtered by role, status and exact email.

    Emails are sealed, so ``q`` cannot be a substring search: it is normalized and
    matched through the blind index, i.e. it finds the one account with exactly
    that address (case and Unicode variants included) or nothing.
    """
    query: dict[str, Any] = {}
    if role is not None:
        if role not in ALL_ROLES:
            raise ValidationFailed(
                "Unknown role.", errors=[{"field": "role", "code": "invalid_role"}], code="invalid_role"
            )
        query["roles"] = role
    if status is not None:
        if status not in USER_STATUSES:
            raise ValidationFailed(
                "Unknown status.", errors=[{"field": "status", "code": "invalid_status"}], code="invalid_status"
            )
        query["status"] = status
    if q is not None:
        query["email_index"] = deps.email_index(q)
    if after is not None:
        query["_id"] = {"$gt": after}
    docs = list(deps.db["users"].find(query).sort("_id", 1).limit(limit + 1))
    more = len(docs) > limit
    items = [admin_user_view(deps, User(d["_id"], d["version"], d)) for d in docs[:limit]]
    return Page(items, encode_id_cursor(docs[limit - 1]["_id"]) if more else None)


def encode_id_cursor(user_id: str) -> str:
    return encode_key_cursor("u", user_id)


def decode_id_cursor(cursor: str | None) -> str | None:
    return decode_key_cursor(cursor, "u", _USER_ID)


def get_user(deps: Deps, user_id: str) -> User:
    user = load_user(deps, user_id) if _USER_ID.match(user_id) else None
    if user is None:
        raise NotFound()
    return user


def admin_user_view(deps: Deps, user: User) -> dict[str, Any]:
    """What an admin sees of an account: identity, roles, status and lockout state."""
    now = deps.clock.now()
    lockout = user.lockout
    erased = user.doc["status"] == "erased"
    return {
        "id": user.id,
        "email": None if erased else deps.vault.open(user.id, "email", user.doc.get("email")),
        "full_name": None if erased else deps.vault.open(user.id, "full_name", user.doc.get("full_name")),
        "roles": list(user.roles),
        "status": user.doc["status"],
        "email_verified": bool(user.doc.get("email_verified")),
        "totp_enabled": bool(user.doc.get("totp_enabled")),
        "locked_until": lockout.locked_until if lockout.locked(now) else None,
        "failed_logins": sum(1 for t in lockout.recent_failures if now - t < LOCKOUT_WINDOW),
        "lock_count": lockout.lock_count,
        "last_login_at": user.doc.get("last_login_at"),
        "created_at": utc(user.doc["created_at"]),
        "updated_at": user.doc.get("updated_at"),
        "version": user.version,
    }


@dataclass(frozen=True)
class AdminAction:
    """Who acts (an admin's user id, or ``system`` for the CLI), on whom, why, and the
    version they saw."""

    admin_id: str
    user_id: str
    reason: str | None
    ctx: Context
    expected_version: int | None = None  # from If-Match; None accepts any


def set_user_roles(deps: Deps, action: AdminAction, roles: list[Any]) -> User:
    if not roles or not all(isinstance(r, str) for r in roles) or set(roles) - ALL_ROLES:
        raise ValidationFailed(
            "Unknown or missing role.", errors=[{"field": "roles", "code": "invalid_role"}], code="invalid_role"
        )

    wanted = sorted(set(roles))

    def decide(user: User) -> list[StreamAppend]:
        loses_admin = Role.ADMIN in user.roles and Role.ADMIN not in wanted
        if loses_admin and user.id == action.admin_id:
            # Locking yourself out is never what an admin means to do; another admin must do it.
            raise SelfDemotion("You cannot remove your own admin role.")
        data = {"subject": user.id, "roles": wanted, "previous": list(user.roles)}
        appends = [_on_user(deps, action, user, T.USER_ROLES_CHANGED, data)]
        if loses_admin and user.active:
            appends.append(_roster_shrinks(deps, user.id, "demoted"))
        return appends

    return _act(deps, action, decide)


def disable_user(deps: Deps, action: AdminAction) -> User:
    def decide(user: User) -> list[StreamAppend]:
        if user.id == action.admin_id:
            raise SelfDemotion("You cannot disable your own account.")
        data = {"subject": user.id}
        # Sessions are revoked too, not only refused while disabled: re-enabling the
        # account later must not bring a stolen refresh token back to life.
        revoke = NewEvent(T.ALL_SESSIONS_REVOKED, {"subject": user.id, "reason": "disabled"})
        appends = [_on_user(deps, action, user, T.USER_DISABLED, data, revoke)]
        if Role.ADMIN in user.roles and user.active:
            appends.append(_roster_shrinks(deps, user.id, "disabled"))
        return appends

    return _act(deps, action, decide)


def enable_user(deps: Deps, action: AdminAction) -> User:
    return _act(deps, action, lambda user: [_on_user(deps, action, user, T.USER_ENABLED, {"subject": user.id})])


def unlock_user(deps: Deps, action: AdminAction) -> User:
    def decide(user: User) -> list[StreamAppend]:
        until = user.lockout.locked_until
        data = {"subject": user.id, "was_locked_until": until, "failures_cleared": len(user.lockout.recent_failures)}
        return [_on_user(deps, action, user, T.USER_UNLOCKED, data)]

    return _act(deps, action, decide)


def revoke_user_sessions(deps: Deps, action: AdminAction) -> User:
    def decide(user: User) -> list[StreamAppend]:
        data = {"subject": user.id, "reason": "admin_revoked"}
        return [_on_user(deps, action, user, T.ALL_SESSIONS_REVOKED, data)]

    return _act(deps, action, decide)


def _act(deps: Deps, action: AdminAction, decide: Callable[[User], list[StreamAppend]]) -> User:
    def attempt() -> None:
        if action.admin_id != SYSTEM:
            actor = load_user(deps, action.admin_id)
            if actor is None or not actor.active or Role.ADMIN not in actor.roles:
                # Re-checked on every attempt: a concurrent request may have demoted the caller.
                raise Forbidden()
        user = get_user(deps, action.user_id)
        if user.doc["status"] == "erased":
            raise NotFound()
        if action.expected_version is not None and action.expected_version != user.version:
            raise VersionConflict()
        deps.commit(decide(user), action.ctx)

    deps.retrying(attempt)
    return get_user(deps, action.user_id)


def _on_user(
    deps: Deps, action: AdminAction, user: User, kind: str, data: dict[str, Any], *more: NewEvent
) -> StreamAppend:
    sealed = deps.vault.seal(user.id, "admin_reason", action.reason) if action.reason else None
    event = NewEvent(kind, {**data, "admin_action": True, "admin_reason": sealed})
    return StreamAppend(stream_id("user", user.id), user.version, (event, *more))


def _roster_shrinks(deps: Deps, user_id: str, change: str) -> StreamAppend:
    """Refuse to leave no active admin, safely under concurrency.

    Every change that removes an active admin also appends to one roster stream
    at the version read here. Two admins demoting each other at once both read
    the same version; one append wins, the other raises ConcurrencyError and is
    decided again on fresh state, where it meets the last-admin rule. The
    version is read before catching up, so the count below reflects at least
    every change that version covers.
    """
    roster = deps.store.read_stream(ROSTER_STREAM)
    version = roster[-1].version if roster else 0
    deps.projector.catch_up()
    active = deps.db["users"].count_documents({"roles": Role.ADMIN.value, "status": "active"})
    if active <= 1:
        raise LastActiveAdmin()
    event = NewEvent(T.ADMIN_ROSTER_CHANGED, {"subject": user_id, "change": change, "active_admins": active - 1})
    return StreamAppend(ROSTER_STREAM, version, (event,))
