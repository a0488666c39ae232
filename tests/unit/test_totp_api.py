"""TOTP 2FA through HTTP: setup, enable, disable, login with a code, replay, throttling,
and the gate on /api/admin and /api/audit for admins and auditors."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from falcon import testing

from core.clock import FixedClock
from core.totp import STEP_SECONDS, code_at, step_of
from events.model import Context
from events.types import EventType as T
from services import users
from tests.conftest import Api

PASSWORD = "correct horse battery staple"
EMAIL = "two@example.com"


def assert_problem(result: testing.Result, status: int, code: str) -> None:
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/problem+json")
    assert result.json["code"] == code, result.text


def login(api: Api, email: str = EMAIL, totp: str | None = None, password: str = PASSWORD) -> testing.Result:
    body: dict[str, Any] = {"email": email, "password": password}
    if totp is not None:
        body["totp"] = totp
    return api.call("POST", "/api/auth/login", body)


def signed_in(api: Api, email: str = EMAIL) -> str:
    api.register(email)
    return str(api.login(email)["access_token"])


def setup(api: Api, token: str) -> str:
    result = api.call("POST", "/api/auth/2fa/setup", token=token)
    assert result.status_code == 200, result.text
    return str(result.json["secret"])


def now_code(api: Api, secret: str, offset: int = 0) -> str:
    return code_at(secret, step_of(api.deps.clock.now()) + offset)


def enrolled(api: Api, email: str = EMAIL) -> tuple[str, str]:
    """A user with 2FA on; returns (pwd-only token from before enrolment, secret)."""
    token = signed_in(api, email)
    secret = setup(api, token)
    assert api.call("POST", "/api/auth/2fa/enable", {"code": now_code(api, secret)}, token=token).status_code == 204
    return token, secret


def events_of(api: Api, *types: str) -> list[Any]:
    return [e for e in api.deps.store.read_all() if e.type in types]


def user_doc(api: Api, email: str = EMAIL) -> dict[str, Any]:
    user = users.find_by_email(api.deps, email)
    assert user is not None
    return user.doc


# --- setup and enable --------------------------------------------------------------------


def test_setup_returns_a_secret_and_an_otpauth_uri(api: Api) -> None:
    token = signed_in(api)
    result = api.call("POST", "/api/auth/2fa/setup", token=token)
    assert result.status_code == 200
    assert set(result.json) == {"secret", "otpauth_uri"}
    uri = urlparse(result.json["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["secret"] == [result.json["secret"]]
    assert EMAIL in uri.path
    # Setting up does not turn 2FA on.
    assert api.call("GET", "/api/users/me", token=token).json["totp_enabled"] is False
    assert login(api).status_code == 200


def test_secret_is_sealed_in_the_log_and_the_view(api: Api) -> None:
    token, secret = enrolled(api)
    stored = [repr(e.data) for e in events_of(api, T.TOTP_SETUP_STARTED, T.TOTP_ENABLED)]
    assert len(stored) == 2
    assert all(secret not in text for text in stored)
    doc = user_doc(api)
    assert secret not in repr(doc)
    assert doc["totp_secret"].startswith("enc1:")


def test_enable_turns_2fa_on_and_is_an_event(api: Api) -> None:
    token, _ = enrolled(api)
    assert api.call("GET", "/api/users/me", token=token).json["totp_enabled"] is True
    enabled = events_of(api, T.TOTP_ENABLED)
    assert len(enabled) == 1 and enabled[0].actor == user_doc(api)["_id"]


def test_enable_with_a_wrong_code_is_refused_and_recorded(api: Api) -> None:
    token = signed_in(api)
    secret = setup(api, token)
    wrong = f"{(int(now_code(api, secret)) + 1) % 1_000_000:06d}"
    assert_problem(api.call("POST", "/api/auth/2fa/enable", {"code": wrong}, token=token), 422, "invalid_totp")
    assert api.call("GET", "/api/users/me", token=token).json["totp_enabled"] is False
    assert [e.data["purpose"] for e in events_of(api, T.TOTP_FAILED)] == ["enable"]


def test_enable_without_setup_is_409(api: Api) -> None:
    token = signed_in(api)
    assert_problem(api.call("POST", "/api/auth/2fa/enable", {"code": "123456"}, token=token), 409, "totp_not_set_up")


def test_setup_again_once_enabled_is_409(api: Api) -> None:
    token, _ = enrolled(api)
    before = api.db_snapshot()
    assert_problem(api.call("POST", "/api/auth/2fa/setup", token=token), 409, "totp_already_enabled")
    assert api.db_snapshot() == before


@pytest.mark.parametrize("body", [{}, {"code": 123456}, {"code": "1" * 11}, {"code": "1", "x": 1}])
def test_enable_bad_bodies_change_nothing(api: Api, body: dict[str, Any]) -> None:
    token = signed_in(api)
    setup(api, token)
    before = api.db_snapshot()
    result = api.call("POST", "/api/auth/2fa/enable", body, token=token)
    assert result.status_code == 422, result.text
    assert api.db_snapshot() == before


def test_2fa_endpoints_need_a_token(api: Api) -> None:
    for path in ("/api/auth/2fa/setup", "/api/auth/2fa/enable", "/api/auth/2fa/disable"):
        assert_problem(api.call("POST", path, {"code": "123456"}), 401, "unauthenticated")


# --- login ----------------------------------------------------------------------------


def test_login_without_code_is_401_totp_required_and_recorded(api: Api) -> None:
    enrolled(api)
    assert_problem(login(api), 401, "totp_required")
    assert events_of(api, T.LOGIN_FAILED)[-1].data["reason"] == "totp_required"


def test_login_with_code_issues_amr_pwd_otp(api: Api) -> None:
    _, secret = enrolled(api)
    result = login(api, totp=now_code(api, secret, 1))
    assert result.status_code == 200, result.text
    claims = api.deps.tokens.verify_access(result.json["access_token"], api.deps.clock.now())
    assert claims.amr == ("pwd", "otp")
    assert events_of(api, T.LOGIN_SUCCEEDED)[-1].data["amr"] == ["pwd", "otp"]


def test_refresh_keeps_the_otp_amr(api: Api) -> None:
    _, secret = enrolled(api)
    first = login(api, totp=now_code(api, secret, 1)).json
    again = api.call("POST", "/api/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert again.status_code == 200
    assert api.deps.tokens.verify_access(again.json["access_token"], api.deps.clock.now()).amr == ("pwd", "otp")


def test_wrong_password_with_a_right_code_is_invalid_credentials(api: Api) -> None:
    _, secret = enrolled(api)
    assert_problem(
        login(api, password="incorrect horse battery", totp=now_code(api, secret, 1)), 401, "invalid_credentials"
    )
    # The code was not spent: the password check came first.
    assert login(api, totp=now_code(api, secret, 1)).status_code == 200


def test_a_code_works_once(api: Api) -> None:
    _, secret = enrolled(api)
    code = now_code(api, secret, 1)
    assert login(api, totp=code).status_code == 200
    assert_problem(login(api, totp=code), 401, "invalid_totp")


def test_the_code_used_to_enable_cannot_log_in(api: Api) -> None:
    token = signed_in(api)
    secret = setup(api, token)
    code = now_code(api, secret)
    assert api.call("POST", "/api/auth/2fa/enable", {"code": code}, token=token).status_code == 204
    assert_problem(login(api, totp=code), 401, "invalid_totp")


def test_an_older_step_is_refused_after_a_newer_one_was_used(api: Api) -> None:
    _, secret = enrolled(api)
    assert login(api, totp=now_code(api, secret, 1)).status_code == 200
    # Step 0 is inside the drift window but before the last one used.
    assert_problem(login(api, totp=now_code(api, secret, 0)), 401, "invalid_totp")


def test_codes_outside_the_drift_window_fail(api: Api, clock: FixedClock) -> None:
    _, secret = enrolled(api)
    assert_problem(login(api, totp=now_code(api, secret, 2)), 401, "invalid_totp")
    clock.advance(seconds=STEP_SECONDS * 3)
    assert_problem(login(api, totp=now_code(api, secret, -2)), 401, "invalid_totp")
    assert login(api, totp=now_code(api, secret, -1)).status_code == 200


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "１２３４５６"])
def test_malformed_codes_are_invalid(api: Api, code: str) -> None:
    enrolled(api)
    result = login(api, totp=code)
    assert result.status_code == 401
    assert result.json["code"] in ("invalid_totp", "totp_required")


def test_concurrent_logins_with_one_code_the_replay_loses(api: Api) -> None:
    """The second decision reads the view after the first committed: its step is spent."""
    _, secret = enrolled(api)
    code = now_code(api, secret, 1)
    results = [login(api, totp=code) for _ in range(3)]
    assert [r.status_code for r in results] == [200, 401, 401]


def test_five_wrong_codes_pause_code_entry_and_mail_the_owner(api: Api, clock: FixedClock) -> None:
    _, secret = enrolled(api)
    good = now_code(api, secret, 1)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert_problem(login(api, totp=wrong), 401, "invalid_totp")
    assert len(events_of(api, T.TOTP_LOCKED)) == 1
    # Throttled: even the right code is not checked, and the attempt is still recorded.
    assert_problem(login(api, totp=good), 401, "invalid_totp")
    assert events_of(api, T.TOTP_FAILED)[-1].data["throttled"] is True
    assert [m["kind"] for m in api.deps.mailer.list(to=EMAIL)].count("totp_locked") == 1
    # The account lockout is untouched: these were right passwords.
    assert user_doc(api)["locked_until"] is None
    clock.advance(minutes=15, seconds=1)
    assert login(api, totp=now_code(api, secret, 1)).status_code == 200


# --- disable --------------------------------------------------------------------------


def test_disable_needs_password_and_code(api: Api) -> None:
    _, secret = enrolled(api)
    token = login(api, totp=now_code(api, secret, 1)).json["access_token"]
    wrong_pw = {"password": "incorrect horse battery", "code": now_code(api, secret, 1)}
    assert_problem(api.call("POST", "/api/auth/2fa/disable", wrong_pw, token=token), 422, "invalid_current_password")
    # The code of the login is spent; wrong code refused.
    spent = {"password": PASSWORD, "code": now_code(api, secret, 1)}
    assert_problem(api.call("POST", "/api/auth/2fa/disable", spent, token=token), 422, "invalid_totp")
    assert api.call("GET", "/api/users/me", token=token).json["totp_enabled"] is True
    api.deps.clock.advance(seconds=STEP_SECONDS)  # type: ignore[attr-defined]
    good = {"password": PASSWORD, "code": now_code(api, secret, 1)}
    assert api.call("POST", "/api/auth/2fa/disable", good, token=token).status_code == 204
    assert api.call("GET", "/api/users/me", token=token).json["totp_enabled"] is False
    assert login(api).status_code == 200
    assert len(events_of(api, T.TOTP_DISABLED)) == 1


def test_disable_wrong_password_counts_towards_lockout(api: Api) -> None:
    _, secret = enrolled(api)
    token = login(api, totp=now_code(api, secret, 1)).json["access_token"]
    body = {"password": "incorrect horse battery", "code": "000000"}
    for _ in range(5):
        api.call("POST", "/api/auth/2fa/disable", body, token=token)
    assert len(events_of(api, T.ACCOUNT_LOCKED)) == 1
    assert events_of(api, T.LOGIN_FAILED)[-1].data["purpose"] == "totp_disable"


# --- the gate on /api/admin and /api/audit ----------------------------------------------


def _privileged(api: Api, email: str, role: str) -> str:
    token = signed_in(api, email)
    user = users.find_by_email(api.deps, email)
    assert user is not None
    users.set_roles(api.deps, user.id, [role], Context())
    return token


@pytest.mark.parametrize(
    "role,path", [("admin", "/api/admin/users"), ("auditor", "/api/audit/events"), ("admin", "/api/audit/verify")]
)
def test_privileged_roles_without_2fa_get_totp_enrollment_required(api: Api, role: str, path: str) -> None:
    token = _privileged(api, f"{role}@example.com", role)
    assert_problem(api.call("GET", path, token=token), 403, "totp_enrollment_required")


@pytest.mark.parametrize("role,path", [("admin", "/api/admin/users"), ("auditor", "/api/audit/events")])
def test_enrolled_but_token_without_otp_is_refused(api: Api, role: str, path: str) -> None:
    email = f"{role}@example.com"
    token = _privileged(api, email, role)
    secret = setup(api, token)
    assert api.call("POST", "/api/auth/2fa/enable", {"code": now_code(api, secret)}, token=token).status_code == 204
    # The token from before enrolment has amr ["pwd"] only.
    assert_problem(api.call("GET", path, token=token), 403, "totp_enrollment_required")
    with_code = login(api, email, totp=now_code(api, secret, 1)).json["access_token"]
    assert api.call("GET", path, token=with_code).status_code == 200


def test_turning_2fa_off_closes_the_gate_for_an_otp_token(api: Api) -> None:
    token = api.user("root@example.com", ["admin"])
    assert api.call("GET", "/api/audit/verify", token=token).status_code == 200
    secret = api.totp_secrets["root@example.com"]
    body = {"password": PASSWORD, "code": api.totp_code("root@example.com")}
    assert api.call("POST", "/api/auth/2fa/disable", body, token=token).status_code == 204
    assert secret
    assert_problem(api.call("GET", "/api/audit/verify", token=token), 403, "totp_enrollment_required")


def test_other_roles_are_forbidden_not_asked_for_2fa(api: Api) -> None:
    token = signed_in(api, "plain@example.com")
    assert_problem(api.call("GET", "/api/audit/events", token=token), 403, "forbidden")


def test_other_routes_do_not_ask_admins_for_2fa(api: Api) -> None:
    token = _privileged(api, "admin@example.com", "admin")
    assert api.call("GET", "/api/users/me", token=token).status_code == 200


def test_every_2fa_change_is_an_event(api: Api) -> None:
    api.user("root@example.com", ["admin"])
    kinds = {e.type for e in api.deps.store.read_all()}
    assert {T.TOTP_SETUP_STARTED.value, T.TOTP_ENABLED.value} <= kinds


def test_admin_unlock_clears_the_totp_pause(api: Api) -> None:
    admin = api.user("root@example.com", ["admin"])
    _, secret = enrolled(api)
    wrong = f"{(int(now_code(api, secret, 1)) + 1) % 1_000_000:06d}"
    for _ in range(5):
        login(api, totp=wrong)
    assert_problem(login(api, totp=now_code(api, secret, 1)), 401, "invalid_totp")
    user_id = user_doc(api)["_id"]
    assert api.call("POST", f"/api/admin/users/{user_id}/unlock", token=admin).status_code == 204
    assert login(api, totp=now_code(api, secret, 1)).status_code == 200
