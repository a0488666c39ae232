"""Behaviour of GET /api/audit/events: who may read, filters, paging, PII handling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from falcon import testing

from core.clock import FixedClock
from events.model import RecordedEvent
from services import users
from tests.conftest import Api

REDACTED = "[redacted]"
SECRETS = ("password_hash", "verification_hash")


@dataclass
class World:
    api: Api
    auditor: str
    admin: str
    applicant: str
    reviewer: str
    applicant_id: str
    app_id: str
    split: datetime  # events at or after this time happened in the second phase


def user_id(api: Api, email: str) -> str:
    found = users.find_by_email(api.deps, email)
    assert found is not None
    return found.id


@pytest.fixture
def world(api: Api, clock: FixedClock) -> World:
    applicant = api.user("applicant@example.com")
    reviewer = api.user("reviewer@example.com", roles=["reviewer"])
    api.call("POST", "/api/auth/login", {"email": "applicant@example.com", "password": "wrong password here"})
    created = api.call("POST", "/api/applications", {"title": "Audit me", "body": "b"}, token=applicant)
    assert created.status_code == 201, created.text
    clock.advance(minutes=10)  # less than the access-token lifetime
    split = clock.now()
    assert (
        api.call(
            "POST", f"/api/applications/{created.json['id']}/status", {"status": "submitted"}, token=applicant
        ).status_code
        == 200
    )
    api.call("POST", "/api/auth/login", {"email": "nobody@example.com", "password": "whatever it is now"})
    auditor = api.user("auditor@example.com", roles=["auditor"])
    admin = api.user("admin@example.com", roles=["admin"])
    return World(
        api, auditor, admin, applicant, reviewer, user_id(api, "applicant@example.com"), created.json["id"], split
    )


def events_page(world: World, token: str, **params: Any) -> testing.Result:
    return world.api.call("GET", "/api/audit/events", token=token, params=params)


def walk(world: World, token: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(200):
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        result = events_page(world, token, **query)
        assert result.status_code == 200, result.text
        items.extend(result.json["items"])
        cursor = result.json["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging does not end")


def positions(items: list[dict[str, Any]]) -> list[int]:
    return [item["position"] for item in items]


def expected(world: World, keep: Callable[[RecordedEvent], bool]) -> list[int]:
    """The oracle: positions of matching events, read straight from the store."""
    return [e.position for e in world.api.deps.store.read_all() if keep(e)]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def registered(world: World, token: str, email: str) -> dict[str, Any]:
    subject = user_id(world.api, email)
    items = walk(world, token, type="user.registered", subject=subject, limit=200)
    assert len(items) == 1
    return items[0]["data"]


# --- who may read ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["applicant", "reviewer"])
def test_non_auditors_are_forbidden(world: World, who: str) -> None:
    result = events_page(world, getattr(world, who))
    assert result.status_code == 403, result.text
    assert result.json["code"] == "forbidden"


def test_anonymous_is_unauthenticated(world: World) -> None:
    result = world.api.call("GET", "/api/audit/events")
    assert result.status_code == 401
    assert result.json["code"] == "unauthenticated"


# --- order, filters, paging ------------------------------------------------------------


def test_auditor_sees_every_event_in_position_order(world: World) -> None:
    result = events_page(world, world.auditor, limit=200)
    assert result.status_code == 200, result.text
    items = result.json["items"]
    assert positions(items) == expected(world, lambda e: True)
    assert result.json["next_cursor"] is None
    fields = {
        "position",
        "event_id",
        "stream",
        "version",
        "type",
        "occurred_at",
        "actor",
        "ip",
        "request_id",
        "data",
        "hash",
    }
    assert all(fields <= set(item) for item in items)


FILTERS: list[tuple[str, Callable[[World], dict[str, str]], Callable[[World, RecordedEvent], bool]]] = [
    ("type", lambda w: {"type": "auth.login_failed"}, lambda w, e: e.type == "auth.login_failed"),
    (
        "types",
        lambda w: {"type": "auth.login_failed,application.created"},
        lambda w, e: e.type in ("auth.login_failed", "application.created"),
    ),
    ("actor", lambda w: {"actor": w.applicant_id}, lambda w, e: e.actor == w.applicant_id),
    ("actor_anonymous", lambda w: {"actor": "anonymous"}, lambda w, e: e.actor == "anonymous"),
    ("stream", lambda w: {"stream": f"application-{w.app_id}"}, lambda w, e: e.stream == f"application-{w.app_id}"),
    ("subject", lambda w: {"subject": w.applicant_id}, lambda w, e: e.data.get("subject") == w.applicant_id),
    ("since", lambda w: {"since": iso(w.split)}, lambda w, e: e.occurred_at >= w.split),
    ("until", lambda w: {"until": iso(w.split)}, lambda w, e: e.occurred_at < w.split),
    (
        "combined",
        lambda w: {"subject": w.applicant_id, "since": iso(w.split)},
        lambda w, e: e.data.get("subject") == w.applicant_id and e.occurred_at >= w.split,
    ),
]


@pytest.mark.parametrize(("name", "params", "keep"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filters(
    world: World, name: str, params: Callable[[World], dict[str, str]], keep: Callable[[World, RecordedEvent], bool]
) -> None:
    want = expected(world, lambda e: keep(world, e))
    assert want, f"{name}: the fixture should produce matching events"
    assert want != expected(world, lambda e: True), f"{name}: the filter should exclude something"
    got = walk(world, world.auditor, limit=200, **params(world))
    assert positions(got) == want


def test_cursor_paging_walks_everything_once(world: World) -> None:
    everything = expected(world, lambda e: True)
    result = events_page(world, world.auditor, limit=3)
    assert len(result.json["items"]) == 3
    assert result.json["next_cursor"] is not None
    walked = walk(world, world.auditor, limit=3)
    assert positions(walked) == everything


def test_cursor_paging_with_a_filter(world: World) -> None:
    want = expected(world, lambda e: e.data.get("subject") == world.applicant_id)
    assert len(want) > 2
    assert positions(walk(world, world.auditor, limit=2, subject=world.applicant_id)) == want


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "201"}, {"since": "yesterday"}, {"cursor": "!!"}])
def test_bad_query_is_422(world: World, params: dict[str, str]) -> None:
    result = events_page(world, world.auditor, **params)
    assert result.status_code == 422, result.text


# --- PII -------------------------------------------------------------------------------


def test_auditor_sees_pii_decrypted(world: World) -> None:
    data = registered(world, world.auditor, "applicant@example.com")
    assert data["email"] == "applicant@example.com"
    assert data["full_name"] == "Test User"
    stream = walk(world, world.auditor, stream=f"application-{world.app_id}")
    assert stream[0]["data"]["title"] == "Audit me"


def test_admin_sees_pii_redacted(world: World) -> None:
    data = registered(world, world.admin, "applicant@example.com")
    assert data["email"] == REDACTED
    assert data["full_name"] == REDACTED
    stream = walk(world, world.admin, stream=f"application-{world.app_id}")
    assert stream[0]["data"]["title"] == REDACTED
    body = events_page(world, world.admin, limit=200).text
    assert "applicant@example.com" not in body
    assert "Audit me" not in body


@pytest.mark.parametrize("who", ["auditor", "admin"])
def test_secrets_are_never_shown(world: World, who: str) -> None:
    data = registered(world, getattr(world, who), "applicant@example.com")
    for name in SECRETS:
        assert data[name] == REDACTED, name
    body = events_page(world, getattr(world, who), limit=200).text
    assert "$argon2" not in body


@pytest.mark.parametrize("who", ["auditor", "admin"])
def test_session_token_hashes_are_never_shown(world: World, who: str) -> None:
    items = walk(world, getattr(world, who), type="session.started", limit=200)
    assert items
    assert all(item["data"]["refresh_hash"] == REDACTED for item in items)
