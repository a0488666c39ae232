"""Registration, email verification, login, refresh and logout.

Security decisions made here, each commented where it happens:
- unknown email, wrong password, locked and disabled accounts fail identically;
- every failure costs one argon2 verification (a dummy hash for unknown emails);
- registration answers the same for new and existing emails;
- refresh tokens are single use; presenting a spent one revokes its family.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.clock import utc
from core.crypto import token_hash
from core.emails import looks_like_email, normalize_email
from core.errors import (
    AuthenticationFailed,
    ConcurrencyError,
    EmailUnverified,
    InvalidToken,
    RefreshRejected,
    Unauthenticated,
    ValidationFailed,
)
from core.passwords import check_password_policy
from core.permissions import Role
from core.tokens import compose_token, new_opaque_token, split_token
from events.lockout import after_failure
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services.claims import claim_holder
from services.deps import Deps
from services.principal import Principal
from services.totp import login_step as totp_login_step
from services.users import User, check_full_name, find_by_email, load_user, notify, user_view

logger = logging.getLogger(__name__)

VERIFICATION_TTL = timedelta(hours=24)
SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)


# --- registration -------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    created_user_id: str | None  # set only when verification is off and the email was new


def register(deps: Deps, email: str, password: str, full_name: str, website: str, ctx: Context) -> Registration:
    email = email.strip()
    if not looks_like_email(email):
        raise ValidationFailed("That is not an email address.", errors=[{"field": "email", "code": "invalid_email"}])
    full_name = check_full_name(full_name)
    check_password_policy(password, email)
    if website:
        # Honeypot: bots fill hidden fields. Answer as usual, create nothing, keep a record.
        honeypot = NewEvent(T.REGISTRATION_HONEYPOT, {"email_index": deps.email_index(email)})
        deps.commit([StreamAppend(stream_id("registration", uuid.uuid4().hex), 0, (honeypot,))], ctx)
        return Registration(None)
    # Hash before looking anything up, so new and existing emails cost the same.
    password_hash = deps.hasher.hash(password)
    index = deps.email_index(email)
    claim_stream = stream_id("email", index)
    claims = deps.store.read_stream(claim_stream)
    holder = claim_holder(claims)  # not claims[-1]: a duplicate-registration event may come last
    if holder is not None:
        return _duplicate(deps, holder, claim_stream, claims[-1].version, ctx)
    user_id = uuid.uuid4().hex
    verify = deps.settings.require_email_verification
    secret = new_opaque_token()
    vault = deps.vault
    data: dict[str, Any] = {
        "subject": user_id,
        "email_index": index,
        "email": vault.seal(user_id, "email", normalize_email(email)),
        "full_name": vault.seal(user_id, "full_name", full_name),
        "password_hash": vault.seal(user_id, "password_hash", password_hash),
        "roles": [Role.APPLICANT.value],
        "email_verified": not verify,
        "verification_hash": token_hash(secret) if verify else None,
        "verification_expires_at": deps.clock.now() + VERIFICATION_TTL if verify else None,
    }
    try:
        deps.commit(
            [
                StreamAppend(
                    claim_stream,
                    claims[-1].version if claims else 0,
                    (NewEvent(T.EMAIL_CLAIMED, {"subject": user_id}),),
                ),
                StreamAppend(stream_id("user", user_id), 0, (NewEvent(T.USER_REGISTERED, data),)),
            ],
            ctx,
        )
    except ConcurrencyError:  # a concurrent registration claimed the email first
        claims = deps.store.read_stream(claim_stream)
        holder = claim_holder(claims) or claims[-1].data["subject"]
        return _duplicate(deps, holder, claim_stream, claims[-1].version, ctx)
    if verify:
        link = f"{deps.settings.public_base_url}/verify-email?token={compose_token(user_id, secret)}"
        deps.mailer.send(
            subject_id=user_id,
            to=normalize_email(email),
            subject="Verify your email address",
            text=f"Welcome to Warden. Confirm your address within 24 hours:\n\n{link}\n",
            kind="verify_email",
        )
        return Registration(None)
    return Registration(user_id)


def _duplicate(deps: Deps, existing_id: str, claim_stream: str, version: int, ctx: Context) -> Registration:
    """Someone registered an address that has an account: tell its owner, not the caller."""
    event = NewEvent(T.REGISTRATION_DUPLICATE, {"subject": existing_id})
    deps.retrying(
        lambda: deps.commit(
            [StreamAppend(claim_stream, deps.store.read_stream(claim_stream)[-1].version, (event,))], ctx
        )
    )
    user = load_user(deps, existing_id)
    if user is not None and user.active:
        notify(
            deps,
            user,
            subject="Someone tried to register with your address",
            text="Someone tried to create a Warden account with this address, which already has one. "
            "If it was you, log in or reset your password. Otherwise you can ignore this message.\n",
            kind="duplicate_registration",
        )
    return Registration(None)


def verify_email(deps: Deps, token: str, ctx: Context) -> None:
    user_id, secret = split_token(token)

    def decide() -> None:
        user = load_user(deps, user_id)
        expected = user.doc.get("verification_hash") if user else None
        expires = user.doc.get("verification_expires_at") if user else None
        if (
            user is None
            or not expected
            or not hmac.compare_digest(expected, token_hash(secret))
            or expires is None
            or utc(expires) <= deps.clock.now()
        ):
            raise InvalidToken()
        event = NewEvent(T.USER_EMAIL_VERIFIED, {"subject": user.id})
        deps.commit([StreamAppend(stream_id("user", user.id), user.version, (event,))], ctx)

    deps.retrying(decide)


# --- login ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    user: dict[str, Any]


def login(deps: Deps, email: str, password: str, ctx: Context, totp: str | None = None) -> IssuedTokens:
    user = find_by_email(deps, email)
    if user is None:
        # Unknown email: pay for one argon2 verification against a dummy hash so the
        # answer takes as long as for a known email, then fail exactly as a wrong password.
        deps.hasher.verify(None, password)
        failed = NewEvent(T.LOGIN_FAILED, {"reason": "unknown_email", "email_index": deps.email_index(email)})
        deps.commit([StreamAppend(stream_id("login", uuid.uuid4().hex), 0, (failed,))], ctx)
        logger.warning("login failed", extra={"fields": {"reason": "unknown_email"}})
        raise AuthenticationFailed()
    password_ok = deps.hasher.verify(_password_hash(deps, user), password)
    return deps.retrying(lambda: _decide_login(deps, user.id, password, password_ok, ctx, totp))


def _password_hash(deps: Deps, user: User) -> str | None:
    value = deps.vault.open(user.id, "password_hash", user.doc["password_hash"])
    return value if value and value.startswith("$argon2") else None


def _decide_login(
    deps: Deps, user_id: str, password: str, password_ok: bool, ctx: Context, totp: str | None = None
) -> IssuedTokens:
    user = load_user(deps, user_id)
    if user is None:
        raise AuthenticationFailed()
    now = deps.clock.now()
    stream = stream_id("user", user.id)
    reason = None
    if not user.active:
        reason = "disabled"
    elif user.lockout.locked(now):
        reason = "locked"
    elif not password_ok:
        reason = "wrong_password"
    if reason:
        _record_failure(deps, user, reason, now, ctx)
        # Locked, disabled and wrong password answer identically: no enumeration.
        raise AuthenticationFailed()
    if not user.doc["email_verified"]:
        failed = NewEvent(T.LOGIN_FAILED, {"subject": user.id, "reason": "email_unverified"})
        deps.commit([StreamAppend(stream, user.version, (failed,))], ctx)
        # Only reachable with the right password, so it reveals nothing to a guesser.
        raise EmailUnverified()
    session_id = uuid.uuid4().hex
    secret = new_opaque_token()
    amr = ["pwd"]
    succeeded: dict[str, Any] = {"subject": user.id, "session_id": session_id, "amr": amr}
    if user.doc.get("totp_enabled"):
        # Only after the password was right: the second factor is checked (and its step spent) here.
        succeeded["totp_step"] = totp_login_step(deps, user, totp, ctx)
        amr = succeeded["amr"] = ["pwd", "otp"]
    user_events = [NewEvent(T.LOGIN_SUCCEEDED, succeeded)]
    stored_hash = _password_hash(deps, user)
    if stored_hash and deps.hasher.needs_rehash(stored_hash):
        sealed = deps.vault.seal(user.id, "password_hash", deps.hasher.hash(password))
        user_events.append(NewEvent(T.USER_PASSWORD_REHASHED, {"subject": user.id, "password_hash": sealed}))
    started = NewEvent(T.SESSION_STARTED, {"subject": user.id, "refresh_hash": token_hash(secret), "amr": amr})
    # From here on the caller is this user: the success is theirs, not anonymous.
    as_user = dataclasses.replace(ctx, actor=user.id)
    deps.commit(
        [
            StreamAppend(stream, user.version, tuple(user_events)),
            StreamAppend(stream_id("session", session_id), 0, (started,)),
        ],
        as_user,
    )
    return _issue(deps, user, session_id, tuple(amr), compose_token(session_id, secret))


def _record_failure(deps: Deps, user: User, reason: str, now: Any, ctx: Context, purpose: str | None = None) -> None:
    data: dict[str, Any] = {"subject": user.id, "reason": reason}
    if purpose:
        data["purpose"] = purpose  # a password checked outside login (change, 2FA disable)
    events = [NewEvent(T.LOGIN_FAILED, data)]
    lock_until = None
    if reason == "wrong_password":
        count, lock_until = after_failure(user.lockout, now)
        data["failures_in_window"] = count
        if lock_until is not None:
            events.append(
                NewEvent(
                    T.ACCOUNT_LOCKED,
                    {"subject": user.id, "locked_until": lock_until, "lock_count": user.lockout.lock_count + 1},
                )
            )
    deps.commit([StreamAppend(stream_id("user", user.id), user.version, tuple(events))], ctx)
    logger.warning("login failed", extra={"fields": {"reason": reason, "user_id": user.id}})
    if lock_until is not None:
        logger.warning("account locked", extra={"fields": {"user_id": user.id}})
        notify(
            deps,
            user,
            subject="Your Warden account was locked",
            text="After several failed sign-in attempts your account is locked for a while. "
            "If this was not you, reset your password.\n",
            kind="account_locked",
        )


def _issue(deps: Deps, user: User, session_id: str, amr: tuple[str, ...], refresh_token: str) -> IssuedTokens:
    access, claims = deps.tokens.issue_access(
        user_id=user.id, session_id=session_id, roles=user.roles, amr=amr, now=deps.clock.now()
    )
    fresh = load_user(deps, user.id) or user
    return IssuedTokens(access, deps.tokens.ttl_seconds, refresh_token, user_view(deps, fresh))


# --- refresh and logout --------------------------------------------------------------


def refresh(deps: Deps, token: object, ctx: Context) -> IssuedTokens:
    try:
        session_id, secret = split_token(token)
    except InvalidToken as ex:
        raise RefreshRejected() from ex
    presented = token_hash(secret)
    return deps.retrying(lambda: _decide_refresh(deps, session_id, presented, ctx))


def _decide_refresh(deps: Deps, session_id: str, presented: str, ctx: Context) -> IssuedTokens:
    session = deps.db["sessions"].find_one({"_id": session_id})
    if session is None:
        raise RefreshRejected()
    stream = stream_id("session", session_id)
    now = deps.clock.now()
    current = hmac.compare_digest(session["refresh_hash"], presented)
    if session["status"] != "active":
        raise RefreshRejected()
    if not current:
        if presented in session.get("spent_hashes", []):
            # A spent token came back: it was stolen or replayed. End the whole family.
            reused = NewEvent(T.REFRESH_TOKEN_REUSED, {"subject": session["user_id"], "reason": "refresh_token_reused"})
            deps.commit([StreamAppend(stream, session["version"], (reused,))], ctx)
            logger.warning("refresh token reused", extra={"fields": {"user_id": session["user_id"]}})
        raise RefreshRejected()
    user = load_user(deps, session["user_id"])
    expired = now - utc(session["last_used_at"]) > SESSION_IDLE or now - utc(session["started_at"]) > SESSION_ABSOLUTE
    if user is None or not user.active or expired:
        ended = NewEvent(
            T.SESSION_ENDED, {"subject": session["user_id"], "reason": "expired" if expired else "disabled"}
        )
        deps.commit([StreamAppend(stream, session["version"], (ended,))], ctx)
        raise RefreshRejected()
    secret = new_opaque_token()
    rotated = NewEvent(
        T.TOKEN_REFRESHED, {"subject": user.id, "refresh_hash": token_hash(secret), "spent_hash": presented}
    )
    deps.commit([StreamAppend(stream, session["version"], (rotated,))], ctx)
    return _issue(deps, user, session_id, tuple(session.get("amr", ["pwd"])), compose_token(session_id, secret))


def logout(deps: Deps, principal: Principal, ctx: Context) -> None:
    def decide() -> None:
        session = deps.db["sessions"].find_one({"_id": principal.session_id})
        if session is None or session["status"] != "active":
            return
        ended = NewEvent(T.SESSION_ENDED, {"subject": principal.user_id, "reason": "logout"})
        deps.commit([StreamAppend(stream_id("session", principal.session_id), session["version"], (ended,))], ctx)

    deps.retrying(decide)


def logout_all(deps: Deps, principal: Principal, ctx: Context) -> None:
    def decide() -> None:
        user = load_user(deps, principal.user_id)
        if user is None:
            return
        revoked = NewEvent(T.ALL_SESSIONS_REVOKED, {"subject": user.id, "reason": "logout_all"})
        deps.commit([StreamAppend(stream_id("user", user.id), user.version, (revoked,))], ctx)

    deps.retrying(decide)


# --- authenticating a request --------------------------------------------------------


def authenticate(deps: Deps, access_token: str) -> Principal:
    """Verify the JWT, then check fresh state: the session is live and the user active.

    Checking the session and user on every request is what makes logout-all,
    disabling and password changes take effect on the next request, not at expiry.
    Roles come from the view, not the token, so a demotion is immediate too.
    """
    now = deps.clock.now()
    claims = deps.tokens.verify_access(access_token, now)
    session = deps.db["sessions"].find_one({"_id": claims.session_id}, {"status": 1, "user_id": 1, "started_at": 1})
    if (
        session is None
        or session["status"] != "active"
        or session["user_id"] != claims.user_id
        or now - utc(session["started_at"]) > SESSION_ABSOLUTE
    ):
        raise Unauthenticated("The session has ended.")
    user = load_user(deps, claims.user_id)
    if user is None or not user.active:
        raise Unauthenticated("The session has ended.")
    return Principal(user.id, claims.session_id, user.roles, claims.amr, bool(user.doc.get("totp_enabled")))
