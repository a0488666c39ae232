"""Password change and password reset.

Security decisions, each commented where it happens:
- a wrong current password counts towards the account lockout, so a stolen
  access token cannot be used to guess the password;
- reset answers the same for known and unknown emails and does the same work
  for both before it answers;
- reset tokens are ``<user_id>.<secret>``, only a hash is stored, 30 minutes,
  single use; the link is built from PUBLIC_BASE_URL, never the Host header;
- change ends every other session, reset ends all of them; reset clears the
  lockout but never touches TOTP, so it gets nobody past the second factor.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from datetime import timedelta

from core.clock import utc
from core.crypto import token_hash
from core.emails import looks_like_email
from core.errors import InvalidToken, NotFound, ValidationFailed, WrongCurrentPassword
from core.passwords import check_password_policy
from core.tokens import compose_token, new_opaque_token, split_token
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services import ratelimit
from services.auth import _password_hash, _record_failure
from services.deps import Deps
from services.principal import Principal
from services.users import User, find_by_email, load_user

logger = logging.getLogger(__name__)

RESET_TTL = timedelta(minutes=30)
RESET_ANSWER_FLOOR_SECONDS = 0.1


def require_password(deps: Deps, user_id: str, password: str, ctx: Context, *, purpose: str, field: str) -> None:
    """Raise WrongCurrentPassword unless ``password`` is the user's and the account is not locked."""
    user = load_user(deps, user_id)
    if user is None:
        raise NotFound()
    ok = deps.hasher.verify(_password_hash(deps, user), password)

    def decide() -> None:
        fresh = load_user(deps, user_id)
        assert fresh is not None
        now = deps.clock.now()
        locked = fresh.lockout.locked(now)
        if ok and not locked:
            return
        # Counted like a failed login (and refused while locked), so an access token
        # is no oracle for the password.
        _record_failure(deps, fresh, "locked" if locked else "wrong_password", now, ctx, purpose=purpose)
        raise WrongCurrentPassword(errors=[{"field": field, "code": "invalid"}])

    deps.retrying(decide)


def _email_of(deps: Deps, user: User) -> str:
    return deps.vault.open(user.id, "email", user.doc["email"]) or ""


def change_password(deps: Deps, principal: Principal, current: str, new: str, ctx: Context) -> None:
    user = load_user(deps, principal.user_id)
    if user is None:
        raise NotFound()
    check_password_policy(new, _email_of(deps, user), field="new_password")
    require_password(deps, user.id, current, ctx, purpose="password_change", field="current_password")
    sealed = deps.vault.seal(user.id, "password_hash", deps.hasher.hash(new))

    def decide() -> None:
        fresh = load_user(deps, user.id)
        assert fresh is not None
        changed = NewEvent(T.USER_PASSWORD_CHANGED, {"subject": user.id, "password_hash": sealed})
        # Every other session ends; the one that changed the password stays signed in.
        revoked = NewEvent(
            T.ALL_SESSIONS_REVOKED,
            {"subject": user.id, "reason": "password_changed", "except_session": principal.session_id},
        )
        deps.commit([StreamAppend(stream_id("user", user.id), fresh.version, (changed, revoked))], ctx)

    deps.retrying(decide)


# --- reset ---------------------------------------------------------------------------


def request_reset(deps: Deps, email: str, ctx: Context) -> None:
    started = time.perf_counter()
    try:
        _request_reset(deps, email.strip(), ctx)
    finally:
        # A known address costs a token, an event on its stream and a sealed email; an
        # unknown one only an event. Answering no sooner than a fixed floor (well above
        # either) makes the two indistinguishable by time; the test measures it.
        time.sleep(max(0.0, RESET_ANSWER_FLOOR_SECONDS - (time.perf_counter() - started)))


def _request_reset(deps: Deps, email: str, ctx: Context) -> None:
    if not looks_like_email(email):
        raise ValidationFailed("That is not an email address.", errors=[{"field": "email", "code": "invalid_email"}])
    # 3 an hour per normalized address, known or not, so the limit itself reveals nothing.
    ratelimit.check(deps, "password_reset", email, ctx)
    user = find_by_email(deps, email)
    secret = new_opaque_token()
    expires = deps.clock.now() + RESET_TTL
    if user is None or not user.active:
        # Unknown or disabled: record the attempt, send nothing, answer exactly as for a known email.
        outcome = "unknown_email" if user is None else "inactive"
        attempt = NewEvent(T.PASSWORD_RESET_REQUESTED, {"email_index": deps.email_index(email), "outcome": outcome})
        deps.commit([StreamAppend(stream_id("password_reset", uuid.uuid4().hex), 0, (attempt,))], ctx)
        return

    def decide() -> None:
        fresh = load_user(deps, user.id)
        assert fresh is not None
        # Only the hash is stored; a newer request replaces the older token.
        requested = NewEvent(
            T.PASSWORD_RESET_REQUESTED,
            {"subject": user.id, "outcome": "sent", "reset_hash": token_hash(secret), "reset_expires_at": expires},
        )
        deps.commit([StreamAppend(stream_id("user", user.id), fresh.version, (requested,))], ctx)

    deps.retrying(decide)
    # The link comes from configuration: a forged Host header cannot redirect it.
    link = f"{deps.settings.public_base_url}/reset-password?token={compose_token(user.id, secret)}"
    deps.mailer.send(
        subject_id=user.id,
        to=_email_of(deps, user),
        subject="Reset your Warden password",
        text=f"Someone asked to reset your password. Within 30 minutes, choose a new one here:\n\n{link}\n\n"
        "If it was not you, ignore this message; your password stays as it is.\n",
        kind="password_reset",
    )


def _valid_reset(deps: Deps, user: User | None, secret: str) -> User:
    expected = user.doc.get("reset_hash") if user else None
    expires = user.doc.get("reset_expires_at") if user else None
    if (
        user is None
        or not user.active
        or not expected
        or not hmac.compare_digest(expected, token_hash(secret))
        or expires is None
        or utc(expires) <= deps.clock.now()
    ):
        raise InvalidToken()
    return user


def confirm_reset(deps: Deps, token: str, new: str, ctx: Context) -> None:
    user_id, secret = split_token(token)
    user = _valid_reset(deps, load_user(deps, user_id), secret)
    check_password_policy(new, _email_of(deps, user), field="new_password")
    sealed = deps.vault.seal(user.id, "password_hash", deps.hasher.hash(new))

    def decide() -> None:
        # Checked again against the latest version: two confirms with one token, one wins.
        fresh = _valid_reset(deps, load_user(deps, user_id), secret)
        completed = NewEvent(T.PASSWORD_RESET_COMPLETED, {"subject": fresh.id, "password_hash": sealed})
        revoked = NewEvent(T.ALL_SESSIONS_REVOKED, {"subject": fresh.id, "reason": "password_reset"})
        deps.commit([StreamAppend(stream_id("user", fresh.id), fresh.version, (completed, revoked))], ctx)

    deps.retrying(decide)
    logger.info("password reset", extra={"fields": {"user_id": user_id}})
