"""TOTP two-factor authentication: setup, enable, disable, and the check login uses.

Security decisions, each commented where it happens:
- the shared secret is sealed with the user's data key; it is shown once, at setup;
- a code works once: the step it belongs to is remembered on the user's stream
  and no code of that step or an earlier one is accepted again;
- wrong codes are throttled with the lockout policy's counters (5 in 15 minutes
  lock TOTP attempts, doubling), and while throttled no code is even checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.clock import utc
from core.errors import InvalidTotp, InvalidTotpCode, NotFound, TotpRequired, TotpStateConflict, ValidationFailed
from core.totp import matching_step, new_secret, provisioning_uri
from events.lockout import LockoutState, after_failure
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services.deps import Deps
from services.principal import Principal
from services.users import User, load_user, notify

ISSUER = "Warden"


def totp_throttle(user: User) -> LockoutState:
    until = user.doc.get("totp_locked_until")
    return LockoutState(
        recent_failures=tuple(utc(t) for t in user.doc.get("totp_failures", [])),
        locked_until=utc(until) if until else None,
        lock_count=user.doc.get("totp_lock_count", 0),
    )


def check_code(
    deps: Deps,
    user: User,
    secret: str,
    code: object,
    ctx: Context,
    *,
    purpose: str,
    error: Callable[[], Exception],
    on_failure: tuple[NewEvent, ...] = (),
) -> int:
    """The step ``code`` belongs to; otherwise record the failure on the user's stream and raise ``error``."""
    now = deps.clock.now()
    throttle = totp_throttle(user)
    throttled = throttle.locked(now)
    # While throttled the code is not checked at all, so guessing learns nothing.
    step = None if throttled else matching_step(secret, code, now, user.doc.get("totp_last_step"))
    if step is not None:
        return step
    failure: dict[str, Any] = {"subject": user.id, "purpose": purpose, "throttled": throttled}
    events = [*on_failure, NewEvent(T.TOTP_FAILED, failure)]
    lock_until = None
    if not throttled:
        failure["failures_in_window"], lock_until = after_failure(throttle, now)
        if lock_until is not None:
            locked = {"subject": user.id, "locked_until": lock_until, "lock_count": throttle.lock_count + 1}
            events.append(NewEvent(T.TOTP_LOCKED, locked))
    deps.commit([StreamAppend(stream_id("user", user.id), user.version, tuple(events))], ctx)
    if lock_until is not None:
        _mail_owner(deps, user)
    raise error()


def _mail_owner(deps: Deps, user: User) -> None:
    """Five wrong codes mean someone may hold the password: tell the owner once per lock."""
    notify(
        deps,
        user,
        subject="Several wrong two-factor codes on your Warden account",
        text="Someone entered several wrong two-factor codes for your account, so code entry is paused "
        "for a while. If this was not you, change your password now.\n",
        kind="totp_locked",
    )


def login_step(deps: Deps, user: User, code: str | None, ctx: Context) -> int:
    """For an enrolled user whose password was right: the step of a valid, unused code."""
    stream = stream_id("user", user.id)
    if not code:
        missing = NewEvent(T.LOGIN_FAILED, {"subject": user.id, "reason": "totp_required"})
        deps.commit([StreamAppend(stream, user.version, (missing,))], ctx)
        raise TotpRequired()
    secret = deps.vault.open(user.id, "totp_secret", user.doc.get("totp_secret"))
    if not secret:
        raise InvalidTotp()  # the data key is gone (erased): nothing can authenticate
    failed = NewEvent(T.LOGIN_FAILED, {"subject": user.id, "reason": "invalid_totp"})
    return check_code(deps, user, secret, code, ctx, purpose="login", error=InvalidTotp, on_failure=(failed,))


def _user(deps: Deps, principal: Principal) -> User:
    user = load_user(deps, principal.user_id)
    if user is None:
        raise NotFound()
    return user


def setup(deps: Deps, principal: Principal, ctx: Context) -> dict[str, str]:
    """A new pending secret; it replaces any earlier pending one and takes effect only on enable."""

    def decide() -> str:
        user = _user(deps, principal)
        if user.doc.get("totp_enabled"):
            raise TotpStateConflict(
                "Two-factor authentication is already on; disable it first.", "totp_already_enabled"
            )
        secret = new_secret()
        sealed = deps.vault.seal(user.id, "totp_pending_secret", secret)
        started = NewEvent(T.TOTP_SETUP_STARTED, {"subject": user.id, "totp_pending_secret": sealed})
        deps.commit([StreamAppend(stream_id("user", user.id), user.version, (started,))], ctx)
        return secret

    secret = deps.retrying(decide)
    user = _user(deps, principal)
    account = deps.vault.open(user.id, "email", user.doc["email"]) or user.id
    # The secret is shown this once, so the user can add it to an authenticator app.
    return {"secret": secret, "otpauth_uri": provisioning_uri(secret, account, ISSUER)}


def enable(deps: Deps, principal: Principal, code: str, ctx: Context) -> None:
    def decide() -> None:
        user = _user(deps, principal)
        if user.doc.get("totp_enabled"):
            raise TotpStateConflict("Two-factor authentication is already on.", "totp_already_enabled")
        pending = deps.vault.open(user.id, "totp_pending_secret", user.doc.get("totp_pending_secret"))
        if not pending:
            raise TotpStateConflict("Call /api/auth/2fa/setup first.", "totp_not_set_up")
        # Enabling proves the app holds the secret; the step used is spent like any other.
        step = check_code(deps, user, pending, code, ctx, purpose="enable", error=_code_error)
        enabled = NewEvent(
            T.TOTP_ENABLED,
            {"subject": user.id, "totp_secret": deps.vault.seal(user.id, "totp_secret", pending), "totp_step": step},
        )
        deps.commit([StreamAppend(stream_id("user", user.id), user.version, (enabled,))], ctx)

    deps.retrying(decide)


def disable(deps: Deps, principal: Principal, password: str, code: str, ctx: Context) -> None:
    """Needs the password and a current code: a stolen access token alone cannot turn 2FA off."""
    from services.passwords import require_password

    require_password(deps, principal.user_id, password, ctx, purpose="totp_disable", field="password")

    def decide() -> None:
        user = _user(deps, principal)
        secret = deps.vault.open(user.id, "totp_secret", user.doc.get("totp_secret"))
        if not user.doc.get("totp_enabled") or not secret:
            raise TotpStateConflict("Two-factor authentication is not on.", "totp_not_enabled")
        step = check_code(deps, user, secret, code, ctx, purpose="disable", error=_code_error)
        disabled = NewEvent(T.TOTP_DISABLED, {"subject": user.id, "totp_step": step})
        deps.commit([StreamAppend(stream_id("user", user.id), user.version, (disabled,))], ctx)

    deps.retrying(decide)


def _code_error() -> ValidationFailed:
    return InvalidTotpCode(errors=[{"field": "code", "code": "invalid_totp"}])
