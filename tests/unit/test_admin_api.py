"""/api/admin/users: who may call it, what each action does, and that each is audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from core.clock import FixedClock
from services import users
from tests.conftest import Api

WRONG = "not the right password!"


def uid(api: Api, email: str) -> str:
    found = users.find_by_email(api.deps, email)
    assert found is not None
    return found.id


@pytest.fixture
def admin(api: Api) -> str:
    return api.user("admin@example.com", ["admin"])


@pytest.fixture
def target(api: Api) -> str:
    api.user("target@example.com")
    return uid(api, "target@example.com")


def events_of(api: Api, user_id: str, kind: str) -> list[Any]:
    return [e for e in api.deps.store.read_stream(f"user-{user_id}") if e.type == kind]


def assert_refused(api: Api, result: Any, status: int, code: str, before: dict[str, Any]) -> None:
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/problem+json")
    assert result.json["code"] == code
    assert api.db_snapshot() == before


# --- access ------------------------------------------------------------------------------


@pytest.mark.parametrize("roles", [None, ["reviewer"], ["auditor"]])
def test_non_admins_are_forbidden_everywhere(api: Api, target: str, roles: list[str] | None) -> None:
    token = api.user("someone@example.com", roles)
    before = api.db_snapshot()
    for method, path, body in [
        ("GET", "/api/admin/users", None),
        ("GET", f"/api/admin/users/{target}", None),
        ("PUT", f"/api/admin/users/{target}/roles", {"roles": ["admin"]}),
        ("POST", f"/api/admin/users/{target}/disable", {"reason": "x"}),
        ("POST", f"/api/admin/users/{target}/enable", None),
        ("POST", f"/api/admin/users/{target}/unlock", None),
        ("POST", f"/api/admin/users/{target}/revoke-sessions", None),
    ]:
        result = api.call(method, path, body, token=token)
        assert result.status_code == 403, (method, path, result.text)
    assert api.db_snapshot() == before


# --- listing and viewing -----------------------------------------------------------------


def test_list_filters_by_role_status_and_exact_email(api: Api, admin: str, target: str) -> None:
    api.user("rev@example.com", ["reviewer"])
    listed = api.call("GET", "/api/admin/users", token=admin, params={"limit": "200"}).json["items"]
    assert {u["email"] for u in listed} == {"admin@example.com", "target@example.com", "rev@example.com"}
    reviewers = api.call("GET", "/api/admin/users", token=admin, params={"role": "reviewer"}).json["items"]
    assert [u["email"] for u in reviewers] == ["rev@example.com"]
    # q is an exact match through the blind index: case and spacing variants normalize alike...
    found = api.call("GET", "/api/admin/users", token=admin, params={"q": "  TARGET@Example.com "}).json["items"]
    assert [u["id"] for u in found] == [target]
    # ...but a fragment matches nothing (emails are sealed; there is no substring search).
    assert api.call("GET", "/api/admin/users", token=admin, params={"q": "target"}).json["items"] == []
    api.call("POST", f"/api/admin/users/{target}/disable", {"reason": "spam"}, token=admin)
    disabled = api.call("GET", "/api/admin/users", token=admin, params={"status": "disabled"}).json["items"]
    assert [u["id"] for u in disabled] == [target]
    active = api.call("GET", "/api/admin/users", token=admin, params={"status": "active"}).json["items"]
    assert target not in {u["id"] for u in active}


def test_list_pages_walk_every_user_once(api: Api, admin: str) -> None:
    for n in range(5):
        api.register(f"user{n}@example.com")
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.call("GET", "/api/admin/users", token=admin, params=params).json
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 6
    assert seen == sorted(set(seen))


@pytest.mark.parametrize(
    "params", [{"role": "root"}, {"status": "gone"}, {"cursor": "!!"}, {"cursor": "cDEy"}, {"limit": "500"}]
)
def test_bad_list_query_is_422(api: Api, admin: str, params: dict[str, str]) -> None:
    before = api.db_snapshot()
    result = api.call("GET", "/api/admin/users", token=admin, params=params)
    assert result.status_code == 422, result.text
    assert api.db_snapshot() == before


def test_view_shows_lockout_state(api: Api, admin: str, target: str, clock: FixedClock) -> None:
    for _ in range(2):
        api.call("POST", "/api/auth/login", {"email": "target@example.com", "password": WRONG})
    view = api.call("GET", f"/api/admin/users/{target}", token=admin)
    assert view.status_code == 200
    assert view.headers["etag"] == f'"{view.json["version"]}"'
    assert view.json["failed_logins"] == 2
    assert view.json["locked_until"] is None
    assert view.json["status"] == "active"
    for _ in range(3):
        api.call("POST", "/api/auth/login", {"email": "target@example.com", "password": WRONG})
    locked = api.call("GET", f"/api/admin/users/{target}", token=admin).json
    until = datetime.fromisoformat(locked["locked_until"].replace("Z", "+00:00"))
    assert until == clock.now() + timedelta(minutes=15)
    assert locked["failed_logins"] == 0  # the lock consumed the window's failures
    assert "password_hash" not in locked


def test_unknown_user_is_404(api: Api, admin: str) -> None:
    for path in ("/api/admin/users/0123abcd", "/api/admin/users/not-an-id!"):
        assert api.call("GET", path, token=admin).status_code == 404
    before = api.db_snapshot()
    result = api.call("POST", "/api/admin/users/0123abcd/unlock", token=admin)
    assert_refused(api, result, 404, "not_found", before)


# --- actions and their events ------------------------------------------------------------


def test_set_roles_is_audited_with_admin_reason_and_request_id(api: Api, admin: str, target: str) -> None:
    admin_id = uid(api, "admin@example.com")
    result = api.call(
        "PUT",
        f"/api/admin/users/{target}/roles",
        {"roles": ["reviewer", "applicant"], "reason": "joined the review team"},
        token=admin,
        headers={"X-Request-ID": "req-roles-1"},
    )
    assert result.status_code == 200, result.text
    assert result.json["roles"] == ["applicant", "reviewer"]
    [event] = events_of(api, target, "user.roles_changed")[-1:]
    assert event.actor == admin_id
    assert event.request_id == "req-roles-1"
    assert event.data["subject"] == target
    assert event.data["previous"] == ["applicant"]
    assert event.data["admin_action"] is True
    assert "joined" not in str(event.data["admin_reason"])  # sealed at rest
    auditor = api.user("auditor@example.com", ["auditor"])
    shown = api.call("GET", "/api/audit/events", token=auditor, params={"stream": f"user-{target}"}).json["items"]
    change = [e for e in shown if e["type"] == "user.roles_changed" and e["actor"] == admin_id][0]
    assert change["data"]["admin_reason"] == "joined the review team"
    as_admin = api.call("GET", "/api/audit/events", token=admin, params={"stream": f"user-{target}"}).json["items"]
    assert [e for e in as_admin if e["type"] == "user.roles_changed"][-1]["data"]["admin_reason"] == "[redacted]"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"roles": ["root"]}, "invalid_role"),
        ({"roles": []}, "invalid_role"),
        ({"roles": [{"$ne": 1}]}, "invalid_key"),
        ({"roles": [1]}, "invalid_role"),
        ({"roles": "admin"}, "wrong_type"),
        ({"roles": ["admin"], "status": "active"}, "unknown_field"),
    ],
)
def test_bad_roles_body_is_422(api: Api, admin: str, target: str, body: dict[str, Any], code: str) -> None:
    before = api.db_snapshot()
    result = api.call("PUT", f"/api/admin/users/{target}/roles", body, token=admin)
    assert_refused(api, result, 422, code, before)


def test_admin_cannot_remove_own_admin_role(api: Api, admin: str) -> None:
    me = uid(api, "admin@example.com")
    before = api.db_snapshot()
    result = api.call("PUT", f"/api/admin/users/{me}/roles", {"roles": ["applicant"]}, token=admin)
    assert_refused(api, result, 409, "self_demotion", before)
    result = api.call("POST", f"/api/admin/users/{me}/disable", {"reason": "oops"}, token=admin)
    assert_refused(api, result, 409, "self_demotion", before)
    # Keeping admin while changing the rest is fine.
    kept = api.call("PUT", f"/api/admin/users/{me}/roles", {"roles": ["admin", "reviewer"]}, token=admin)
    assert kept.status_code == 200, kept.text


def test_another_admin_can_be_demoted_while_one_remains(api: Api, admin: str) -> None:
    api.user("second@example.com", ["admin"])
    second = uid(api, "second@example.com")
    result = api.call("PUT", f"/api/admin/users/{second}/roles", {"roles": ["applicant"]}, token=admin)
    assert result.status_code == 200, result.text
    roster = api.deps.store.read_stream("roster-admins")
    assert [(e.type, e.data["subject"], e.data["active_admins"]) for e in roster] == [
        ("admin.roster_changed", second, 1)
    ]


def test_if_match_guards_role_changes(api: Api, admin: str, target: str) -> None:
    version = api.call("GET", f"/api/admin/users/{target}", token=admin).json["version"]
    before = api.db_snapshot()
    stale = api.call(
        "PUT",
        f"/api/admin/users/{target}/roles",
        {"roles": ["reviewer"]},
        token=admin,
        headers={"If-Match": f'"{version - 1}"'},
    )
    assert_refused(api, stale, 412, "version_conflict", before)
    fresh = api.call(
        "PUT",
        f"/api/admin/users/{target}/roles",
        {"roles": ["reviewer"]},
        token=admin,
        headers={"If-Match": f'"{version}"'},
    )
    assert fresh.status_code == 200


def test_disable_stops_tokens_and_login_and_enable_restores_login_only(api: Api, admin: str) -> None:
    victim = api.user("victim@example.com")
    victim_id = uid(api, "victim@example.com")
    refresh = api.login("victim@example.com")["refresh_token"]
    assert api.call("GET", "/api/users/me", token=victim).status_code == 200
    result = api.call("POST", f"/api/admin/users/{victim_id}/disable", {"reason": "fraud report"}, token=admin)
    assert result.status_code == 204, result.text
    assert api.call("GET", "/api/users/me", token=victim).status_code == 401
    login = api.call(
        "POST", "/api/auth/login", {"email": "victim@example.com", "password": "correct horse battery staple"}
    )
    assert login.status_code == 401
    [disabled] = events_of(api, victim_id, "user.disabled")
    assert disabled.actor == uid(api, "admin@example.com")
    assert api.call("POST", f"/api/admin/users/{victim_id}/enable", token=admin).status_code == 204
    assert events_of(api, victim_id, "user.enabled")
    # Old tokens stay dead after re-enabling; a fresh login works.
    assert api.call("GET", "/api/users/me", token=victim).status_code == 401
    assert api.call("POST", "/api/auth/refresh", {"refresh_token": refresh}).status_code == 401
    assert api.call("GET", "/api/users/me", token=api.login("victim@example.com")["access_token"]).status_code == 200


@pytest.mark.parametrize("body", [None, {}, {"reason": ""}, {"reason": 3}, {"reason": "x" * 1001}])
def test_disable_needs_a_reason(api: Api, admin: str, target: str, body: Any) -> None:
    before = api.db_snapshot()
    result = api.call("POST", f"/api/admin/users/{target}/disable", body, token=admin)
    assert result.status_code in (415, 422), result.text
    assert api.db_snapshot() == before


def test_unlock_clears_a_lockout(api: Api, admin: str, target: str) -> None:
    for _ in range(5):
        api.call("POST", "/api/auth/login", {"email": "target@example.com", "password": WRONG})
    assert api.call("GET", f"/api/admin/users/{target}", token=admin).json["locked_until"] is not None
    # Locked: even the right password fails.
    assert (
        api.call(
            "POST", "/api/auth/login", {"email": "target@example.com", "password": "correct horse battery staple"}
        ).status_code
        == 401
    )
    assert (
        api.call("POST", f"/api/admin/users/{target}/unlock", {"reason": "called support"}, token=admin).status_code
        == 204
    )
    view = api.call("GET", f"/api/admin/users/{target}", token=admin).json
    assert (view["locked_until"], view["failed_logins"], view["lock_count"]) == (None, 0, 0)
    [unlocked] = events_of(api, target, "user.unlocked")
    assert unlocked.actor == uid(api, "admin@example.com")
    assert unlocked.data["was_locked_until"] is not None
    assert api.login("target@example.com")["access_token"]


def test_revoke_sessions_ends_every_session(api: Api, admin: str) -> None:
    one = api.user("many@example.com")
    two = api.login("many@example.com")["access_token"]
    many = uid(api, "many@example.com")
    assert api.call("POST", f"/api/admin/users/{many}/revoke-sessions", token=admin).status_code == 204
    assert api.call("GET", "/api/users/me", token=one).status_code == 401
    assert api.call("GET", "/api/users/me", token=two).status_code == 401
    [revoked] = events_of(api, many, "auth.all_sessions_revoked")
    assert (revoked.actor, revoked.data["reason"], revoked.data["admin_action"]) == (
        uid(api, "admin@example.com"),
        "admin_revoked",
        True,
    )
    assert api.call("GET", "/api/users/me", token=api.login("many@example.com")["access_token"]).status_code == 200
