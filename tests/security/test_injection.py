"""Checklist: NoSQL operator injection in every JSON field and every list/audit query parameter.

The operations and their fields come from /api/openapi.json, so a new endpoint is
covered (or fails the completeness test) without editing this module. Each
payload goes into one field while every other field holds a valid value, so the
payload is the only reason for the answer.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.conftest import Api
from tests.security.checklist import ADMIN, OTHER, OWNER, PASSWORD, Operation, World, assert_problem, operations
from tests.security.checklist import user_id as id_of

# Structured payloads: anything that is not the declared scalar. A `$` key anywhere is an invalid_key
# (caught while parsing); other shapes are the wrong type for the field.
OPERATOR_PAYLOADS: list[tuple[Any, str]] = [
    ({"$ne": None}, "invalid_key"),
    ({"$gt": ""}, "invalid_key"),
    ({"$where": "1"}, "invalid_key"),
    ({"$regex": ".*"}, "invalid_key"),
    ([{"$ne": None}], "invalid_key"),
    ({"a": {"$in": [1]}}, "invalid_key"),
    ({"nested": {"object": 1}}, "wrong_type"),
]
# Strings that are operators only if someone builds a query or script from text.
# A refusal by the schema (not a business rule such as a wrong password, which is recorded).
SCHEMA_CODES = {
    "invalid_key",
    "wrong_type",
    "too_long",
    "missing",
    "unknown_field",
    "validation_failed",
    "malformed_json",
}
STRING_PAYLOADS = ["'; return true; //", '{"$ne":1}', "$where", "a.b.c", "' || '1'=='1", "\\u0024ne"]

VALID_BODIES: dict[str, dict[str, Any]] = {
    "POST /api/auth/register": {"email": "fresh@example.com", "password": PASSWORD, "full_name": "Fresh"},
    "POST /api/auth/verify-email": {"token": "not-a-real-token"},
    "POST /api/auth/login": {"email": OWNER, "password": PASSWORD},
    "POST /api/auth/refresh": {"refresh_token": "not-a-real-token"},
    "POST /api/auth/password/change": {"current_password": PASSWORD, "new_password": "another long passphrase"},
    "POST /api/auth/password-reset/request": {"email": OWNER},
    "POST /api/auth/password-reset/confirm": {"token": "not-a-real-token", "new_password": "another long passphrase"},
    "POST /api/auth/2fa/enable": {"code": "123456"},
    "POST /api/auth/2fa/disable": {"password": PASSWORD, "code": "123456"},
    "PATCH /api/users/me": {"full_name": "Renamed"},
    "POST /api/dsr/delete": {"password": PASSWORD, "confirm": "DELETE"},
    "PUT /api/consents/{purpose}": {"granted": True},
    "POST /api/applications": {"title": "T", "body": "B"},
    "PATCH /api/applications/{app_id}": {"title": "T", "body": "B"},
    "POST /api/applications/{app_id}/status": {"status": "submitted", "reason": "because"},
    "POST /api/admin/ip-blocks": {"cidr": "203.0.113.0/24", "reason": "r", "expires_at": "2099-01-01T00:00:00Z"},
    "PUT /api/admin/users/{user_id}/roles": {"roles": ["applicant"], "reason": "r"},
    "POST /api/admin/users/{user_id}/disable": {"reason": "r"},
    "POST /api/admin/users/{user_id}/enable": {"reason": "r"},
    "POST /api/admin/users/{user_id}/unlock": {"reason": "r"},
    "POST /api/admin/users/{user_id}/revoke-sessions": {"reason": "r"},
}


def json_operations() -> list[Operation]:
    return [op for op in operations() if op.body is not None]


def _ids(value: Any) -> str:
    return value.name if isinstance(value, Operation) else str(value)


def test_every_json_operation_has_a_valid_body_here() -> None:
    # Completeness: a new JSON endpoint must be added to the table above to be attacked.
    assert {op.name for op in json_operations()} == set(VALID_BODIES)
    for op in json_operations():
        assert set(VALID_BODIES[op.name]) <= set(op.body["properties"]), op.name  # type: ignore[index]


@pytest.fixture
def world(api: Api) -> World:
    return World.build(api)


def send(world: World, op: Operation, field: str, payload: Any) -> Any:
    token = None if op.access == "public" else world.admin if op.path.startswith("/api/admin") else world.owner
    url = op.url(app_id=world.app_id, user_id=id_of(world.api, OTHER))
    return world.api.call(op.method, url, {**VALID_BODIES[op.name], field: payload}, token=token)


@pytest.mark.parametrize("op", json_operations(), ids=_ids)
def test_operator_payloads_are_refused_and_write_nothing(world: World, op: Operation) -> None:
    for field, (payload, code) in itertools.product(op.body["properties"], OPERATOR_PAYLOADS):  # type: ignore[index]
        before = world.api.db_snapshot()
        problem = assert_problem(send(world, op, field, payload), 422, code, f"{op.name} {field}={payload!r}")
        assert problem["errors"][0]["field"] in (field, *payload_keys(payload)), problem
        assert world.api.db_snapshot() == before, f"{op.name} {field}={payload!r} wrote something"


def payload_keys(payload: Any) -> list[str]:
    if isinstance(payload, dict):
        return [k for key, value in payload.items() for k in (key, *payload_keys(value))]
    if isinstance(payload, list):
        return [k for item in payload for k in payload_keys(item)]
    return []


@pytest.mark.parametrize("op", json_operations(), ids=_ids)
def test_operator_strings_are_literals(world: World, op: Operation) -> None:
    for field, payload in itertools.product(op.body["properties"], STRING_PAYLOADS):  # type: ignore[index]
        before = world.api.db_snapshot()
        result = send(world, op, field, payload)
        context = f"{op.name} {field}={payload!r}: {result.status_code} {result.text}"
        assert result.status_code < 500, context
        if result.status_code >= 400 and result.json.get("code") in SCHEMA_CODES:
            assert world.api.db_snapshot() == before, context
        elif result.status_code < 300 and result.text and isinstance(result.json, dict) and field in result.json:
            assert result.json[field] == payload, context  # stored as given, not interpreted


def test_a_string_operator_never_logs_anyone_in(api: Api) -> None:
    api.register(OWNER)
    for payload in STRING_PAYLOADS:
        result = api.call("POST", "/api/auth/login", {"email": OWNER, "password": payload})
        assert_problem(result, 401, "invalid_credentials", payload)


# --------------------------------------------------------------------------- query parameters

QUERY_TARGETS = [
    ("/api/applications", ("status", "owner_id", "cursor", "limit"), "owner"),
    ("/api/applications", ("status", "owner_id", "cursor", "limit"), "reviewer"),
    ("/api/admin/users", ("role", "status", "q", "cursor", "limit"), "admin"),
    ("/api/admin/dsr", ("status",), "admin"),
    ("/api/audit/events", ("type", "actor", "stream", "subject", "since", "until", "cursor", "limit"), "admin"),
    ("/api/audit/events/export", ("type", "actor", "stream", "subject", "since", "until", "cursor"), "admin"),
    ("/api/audit/reports/security", ("since", "until"), "admin"),
]
QUERY_PAYLOADS = ['{"$ne":null}', '{"$gt":""}', "$where", "[$ne]=1", ".*", "'; return true; //", "a.b", "\x00"]


@pytest.mark.parametrize(("path", "names", "who"), QUERY_TARGETS, ids=lambda v: str(v))
def test_query_parameter_operators(world: World, path: str, names: tuple[str, ...], who: str) -> None:
    token = getattr(world, who)
    baseline = world.api.call("GET", path, token=token)
    assert baseline.status_code == 200, baseline.text
    for name, payload in itertools.product(names, QUERY_PAYLOADS):
        before = world.api.db_snapshot()
        result = world.api.call("GET", path, token=token, params={name: payload})
        context = f"{path}?{name}={payload!r}: {result.status_code} {result.text[:300]}"
        assert result.status_code in (200, 422), context
        assert world.api.db_snapshot() == before, context
        if result.status_code == 422:
            problem = assert_problem(result, 422, result.json["code"], context)
            assert problem["code"] in ("validation_failed", f"invalid_{name}"), context
            assert [e["field"] for e in problem["errors"]] == [name], context
        elif path.endswith("/export"):
            assert result.text == "", context  # a literal filter that matches no event
        elif "items" in result.json:
            # Taken literally it matches nothing; as an operator it would have matched everything.
            assert result.json["items"] == [], context


@pytest.mark.parametrize(("path", "names", "who"), QUERY_TARGETS, ids=lambda v: str(v))
def test_bracketed_parameter_names_are_not_operators(world: World, path: str, names: tuple[str, ...], who: str) -> None:
    # PHP/qs-style `status[$ne]=x` must not become {"status": {"$ne": "x"}}: it is an unknown parameter.
    token = getattr(world, who)
    expected = world.api.call("GET", path, token=token)
    for name in names:
        result = world.api.call("GET", path, token=token, query_string=f"{name}[$ne]=zzz")
        assert result.status_code == 200, f"{name}: {result.text}"
        if path.endswith("/export"):
            assert result.text == expected.text, name
        elif "items" in result.json:
            assert result.json["items"] == expected.json["items"], name


def test_admin_id_path_with_operator_text_is_404(world: World) -> None:
    for raw in ('{"$ne":null}', "%24ne", ".*", "..%2F..%2Fusers"):
        result = world.api.call("GET", f"/api/admin/users/{raw}", token=world.admin)
        assert_problem(result, 404, "not_found", raw)
    assert id_of(world.api, ADMIN)
