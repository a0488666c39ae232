"""Checklist: session management. The 12-hour absolute limit holds however often a session
is refreshed, a password change ends every other session, one user's token never reads
another's data, refresh tokens are bound to their session, and logout ends one session only."""

from __future__ import annotations

import json
from typing import Any

import jwt
from falcon import testing

from core.clock import FixedClock
from tests.conftest import Api
from tests.security.checklist import OTHER, OWNER, PASSWORD, assert_problem
from tests.security.test_file_upload import PDF

NEW_PASSWORD = "a completely different passphrase"


def me(api: Api, token: str) -> testing.Result:
    return api.call("GET", "/api/users/me", token=token)


def refresh(api: Api, refresh_token: str) -> testing.Result:
    return api.call("POST", "/api/auth/refresh", {"refresh_token": refresh_token})


def refreshed(api: Api, refresh_token: str) -> dict[str, Any]:
    result = refresh(api, refresh_token)
    assert result.status_code == 200, result.text
    return result.json


def assert_dead(api: Api, session: dict[str, Any], context: str) -> None:
    """Neither the access token nor the refresh token of ``session`` works any more."""
    assert_problem(me(api, session["access_token"]), 401, "unauthenticated", context)
    assert_problem(refresh(api, session["refresh_token"]), 401, "invalid_token", context)


def test_absolute_limit_of_12_hours_survives_refreshing_every_20_minutes(api: Api, clock: FixedClock) -> None:
    api.register(OWNER)
    session = api.login(OWNER)
    for _ in range(35):  # 20, 40, ... 700 minutes: never idle long enough to expire
        clock.advance(minutes=20)
        session = refreshed(api, session["refresh_token"])
        assert me(api, session["access_token"]).status_code == 200
    clock.advance(minutes=19)  # 11 h 59 min: the last refresh still inside the limit
    session = refreshed(api, session["refresh_token"])
    assert me(api, session["access_token"]).status_code == 200

    clock.advance(seconds=61)  # 12 h 0 min 1 s after login
    # The access token itself is still inside its own 15 minutes: only the session limit ends it.
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert claims["exp"] > clock.now().timestamp()
    before = api.db_snapshot()
    assert_problem(me(api, session["access_token"]), 401, "unauthenticated", "access after 12 h")
    assert api.db_snapshot() == before
    assert_problem(refresh(api, session["refresh_token"]), 401, "invalid_token", "refresh after 12 h")
    assert_problem(refresh(api, session["refresh_token"]), 401, "invalid_token", "refresh again")
    # A fresh login starts a fresh 12 hours.
    assert me(api, api.login(OWNER)["access_token"]).status_code == 200


def test_password_change_ends_every_other_session_and_keeps_this_one(api: Api) -> None:
    api.register(OWNER)
    api.register(OTHER)
    current, second, third = api.login(OWNER), api.login(OWNER), api.login(OWNER)
    bystander = api.login(OTHER)
    changed = api.call(
        "POST",
        "/api/auth/password/change",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        token=current["access_token"],
    )
    assert changed.status_code == 204, changed.text

    assert_dead(api, second, "second session")
    assert_dead(api, third, "third session")
    # The session that changed the password goes on: its access token and its refresh token.
    assert me(api, current["access_token"]).status_code == 200
    renewed = refreshed(api, current["refresh_token"])
    assert me(api, renewed["access_token"]).status_code == 200
    # Another user's sessions are untouched.
    assert me(api, bystander["access_token"]).status_code == 200
    assert refresh(api, bystander["refresh_token"]).status_code == 200
    # Only the new password logs in.
    wrong = api.call("POST", "/api/auth/login", {"email": OWNER, "password": PASSWORD})
    assert_problem(wrong, 401, "invalid_credentials")
    assert me(api, api.login(OWNER, NEW_PASSWORD)["access_token"]).status_code == 200


def test_a_token_reads_only_its_own_users_data(api: Api) -> None:
    token_a, token_b = api.user(OWNER), api.user(OTHER)
    app_a = api.call("POST", "/api/applications", {"title": "A-title", "body": "A-body"}, token=token_a).json
    app_b = api.call("POST", "/api/applications", {"title": "B-title", "body": "B-body"}, token=token_b).json
    files_b = f"/api/applications/{app_b['id']}/attachments"
    headers = {"Content-Type": "application/pdf", "X-Filename": "b-secret.pdf"}
    att_b = api.call("POST", files_b, PDF, token=token_b, headers=headers)
    assert att_b.status_code == 201, att_b.text

    mine = me(api, token_a)
    assert mine.status_code == 200 and mine.json["email"] == OWNER
    assert me(api, token_b).json["id"] != mine.json["id"]

    for path in (
        f"/api/applications/{app_b['id']}",
        f"/api/applications/{app_b['id']}/history",
        files_b,
        f"{files_b}/{att_b.json['id']}",
        f"/api/applications/{app_a['id']}/attachments/{att_b.json['id']}",  # B's file through A's application
    ):
        assert_problem(api.call("GET", path, token=token_a), 404, "not_found", path)
    listed = api.call("GET", "/api/applications", token=token_a).json["items"]
    assert [a["id"] for a in listed] == [app_a["id"]]
    # Controls: B reaches the same objects, so the 404s above are about ownership.
    assert api.call("GET", f"{files_b}/{att_b.json['id']}", token=token_b).content == PDF
    assert api.call("GET", f"/api/applications/{app_b['id']}", token=token_b).status_code == 200

    export = api.call("GET", "/api/dsr/export", token=token_a)
    assert export.status_code == 200, export.text
    body = export.json
    assert body["subject"]["email"] == OWNER
    assert [a["id"] for a in body["applications"]] == [app_a["id"]]
    text = json.dumps(body)
    for foreign in (OTHER, app_b["id"], "B-title", "B-body", att_b.json["id"], "b-secret", me(api, token_b).json["id"]):
        assert foreign not in text, foreign


def test_refresh_tokens_are_bound_to_their_session(api: Api) -> None:
    api.register(OWNER)
    api.register(OTHER)
    first, second, foreign = api.login(OWNER), api.login(OWNER), api.login(OTHER)

    def parts(session: dict[str, Any]) -> tuple[str, str]:
        session_id, secret = session["refresh_token"].split(".")
        return session_id, secret

    (sid1, secret1), (sid2, secret2), (sid3, secret3) = parts(first), parts(second), parts(foreign)
    assert len({sid1, sid2, sid3}) == 3
    before = api.db_snapshot()
    for swapped in (f"{sid2}.{secret1}", f"{sid1}.{secret2}", f"{sid3}.{secret1}", f"{sid1}.{secret3}"):
        assert_problem(refresh(api, swapped), 401, "invalid_token", swapped)
    assert api.db_snapshot() == before
    # Control: each token still works with its own session id.
    for session in (first, second, foreign):
        renewed = refreshed(api, session["refresh_token"])
        assert renewed["refresh_token"].split(".")[0] == session["refresh_token"].split(".")[0]


def test_logout_ends_only_the_session_it_is_called_from(api: Api) -> None:
    api.register(OWNER)
    leaving, staying = api.login(OWNER), api.login(OWNER)
    assert api.call("POST", "/api/auth/logout", token=leaving["access_token"]).status_code == 204
    assert_dead(api, leaving, "logged-out session")
    assert me(api, staying["access_token"]).status_code == 200
    renewed = refreshed(api, staying["refresh_token"])
    assert me(api, renewed["access_token"]).status_code == 200
