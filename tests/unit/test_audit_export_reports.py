"""GET /api/audit/events/export and the /api/audit/reports/* endpoints."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from falcon import testing

from core.clock import FixedClock
from events.model import Context, NewEvent, StreamAppend
from events.types import EventType as T
from services import audit, users
from tests.conftest import Api

WRONG = "not the right password!"
RIGHT = "correct horse battery staple"


def uid(api: Api, email: str) -> str:
    found = users.find_by_email(api.deps, email)
    assert found is not None
    return found.id


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line]


def walk(api: Api, token: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.call(
            "GET", "/api/audit/events", token=token, params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        items += page.json["items"]
        cursor = page.json["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
def auditor(api: Api) -> str:
    api.user("alice@example.com")
    api.call("POST", "/api/auth/login", {"email": "alice@example.com", "password": WRONG})
    return api.user("auditor@example.com", ["auditor"])


# --- export ------------------------------------------------------------------------------


def test_export_is_ndjson_of_every_event_in_position_order(api: Api, auditor: str) -> None:
    result = api.call("GET", "/api/audit/events/export", token=auditor)
    assert result.status_code == 200, result.text
    assert result.headers["content-type"] == "application/x-ndjson"
    assert "attachment" in result.headers["content-disposition"]
    lines = ndjson(result.text)
    assert [e["position"] for e in lines] == [e.position for e in api.deps.store.read_all()][: len(lines)]
    assert lines == walk(api, auditor, limit=200)[: len(lines)]
    assert any(e["data"].get("email") == "alice@example.com" for e in lines)


def test_export_applies_the_filters(api: Api, auditor: str) -> None:
    alice = uid(api, "alice@example.com")
    params = {"type": "auth.login_failed,user.registered", "subject": alice}
    lines = ndjson(api.call("GET", "/api/audit/events/export", token=auditor, params=params).text)
    want = [
        e.position
        for e in api.deps.store.read_all()
        if e.type in ("auth.login_failed", "user.registered") and e.data.get("subject") == alice
    ]
    assert len(want) == 2
    assert [e["position"] for e in lines] == want


def test_export_redacts_pii_for_admins(api: Api, auditor: str) -> None:
    admin = api.user("admin@example.com", ["admin"])
    text = api.call("GET", "/api/audit/events/export", token=admin).text
    assert "alice@example.com" not in text
    assert "$argon2" not in text


@pytest.mark.parametrize("params", [{"since": "soon"}, {"cursor": "!!"}, {"type": "x" * 201}])
def test_bad_export_query_is_422(api: Api, auditor: str, params: dict[str, str]) -> None:
    before = api.db_snapshot()
    result = api.call("GET", "/api/audit/events/export", token=auditor, params=params)
    assert result.status_code == 422, result.text
    assert result.headers["content-type"] == "application/problem+json"
    assert api.db_snapshot() == before


def test_export_is_forbidden_to_applicants(api: Api, auditor: str) -> None:
    token = api.login("alice@example.com")["access_token"]
    assert api.call("GET", "/api/audit/events/export", token=token).status_code == 403


def test_export_streams_in_batches_and_stops_at_the_head_it_started_from(
    api: Api, auditor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "EXPORT_BATCH", 2)
    reads: list[int] = []
    query = api.deps.store.query

    def counting(flt: Any, after: int, limit: int) -> Any:
        reads.append(limit)
        return query(flt, after, limit)

    monkeypatch.setattr(api.deps.store, "query", counting)
    head = api.deps.store.head_position()
    environ = testing.create_environ("/api/audit/events/export", headers={"Authorization": f"Bearer {auditor}"})
    body = api.client.app(environ, lambda status, headers: None)
    first = next(iter(body))
    assert json.loads(first)["position"] == 1
    assert reads == [2]  # one batch read so far, not the whole log
    # Appended while the client is still reading: not part of this export.
    api.deps.store.append([StreamAppend("misc-late", 0, (NewEvent("test.late", {}),))], Context())
    rest = [json.loads(line) for line in b"".join(body).splitlines()]
    assert [e["position"] for e in rest] == list(range(2, head + 1))
    assert all(size == 2 for size in reads)


# --- reports -----------------------------------------------------------------------------


@pytest.fixture
def history(api: Api, clock: FixedClock) -> dict[str, Any]:
    """Two days of failures from two IPs, a lockout, a rate-limit violation, admin actions,
    application status changes."""
    api.user("bob@example.com")
    applicant = api.user("carol@example.com")
    for _ in range(2):
        api.call("POST", "/api/auth/login", {"email": "bob@example.com", "password": WRONG}, remote_addr="10.0.0.1")
    api.call("POST", "/api/auth/login", {"email": "nobody@example.com", "password": WRONG}, remote_addr="10.0.0.2")
    created = api.call("POST", "/api/applications", {"title": "t", "body": "b"}, token=applicant).json["id"]
    api.call("POST", f"/api/applications/{created}/status", {"status": "submitted"}, token=applicant)
    clock.advance(days=1)
    for _ in range(5):
        api.call("POST", "/api/auth/login", {"email": "bob@example.com", "password": WRONG}, remote_addr="10.0.0.2")
    api.deps.commit(
        [StreamAppend("ratelimit-x", 0, (NewEvent(T.RATE_LIMIT_EXCEEDED, {"limit": "login"}),))],
        Context(actor="anonymous", ip="10.0.0.3"),
    )
    admin = api.user("admin@example.com", ["admin"])
    bob = uid(api, "bob@example.com")
    assert api.call("POST", f"/api/admin/users/{bob}/unlock", token=admin).status_code == 204
    assert api.call("POST", f"/api/admin/users/{bob}/disable", {"reason": "abuse"}, token=admin).status_code == 204
    applicant = api.login("carol@example.com")["access_token"]
    second = api.call("POST", "/api/applications", {"title": "u", "body": "b"}, token=applicant).json["id"]
    for target in (created, second):
        changed = api.call("POST", f"/api/applications/{target}/status", {"status": "withdrawn"}, token=applicant)
        assert changed.status_code == 200, changed.text
    return {
        "admin": admin,
        "admin_id": uid(api, "admin@example.com"),
        "auditor": api.user("aud@example.com", ["auditor"]),
    }


def security_oracle(api: Api) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    kinds = {
        "auth.login_failed": "failed_logins",
        "auth.account_locked": "lockouts",
        T.RATE_LIMIT_EXCEEDED.value: "rate_limit_violations",
    }
    by_day: Counter[tuple[str, str]] = Counter()
    by_ip: Counter[tuple[str, str]] = Counter()
    for e in api.deps.store.read_all():
        if e.type in kinds:
            by_day[(e.occurred_at.date().isoformat(), kinds[e.type])] += 1
            by_ip[(e.ip or "unknown", kinds[e.type])] += 1
    return by_day, by_ip


def report(api: Api, token: str, name: str, **params: str) -> dict[str, Any]:
    result = api.call("GET", f"/api/audit/reports/{name}", token=token, params={"since": "2025-12-31", **params})
    assert result.status_code == 200, result.text
    return result.json


def flatten(rows: list[dict[str, Any]], key: str) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for row in rows:
        for kind, n in row.items():
            if kind != key and n:
                out[(row[key], kind)] = n
    return out


def test_security_report_matches_the_log(api: Api, history: dict[str, Any]) -> None:
    body = report(api, history["auditor"], "security")
    by_day, by_ip = security_oracle(api)
    assert flatten(body["by_day"], "day") == by_day
    assert flatten(body["by_ip"], "ip") == by_ip
    assert body["totals"]["lockouts"] == 1
    assert body["totals"]["rate_limit_violations"] == 1
    assert {row["day"] for row in body["by_day"]} == {"2026-01-01", "2026-01-02"}


def test_security_report_honours_the_day_range(api: Api, history: dict[str, Any]) -> None:
    body = report(api, history["auditor"], "security", since="2026-01-02", until="2026-01-03")
    assert [row["day"] for row in body["by_day"]] == ["2026-01-02"]
    assert (body["since"], body["until"]) == ("2026-01-02", "2026-01-03")
    empty = report(api, history["auditor"], "security", since="2025-06-01", until="2025-07-01")
    assert empty["by_day"] == [] and sum(empty["totals"].values()) == 0


def test_admin_actions_report(api: Api, history: dict[str, Any]) -> None:
    body = report(api, history["auditor"], "admin-actions")
    mine = [row for row in body["by_admin"] if row["admin"] == history["admin_id"]]
    assert mine == [{"admin": history["admin_id"], "total": 2, "by_type": {"user.disabled": 1, "user.unlocked": 1}}]
    # Test setup granted roles as 'system' (like `warden set-roles`): those count too.
    system = [row for row in body["by_admin"] if row["admin"] == "system"]
    assert system and system[0]["by_type"] == {"user.roles_changed": 2}


def test_status_changes_report(api: Api, history: dict[str, Any]) -> None:
    body = report(api, history["auditor"], "status-changes")
    assert body["by_day"] == [
        {"day": "2026-01-01", "counts": {"submitted": 1}},
        {"day": "2026-01-02", "counts": {"withdrawn": 2}},
    ]
    assert body["totals"] == {"submitted": 1, "withdrawn": 2}


def snapshot_reports(api: Api, token: str) -> list[dict[str, Any]]:
    return [report(api, token, name) for name in ("security", "admin-actions", "status-changes")]


def test_reports_are_idempotent_under_reapplication(api: Api, history: dict[str, Any]) -> None:
    token = history["auditor"]
    before = snapshot_reports(api, token)
    projector = api.deps.projector
    # Forget every checkpoint: the runner re-applies the whole log to every view.
    api.deps.db["projection_checkpoints"].delete_many({})
    assert projector.catch_up() == api.deps.store.head_position()
    # And apply each event once more, directly, to the report views.
    for event in api.deps.store.read_all():
        for view in projector.views:
            if view.name.startswith("report_"):
                view.apply(event)
    assert snapshot_reports(api, token) == before
    projector.rebuild()
    assert snapshot_reports(api, token) == before


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"since": "2026-01-05", "until": "2026-01-01"},
        {"since": "2000-01-01", "until": "2026-01-01"},
    ],
)
def test_bad_report_range_is_422(api: Api, history: dict[str, Any], params: dict[str, str]) -> None:
    before = api.db_snapshot()
    result = api.call("GET", "/api/audit/reports/security", token=history["auditor"], params=params)
    assert result.status_code == 422, result.text
    assert api.db_snapshot() == before


def test_reports_are_forbidden_to_applicants(api: Api, history: dict[str, Any]) -> None:
    token = api.login("carol@example.com")["access_token"]
    for name in ("security", "admin-actions", "status-changes"):
        assert api.call("GET", f"/api/audit/reports/{name}", token=token).status_code == 403
