"""Password change and password reset through HTTP (falcon TestClient over mongomock)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from falcon import testing

from core.clock import FixedClock
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services import users
from tests.conftest import Api

PASSWORD = "correct horse battery staple"
NEW = "a brand new passphrase for warden"
WRONG = "incorrect horse battery staple"
EMAIL = "pat@example.com"


def assert_problem(result: testing.Result, status: int, code: str) -> None:
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/problem+json")
    assert result.json["code"] == code, result.text


def login(api: Api, password: str = PASSWORD, email: str = EMAIL, **extra: Any) -> testing.Result:
    return api.call("POST", "/api/auth/login", {"email": email, "password": password, **extra})


def change(api: Api, token: str, current: str = PASSWORD, new: str = NEW) -> testing.Result:
    return api.call(
        "POST", "/api/auth/password/change", {"current_password": current, "new_password": new}, token=token
    )


def request_reset(api: Api, email: str = EMAIL, **kw: Any) -> testing.Result:
    return api.call("POST", "/api/auth/password-reset/request", {"email": email}, **kw)


def confirm(api: Api, token: str, new: str = NEW) -> testing.Result:
    return api.call("POST", "/api/auth/password-reset/confirm", {"token": token, "new_password": new})


def me(api: Api, token: str) -> int:
    return api.call("GET", "/api/users/me", token=token).status_code


def events_of(api: Api, *types: str) -> list[Any]:
    return [e for e in api.deps.store.read_all() if e.type in types]


def reset_link(api: Api, email: str = EMAIL) -> str:
    links = [
        word
        for m in api.deps.mailer.list(to=email)
        if m["kind"] == "password_reset"
        for word in m["text"].split()
        if "reset-password?token=" in word
    ]
    assert links, "no reset mail"
    return links[0]  # newest first


def reset_token(api: Api, email: str = EMAIL) -> str:
    return parse_qs(urlparse(reset_link(api, email)).query)["token"][0]


def lock(api: Api, email: str = EMAIL) -> None:
    for _ in range(5):
        login(api, WRONG, email)
    assert_problem(login(api, PASSWORD, email), 401, "invalid_credentials")


# --- change ---------------------------------------------------------------------------


def test_change_password_ends_other_sessions_but_not_this_one(api: Api) -> None:
    api.register(EMAIL)
    this = api.login(EMAIL)["access_token"]
    other = api.login(EMAIL)
    assert change(api, this).status_code == 204
    assert me(api, this) == 200
    assert me(api, other["access_token"]) == 401
    assert api.call("POST", "/api/auth/refresh", {"refresh_token": other["refresh_token"]}).status_code == 401
    assert_problem(login(api, PASSWORD), 401, "invalid_credentials")
    assert login(api, NEW).status_code == 200
    changed = events_of(api, T.USER_PASSWORD_CHANGED)
    assert len(changed) == 1 and NEW not in repr(changed[0].data)


def test_change_with_wrong_current_password_is_422_and_counts_towards_lockout(api: Api) -> None:
    api.register(EMAIL)
    token = api.login(EMAIL)["access_token"]
    for _ in range(5):
        assert_problem(change(api, token, current=WRONG), 422, "invalid_current_password")
    assert len(events_of(api, T.ACCOUNT_LOCKED)) == 1
    assert {e.data.get("purpose") for e in events_of(api, T.LOGIN_FAILED)} == {"password_change"}
    # Locked now: even the right current password is refused.
    assert_problem(change(api, token), 422, "invalid_current_password")
    assert_problem(login(api, PASSWORD), 401, "invalid_credentials")


@pytest.mark.parametrize(
    "body,code",
    [
        ({"current_password": PASSWORD, "new_password": "short"}, "weak_password"),
        ({"current_password": PASSWORD, "new_password": "password1234"}, "weak_password"),
        ({"current_password": PASSWORD, "new_password": "xx-pat-and-more-xx"}, "weak_password"),
        ({"current_password": PASSWORD}, "validation_failed"),
        ({"current_password": PASSWORD, "new_password": NEW, "roles": ["admin"]}, "unknown_field"),
        ({"current_password": 1, "new_password": NEW}, "validation_failed"),
    ],
)
def test_change_bad_input_changes_nothing(api: Api, body: dict[str, Any], code: str) -> None:
    api.register(EMAIL)
    token = api.login(EMAIL)["access_token"]
    before = api.db_snapshot()
    result = api.call("POST", "/api/auth/password/change", body, token=token)
    assert result.status_code == 422, result.text
    if code != "validation_failed":
        assert result.json["code"] == code
    assert api.db_snapshot() == before


def test_change_needs_authentication(api: Api) -> None:
    assert_problem(
        api.call("POST", "/api/auth/password/change", {"current_password": PASSWORD, "new_password": NEW}),
        401,
        "unauthenticated",
    )


# --- reset: request -------------------------------------------------------------------


def test_reset_request_answers_identically_for_known_and_unknown(api: Api) -> None:
    api.register(EMAIL)
    known = request_reset(api, EMAIL)
    unknown = request_reset(api, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert sorted(known.headers) == sorted(unknown.headers)
    assert known.headers["content-type"] == unknown.headers["content-type"]
    assert [m["kind"] for m in api.deps.mailer.list(to="nobody@example.com")] == []
    outcomes = sorted(e.data["outcome"] for e in events_of(api, T.PASSWORD_RESET_REQUESTED))
    assert outcomes == ["sent", "unknown_email"]


def test_reset_link_uses_public_base_url_not_the_host_header(api: Api) -> None:
    api.register(EMAIL)
    assert request_reset(api, headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"}).status_code == 202
    link = reset_link(api)
    assert link.startswith("https://warden.test/reset-password?token=")
    assert "evil" not in link


def test_reset_token_is_stored_only_as_a_hash(api: Api) -> None:
    api.register(EMAIL)
    request_reset(api)
    secret = reset_token(api).split(".")[1]
    assert all(secret not in repr(e.data) for e in api.deps.store.read_all())
    assert secret not in repr(list(api.deps.db["users"].find({})))


def test_reset_request_for_a_normalized_variant_reaches_the_owner(api: Api) -> None:
    api.register(EMAIL)
    assert request_reset(api, "  PAT@Example.COM ").status_code == 202
    assert reset_link(api)


@pytest.mark.parametrize("body", [{"email": "not-an-email"}, {"email": 5}, {}, {"email": EMAIL, "x": 1}])
def test_reset_request_bad_input_changes_nothing(api: Api, body: dict[str, Any]) -> None:
    before = api.db_snapshot()
    result = api.call("POST", "/api/auth/password-reset/request", body)
    assert result.status_code == 422, result.text
    assert api.db_snapshot() == before


def test_reset_request_limited_to_3_an_hour_per_normalized_email() -> None:
    from tests.security.edge import edge_api, future_clock

    clock = future_clock()  # counters carry a TTL that mongomock compares with real time
    api = edge_api(clock)  # SPEC §6 limits on
    variants = ["x@example.com", "X@EXAMPLE.com", " x@example.com"]
    assert [request_reset(api, v).status_code for v in variants] == [202, 202, 202]
    limited = request_reset(api, "x@Example.com")
    assert_problem(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) > 0
    assert request_reset(api, "other@example.com").status_code == 202
    clock.advance(hours=1)
    assert request_reset(api, "x@example.com").status_code == 202


# --- reset: confirm -------------------------------------------------------------------


def test_reset_sets_the_password_and_ends_every_session(api: Api) -> None:
    api.register(EMAIL)
    session = api.login(EMAIL)
    request_reset(api)
    assert confirm(api, reset_token(api)).status_code == 204
    assert me(api, session["access_token"]) == 401
    assert api.call("POST", "/api/auth/refresh", {"refresh_token": session["refresh_token"]}).status_code == 401
    assert_problem(login(api, PASSWORD), 401, "invalid_credentials")
    assert login(api, NEW).status_code == 200
    assert len(events_of(api, T.PASSWORD_RESET_COMPLETED)) == 1


def test_reset_token_is_single_use(api: Api) -> None:
    api.register(EMAIL)
    request_reset(api)
    token = reset_token(api)
    assert confirm(api, token).status_code == 204
    before = api.db_snapshot()
    assert_problem(confirm(api, token, "yet another passphrase here"), 400, "invalid_token")
    assert api.db_snapshot() == before


def test_reset_token_expires_after_30_minutes(api: Api, clock: FixedClock) -> None:
    api.register(EMAIL)
    request_reset(api)
    token = reset_token(api)
    clock.advance(minutes=30)
    assert_problem(confirm(api, token), 400, "invalid_token")


def test_reset_token_valid_just_before_30_minutes(api: Api, clock: FixedClock) -> None:
    api.register(EMAIL)
    request_reset(api)
    clock.advance(minutes=29, seconds=59)
    assert confirm(api, reset_token(api)).status_code == 204


def test_a_newer_reset_request_replaces_the_older_token(api: Api, clock: FixedClock) -> None:
    api.register(EMAIL)
    request_reset(api)
    old = reset_token(api)
    clock.advance(minutes=1)  # the outbox lists newest first
    request_reset(api)
    new = reset_token(api)
    assert old != new
    assert_problem(confirm(api, old), 400, "invalid_token")
    assert confirm(api, new).status_code == 204


@pytest.mark.parametrize("token", ["", "nodot", "a.b", "x" * 300, "a.b.c"])
def test_reset_confirm_bad_tokens_change_nothing(api: Api, token: str) -> None:
    api.register(EMAIL)
    request_reset(api)
    before = api.db_snapshot()
    result = confirm(api, token)
    assert result.status_code in (400, 422), result.text
    assert api.db_snapshot() == before


def test_reset_token_of_one_user_does_not_open_another(api: Api) -> None:
    api.register(EMAIL)
    api.register("other@example.com")
    request_reset(api)
    other_id = users.find_by_email(api.deps, "other@example.com").id  # type: ignore[union-attr]
    forged = f"{other_id}.{reset_token(api).split('.')[1]}"
    assert_problem(confirm(api, forged), 400, "invalid_token")


def test_reset_with_a_weak_password_is_422_and_keeps_the_token(api: Api) -> None:
    api.register(EMAIL)
    request_reset(api)
    token = reset_token(api)
    before = api.db_snapshot()
    assert_problem(confirm(api, token, "password1234"), 422, "weak_password")
    assert api.db_snapshot() == before
    assert confirm(api, token).status_code == 204


def test_reset_clears_the_lockout(api: Api) -> None:
    api.register(EMAIL)
    lock(api)
    request_reset(api)
    assert confirm(api, reset_token(api)).status_code == 204
    assert login(api, NEW).status_code == 200


def test_disabled_account_gets_no_reset_mail_and_no_token_works(api: Api) -> None:
    api.register(EMAIL)
    request_reset(api)
    token = reset_token(api)
    user = users.find_by_email(api.deps, EMAIL)
    assert user is not None
    disabled = NewEvent(T.USER_DISABLED, {"subject": user.id, "reason": "test"})
    api.deps.commit([StreamAppend(stream_id("user", user.id), user.version, (disabled,))], Context())
    assert_problem(confirm(api, token), 400, "invalid_token")
    count = len(api.deps.mailer.list(to=EMAIL))
    assert request_reset(api).status_code == 202
    assert len(api.deps.mailer.list(to=EMAIL)) == count


def test_reset_never_gets_past_totp(api: Api) -> None:
    api.user(EMAIL, ["admin"])
    request_reset(api)
    assert confirm(api, reset_token(api)).status_code == 204
    assert_problem(login(api, NEW), 401, "totp_required")
    assert login(api, NEW, totp=api.totp_code(EMAIL)).status_code == 200


def test_every_reset_step_is_an_event_with_the_request_context(api: Api) -> None:
    api.register(EMAIL)
    request_reset(api, headers={"X-Request-ID": "reset-req-1"})
    confirm(api, reset_token(api))
    requested = events_of(api, T.PASSWORD_RESET_REQUESTED)[-1]
    assert requested.request_id == "reset-req-1"
    assert {e.type for e in api.deps.store.read_all()} >= {
        T.PASSWORD_RESET_REQUESTED.value,
        T.PASSWORD_RESET_COMPLETED.value,
        T.ALL_SESSIONS_REVOKED.value,
    }
