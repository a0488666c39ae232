"""Behaviour of /api/auth and /api/users/me through HTTP (falcon TestClient over mongomock)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import mongomock
import pytest
from falcon import testing

from core.clock import FixedClock
from events.memory import InMemoryEventStore
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services import users
from services.deps import Deps
from tests.conftest import Api, make_settings

PASSWORD = "correct horse battery staple"
WRONG = "incorrect horse battery staple"
LOGIN_TYPES = (T.LOGIN_FAILED.value, T.LOGIN_SUCCEEDED.value)


# --- helpers ---------------------------------------------------------------------------


@pytest.fixture
def open_api(clock: FixedClock) -> Api:
    """An API whose settings turn REQUIRE_EMAIL_VERIFICATION off."""
    settings = make_settings(require_email_verification=False)
    db = mongomock.MongoClient(tz_aware=True)["warden_test_open"]
    built = Deps.build(settings, db, InMemoryEventStore(clock), clock)
    built.ensure_schema()
    return Api(built)


def register(api: Api, email: str, password: str = PASSWORD, name: str = "Test User") -> testing.Result:
    return api.call("POST", "/api/auth/register", {"email": email, "password": password, "full_name": name})


def login(api: Api, email: str, password: str = PASSWORD, **kw: Any) -> testing.Result:
    return api.call("POST", "/api/auth/login", {"email": email, "password": password}, **kw)


def refresh(api: Api, token: str) -> testing.Result:
    return api.call("POST", "/api/auth/refresh", {"refresh_token": token})


def me(api: Api, token: str) -> testing.Result:
    return api.call("GET", "/api/users/me", token=token)


def assert_problem(result: testing.Result, status: int, code: str) -> None:
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/problem+json")
    assert result.json["status"] == status
    assert result.json["code"] == code, result.text


def user_count(api: Api) -> int:
    return api.deps.db["users"].count_documents({})


def mail_kinds(api: Api, email: str) -> Counter[str]:
    return Counter(m["kind"] for m in api.deps.mailer.list(to=email))


def user_id_of(api: Api, email: str) -> str:
    user = users.find_by_email(api.deps, email)
    assert user is not None
    return user.id


def disable(api: Api, email: str) -> None:
    """No admin API exists yet: record the user.disabled event the way a use case would."""
    user = users.find_by_email(api.deps, email)
    assert user is not None
    event = NewEvent(T.USER_DISABLED, {"subject": user.id, "reason": "test"})
    api.deps.commit([StreamAppend(stream_id("user", user.id), user.version, (event,))], Context())


def fail_login(api: Api, email: str, times: int) -> None:
    for _ in range(times):
        assert_problem(login(api, email, WRONG), 401, "invalid_credentials")


def login_events(api: Api) -> list[Any]:
    return [e for e in api.deps.store.read_all() if e.type in LOGIN_TYPES]


# --- registration ----------------------------------------------------------------------


def test_register_new_email_answers_202_verification_sent(api: Api) -> None:
    result = register(api, "new@example.com")
    assert result.status_code == 202
    assert result.json == {"status": "verification_sent"}
    assert user_count(api) == 1
    assert mail_kinds(api, "new@example.com") == Counter({"verify_email": 1})


@pytest.mark.parametrize("again", ["alice@example.com", "ALICE@Example.COM"])
def test_register_existing_email_answers_exactly_like_a_new_one(api: Api, again: str) -> None:
    first = register(api, "alice@example.com")
    existing = register(api, again, password="another long passphrase here", name="Mallory")
    fresh = register(api, "bob@example.com")
    for result in (first, existing, fresh):
        assert result.status_code == 202
        assert result.content == first.content
        assert result.headers["content-type"] == first.headers["content-type"]
    assert sorted(existing.headers) == sorted(fresh.headers)


def test_register_existing_email_creates_no_user_and_mails_the_owner(api: Api) -> None:
    register(api, "alice@example.com", name="Alice")
    owner_id = user_id_of(api, "alice@example.com")
    register(api, "alice@example.com", password="another long passphrase here", name="Mallory")
    assert user_count(api) == 1
    assert user_id_of(api, "alice@example.com") == owner_id
    assert mail_kinds(api, "alice@example.com") == Counter({"verify_email": 1, "duplicate_registration": 1})
    # The original password still works once verified; the second one never does.
    token = api.outbox_token("alice@example.com")
    assert api.call("POST", "/api/auth/verify-email", {"token": token}).status_code == 204
    assert login(api, "alice@example.com").status_code == 200
    assert_problem(login(api, "alice@example.com", "another long passphrase here"), 401, "invalid_credentials")


def test_register_without_verification_new_gets_201_user_id(open_api: Api) -> None:
    result = register(open_api, "open@example.com")
    assert result.status_code == 201
    assert set(result.json) == {"user_id"}
    assert result.json["user_id"] == user_id_of(open_api, "open@example.com")
    assert login(open_api, "open@example.com").status_code == 200
    assert "verify_email" not in mail_kinds(open_api, "open@example.com")


def test_register_without_verification_existing_gets_202(open_api: Api) -> None:
    assert register(open_api, "open@example.com").status_code == 201
    again = register(open_api, "open@example.com", password="another long passphrase here")
    assert again.status_code == 202
    assert again.json == {"status": "verification_sent"}
    assert user_count(open_api) == 1
    assert mail_kinds(open_api, "open@example.com")["duplicate_registration"] == 1


@pytest.mark.parametrize(
    "password",
    ["short", "a" * 129, "password1234", "xx-alicewonder-xx-long"],
    ids=["too_short", "too_long", "too_common", "contains_email"],
)
def test_register_weak_password_is_422_weak_password(api: Api, password: str) -> None:
    result = register(api, "alicewonder@example.com", password=password)
    assert_problem(result, 422, "weak_password")
    assert result.json["errors"][0]["field"] == "password"
    assert user_count(api) == 0
    assert not api.deps.mailer.list(to="alicewonder@example.com")


# --- email verification ----------------------------------------------------------------


def verify(api: Api, token: str) -> testing.Result:
    return api.call("POST", "/api/auth/verify-email", {"token": token})


@pytest.mark.parametrize("token", ["garbage", "a.b", "a.b.c", "", "0123456789abcdef0123456789abcdef.nope"])
def test_verify_email_bad_token_is_400_invalid_token(api: Api, token: str) -> None:
    register(api, "v@example.com")
    assert_problem(verify(api, token), 400, "invalid_token")


def test_verify_email_wrong_secret_for_a_real_user_is_400(api: Api) -> None:
    register(api, "v@example.com")
    owner, _ = api.outbox_token("v@example.com").split(".")
    assert_problem(verify(api, f"{owner}.forged-secret"), 400, "invalid_token")
    assert_problem(login(api, "v@example.com"), 403, "email_unverified")


def test_verify_email_token_is_single_use(api: Api) -> None:
    register(api, "v@example.com")
    token = api.outbox_token("v@example.com")
    assert verify(api, token).status_code == 204
    assert_problem(verify(api, token), 400, "invalid_token")


def test_verify_email_expired_token_is_400(api: Api, clock: FixedClock) -> None:
    register(api, "v@example.com")
    token = api.outbox_token("v@example.com")
    clock.advance(hours=25)
    assert_problem(verify(api, token), 400, "invalid_token")
    assert_problem(login(api, "v@example.com"), 403, "email_unverified")


def test_login_before_verification(api: Api) -> None:
    register(api, "v@example.com")
    assert_problem(login(api, "v@example.com"), 403, "email_unverified")
    assert_problem(login(api, "v@example.com", WRONG), 401, "invalid_credentials")


# --- login failures look alike -------------------------------------------------------


def test_login_failures_have_byte_identical_bodies(api: Api) -> None:
    for email in ("wrong@example.com", "locked@example.com", "disabled@example.com"):
        api.register(email)
    fail_login(api, "locked@example.com", 5)
    disable(api, "disabled@example.com")
    answers = {
        "wrong_password": login(api, "wrong@example.com", WRONG),
        "unknown_email": login(api, "nobody@example.com"),
        "locked": login(api, "locked@example.com"),
        "disabled": login(api, "disabled@example.com"),
    }
    reference = answers["wrong_password"]
    assert_problem(reference, 401, "invalid_credentials")
    for reason, result in answers.items():
        assert result.status_code == 401, reason
        assert result.content == reference.content, reason
        assert result.headers.get("www-authenticate") == reference.headers.get("www-authenticate"), reason
        assert sorted(result.headers) == sorted(reference.headers), reason


def test_login_succeeds_with_the_expected_answer(api: Api) -> None:
    api.register("ok@example.com", name="Okay Person")
    result = login(api, "ok@example.com")
    assert result.status_code == 200
    body = result.json
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["access_token"] and body["refresh_token"]
    assert body["user"] == {
        "id": user_id_of(api, "ok@example.com"),
        "email": "ok@example.com",
        "full_name": "Okay Person",
        "roles": ["applicant"],
    }


# --- lockout ---------------------------------------------------------------------------


def test_five_failures_lock_for_15_minutes(api: Api, clock: FixedClock) -> None:
    api.register("lock@example.com")
    fail_login(api, "lock@example.com", 4)
    assert login(api, "lock@example.com").status_code == 200  # success clears the counter
    fail_login(api, "lock@example.com", 5)
    assert_problem(login(api, "lock@example.com"), 401, "invalid_credentials")
    clock.advance(minutes=14)
    assert_problem(login(api, "lock@example.com"), 401, "invalid_credentials")
    clock.advance(minutes=2)
    assert login(api, "lock@example.com").status_code == 200


def test_four_failures_do_not_lock(api: Api) -> None:
    api.register("four@example.com")
    fail_login(api, "four@example.com", 4)
    assert login(api, "four@example.com").status_code == 200
    assert mail_kinds(api, "four@example.com")["account_locked"] == 0


def test_one_account_locked_mail_per_lock(api: Api, clock: FixedClock) -> None:
    api.register("mail@example.com")
    fail_login(api, "mail@example.com", 5)
    fail_login(api, "mail@example.com", 3)  # while locked: no further mail
    assert_problem(login(api, "mail@example.com"), 401, "invalid_credentials")
    assert mail_kinds(api, "mail@example.com")["account_locked"] == 1
    clock.advance(minutes=16)
    fail_login(api, "mail@example.com", 5)  # a second lock
    assert mail_kinds(api, "mail@example.com")["account_locked"] == 2


def test_second_lock_lasts_longer(api: Api, clock: FixedClock) -> None:
    api.register("twice@example.com")
    fail_login(api, "twice@example.com", 5)
    clock.advance(minutes=16)
    fail_login(api, "twice@example.com", 5)
    clock.advance(minutes=16)
    assert_problem(login(api, "twice@example.com"), 401, "invalid_credentials")
    clock.advance(minutes=15)
    assert login(api, "twice@example.com").status_code == 200


@pytest.mark.parametrize(
    ("gap_minutes", "locked"),
    [(10, True), (14, True), (16, False)],
    ids=["within_window", "edge_of_window", "outside_window"],
)
def test_failures_count_within_a_15_minute_window(api: Api, clock: FixedClock, gap_minutes: int, locked: bool) -> None:
    api.register("window@example.com")
    fail_login(api, "window@example.com", 3)
    clock.advance(minutes=gap_minutes)
    fail_login(api, "window@example.com", 2)
    result = login(api, "window@example.com")
    if locked:
        assert_problem(result, 401, "invalid_credentials")
    else:
        assert result.status_code == 200, result.text


# --- every attempt is an event ----------------------------------------------------------

ATTEMPTS: list[tuple[str, str, str, str]] = [
    # (request id, email, password, expected event type)
    ("req-unknown", "ghost@example.com", PASSWORD, T.LOGIN_FAILED.value),
    ("req-wrong", "ev@example.com", WRONG, T.LOGIN_FAILED.value),
    ("req-ok", "ev@example.com", PASSWORD, T.LOGIN_SUCCEEDED.value),
    ("req-unverified-ok", "unv@example.com", PASSWORD, T.LOGIN_FAILED.value),
    ("req-unverified-wrong", "unv@example.com", WRONG, T.LOGIN_FAILED.value),
]


def test_every_login_attempt_is_an_event_with_ip_and_request_id(api: Api) -> None:
    api.register("ev@example.com")
    register(api, "unv@example.com")
    before = len(login_events(api))
    for request_id, email, password, _ in ATTEMPTS:
        login(api, email, password, headers={"X-Request-ID": request_id}, remote_addr="198.51.100.7")
    recorded = login_events(api)[before:]
    assert len(recorded) == len(ATTEMPTS)
    by_request = {e.request_id: e for e in recorded}
    for request_id, _, _, expected_type in ATTEMPTS:
        event = by_request[request_id]
        assert event.type == expected_type, request_id
        assert event.ip == "198.51.100.7", request_id


def test_locked_attempts_are_events_too(api: Api) -> None:
    api.register("lockev@example.com")
    fail_login(api, "lockev@example.com", 5)
    before = len(login_events(api))
    login(api, "lockev@example.com", headers={"X-Request-ID": "req-locked"})
    [event] = login_events(api)[before:]
    assert event.type == T.LOGIN_FAILED.value
    assert event.request_id == "req-locked"
    assert event.data["reason"] == "locked"
    locks = [e for e in api.deps.store.read_all() if e.type == T.ACCOUNT_LOCKED.value]
    assert len(locks) == 1


# --- refresh, logout, logout-all -----------------------------------------------------


def test_refresh_rotates_the_refresh_token(api: Api) -> None:
    api.register("r@example.com")
    first = login(api, "r@example.com").json
    second = refresh(api, first["refresh_token"])
    assert second.status_code == 200, second.text
    assert second.json["refresh_token"] != first["refresh_token"]
    assert me(api, second.json["access_token"]).status_code == 200
    third = refresh(api, second.json["refresh_token"])
    assert third.status_code == 200, third.text


def test_refresh_reuse_revokes_the_family(api: Api) -> None:
    api.register("r@example.com")
    first = login(api, "r@example.com").json
    second = refresh(api, first["refresh_token"]).json
    assert_problem(refresh(api, first["refresh_token"]), 401, "invalid_token")
    assert_problem(refresh(api, second["refresh_token"]), 401, "invalid_token")
    assert_problem(me(api, second["access_token"]), 401, "unauthenticated")
    assert_problem(me(api, first["access_token"]), 401, "unauthenticated")
    assert any(e.type == T.REFRESH_TOKEN_REUSED.value for e in api.deps.store.read_all())


def test_refresh_reuse_leaves_other_sessions_alone(api: Api) -> None:
    api.register("r@example.com")
    other = login(api, "r@example.com").json
    first = login(api, "r@example.com").json
    refresh(api, first["refresh_token"])
    refresh(api, first["refresh_token"])
    assert me(api, other["access_token"]).status_code == 200


@pytest.mark.parametrize("token", ["unknown", "deadbeef.nope", ""])
def test_refresh_unknown_token_fails(api: Api, token: str) -> None:
    assert_problem(refresh(api, token), 401, "invalid_token")


def test_refresh_after_30_minutes_idle_fails(api: Api, clock: FixedClock) -> None:
    api.register("idle@example.com")
    first = login(api, "idle@example.com").json
    clock.advance(minutes=29)
    second = refresh(api, first["refresh_token"])
    assert second.status_code == 200, second.text
    clock.advance(minutes=31)
    assert_problem(refresh(api, second.json["refresh_token"]), 401, "invalid_token")


def test_cookie_refresh_needs_csrf(api: Api) -> None:
    cookies = cookie_session(api, "cr@example.com")
    assert_problem(api.call("POST", "/api/auth/refresh", cookies=cookies), 403, "csrf_failed")
    ok = api.call("POST", "/api/auth/refresh", cookies=cookies, headers={"X-CSRF-Token": cookies["csrf_token"]})
    assert ok.status_code == 200, ok.text
    assert ok.json["refresh_token"] != cookies["refresh_token"]


def test_logout_ends_only_this_session(api: Api) -> None:
    api.register("out@example.com")
    ending = login(api, "out@example.com").json
    staying = login(api, "out@example.com").json
    result = api.call("POST", "/api/auth/logout", token=ending["access_token"])
    assert result.status_code == 204
    assert_problem(me(api, ending["access_token"]), 401, "unauthenticated")
    assert_problem(refresh(api, ending["refresh_token"]), 401, "invalid_token")
    assert me(api, staying["access_token"]).status_code == 200


def test_logout_all_ends_every_session(api: Api) -> None:
    api.register("all@example.com")
    sessions = [login(api, "all@example.com").json for _ in range(3)]
    result = api.call("POST", "/api/auth/logout-all", token=sessions[0]["access_token"])
    assert result.status_code == 204
    for session in sessions:
        assert_problem(me(api, session["access_token"]), 401, "unauthenticated")
        assert_problem(refresh(api, session["refresh_token"]), 401, "invalid_token")
    assert me(api, login(api, "all@example.com").json["access_token"]).status_code == 200


def test_logout_needs_authentication(api: Api) -> None:
    assert_problem(api.call("POST", "/api/auth/logout"), 401, "unauthenticated")
    assert_problem(api.call("POST", "/api/auth/logout-all"), 401, "unauthenticated")


# --- cookies and CSRF ------------------------------------------------------------------


def test_login_sets_secure_cookies(api: Api) -> None:
    api.register("c@example.com")
    result = login(api, "c@example.com")
    cookies = result.cookies
    assert cookies["access_token"].value == result.json["access_token"]
    assert cookies["refresh_token"].value == result.json["refresh_token"]
    for name in ("access_token", "refresh_token"):
        assert cookies[name].http_only is True, name
        assert cookies[name].secure is True, name
        assert cookies[name].same_site == "Strict", name
    assert cookies["csrf_token"].value
    assert cookies["csrf_token"].http_only is False


def cookie_session(api: Api, email: str) -> dict[str, str]:
    api.register(email)
    result = login(api, email)
    return {name: result.cookies[name].value for name in ("access_token", "refresh_token", "csrf_token")}


def create_by_cookie(api: Api, cookies: dict[str, str], headers: dict[str, str]) -> testing.Result:
    return api.call("POST", "/api/applications", {"title": "By cookie"}, cookies=cookies, headers=headers)


def test_cookie_post_without_csrf_header_is_403(api: Api) -> None:
    cookies = cookie_session(api, "c@example.com")
    assert_problem(create_by_cookie(api, cookies, {}), 403, "csrf_failed")
    assert_problem(create_by_cookie(api, cookies, {"X-CSRF-Token": "not-the-cookie"}), 403, "csrf_failed")
    assert api.deps.db["applications"].count_documents({}) == 0


def test_cookie_post_with_matching_csrf_header_succeeds(api: Api) -> None:
    cookies = cookie_session(api, "c@example.com")
    result = create_by_cookie(api, cookies, {"X-CSRF-Token": cookies["csrf_token"]})
    assert result.status_code == 201, result.text
    assert api.call("GET", "/api/users/me", cookies=cookies).status_code == 200


def test_cookie_logout_needs_csrf(api: Api) -> None:
    cookies = cookie_session(api, "c@example.com")
    assert_problem(api.call("POST", "/api/auth/logout", cookies=cookies), 403, "csrf_failed")
    assert me(api, cookies["access_token"]).status_code == 200
    ok = api.call("POST", "/api/auth/logout", cookies=cookies, headers={"X-CSRF-Token": cookies["csrf_token"]})
    assert ok.status_code == 204
    assert_problem(me(api, cookies["access_token"]), 401, "unauthenticated")


# --- access token lifetime -----------------------------------------------------------


def test_access_token_expires_after_15_minutes(api: Api, clock: FixedClock) -> None:
    token = api.user("exp@example.com")
    clock.advance(minutes=14)
    assert me(api, token).status_code == 200
    clock.advance(minutes=2)
    assert_problem(me(api, token), 401, "unauthenticated")


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer "])
def test_bad_authorization_is_401(api: Api, header: str) -> None:
    assert_problem(api.call("GET", "/api/users/me", headers={"Authorization": header}), 401, "unauthenticated")


# --- /api/users/me ---------------------------------------------------------------------


def test_get_me(api: Api) -> None:
    api.register("me@example.com", name="Me Myself")
    token = login(api, "me@example.com").json["access_token"]
    result = me(api, token)
    assert result.status_code == 200
    body = result.json
    assert set(body) == {"id", "email", "full_name", "roles", "email_verified", "totp_enabled", "created_at"}
    assert body["id"] == user_id_of(api, "me@example.com")
    assert body["email"] == "me@example.com"
    assert body["full_name"] == "Me Myself"
    assert body["roles"] == ["applicant"]
    assert body["email_verified"] is True
    assert body["totp_enabled"] is False


def test_patch_me_full_name(api: Api) -> None:
    token = api.user("me@example.com")
    result = api.call("PATCH", "/api/users/me", {"full_name": "New Name"}, token=token)
    assert result.status_code == 200, result.text
    assert result.json["full_name"] == "New Name"
    assert me(api, token).json["full_name"] == "New Name"


@pytest.mark.parametrize("body", [{"full_name": "X", "roles": ["admin"]}, {"email": "other@example.com"}])
def test_patch_me_other_fields_are_unknown(api: Api, body: dict[str, Any]) -> None:
    token = api.user("me@example.com")
    assert_problem(api.call("PATCH", "/api/users/me", body, token=token), 422, "unknown_field")
    after = me(api, token).json
    assert after["roles"] == ["applicant"]
    assert after["email"] == "me@example.com"
    assert after["full_name"] == "Test User"


def test_me_needs_authentication(api: Api) -> None:
    assert_problem(api.call("GET", "/api/users/me"), 401, "unauthenticated")
