"""SPEC §6: bad input gets a clear 4xx problem+json with a stable code and changes nothing.

Every rejection test snapshots the database (read models and the event log)
before and after the request and asserts they are equal. The positive controls
at the top prove the snapshot does see writes and that the valid bodies the
bad ones are derived from are accepted, so each rejection is due to the input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from falcon import testing

from api.app import create_app
from tests.conftest import Api, make_settings

PROBLEM = "application/problem+json"
ONE_MIB = 1024 * 1024  # SPEC §6; deliberately not imported from api.validation
SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
OWNER = "owner@example.com"


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    path: str
    valid: dict[str, Any]
    string_field: str
    limits: dict[str, int] = field(default_factory=dict)
    authenticated: bool = True


TARGETS = [
    Target(
        "register",
        "POST",
        "/api/auth/register",
        {"email": "newcomer@example.com", "password": "correct horse battery staple", "full_name": "New Comer"},
        "email",
        {"email": 254, "password": 1024, "full_name": 200, "website": 200},
        authenticated=False,
    ),
    Target(
        "create_application",
        "POST",
        "/api/applications",
        {"title": "Grant", "body": "Please"},
        "title",
        {"title": 200, "body": 20000},
    ),
    Target("patch_me", "PATCH", "/api/users/me", {"full_name": "Renamed Person"}, "full_name", {"full_name": 200}),
    Target(
        "change_status",
        "POST",
        "/api/applications/{app_id}/status",
        {"status": "submitted"},
        "status",
        {"status": 32, "reason": 2000},
    ),
]
LIMITS = [(t, name, limit) for t in TARGETS for name, limit in t.limits.items()]


def _ids(value: Any) -> str:
    return value.name if isinstance(value, Target) else str(value)


@dataclass
class Env:
    api: Api
    token: str
    app_id: str

    def send(self, target: Target, body: Any, **kw: Any) -> testing.Result:
        path = target.path.format(app_id=self.app_id)
        return self.api.call(target.method, path, body, token=self.token if target.authenticated else None, **kw)


@pytest.fixture
def env(api: Api) -> Env:
    token = api.user(OWNER)
    created = api.call("POST", "/api/applications", {"title": "Existing", "body": "text"}, token=token)
    assert created.status_code == 201, created.text
    return Env(api, token, created.json["id"])


def assert_security_headers(result: testing.Result) -> None:
    headers = result.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert headers.get("X-Frame-Options") == "DENY"
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") == "no-referrer"
    assert headers.get("Permissions-Policy")
    assert SANE_ID.match(headers.get("X-Request-ID", ""))


def assert_no_leak(result: testing.Result) -> None:
    for needle in ("Traceback", "pymongo", "mongomock", 'File "', "bson"):
        assert needle not in result.text


def assert_problem(result: testing.Result, status: int, code: str) -> dict[str, Any]:
    assert result.status_code == status, result.text
    assert result.headers.get("Content-Type", "").split(";")[0].strip() == PROBLEM
    problem = result.json
    assert problem["code"] == code, problem
    assert problem["status"] == status
    assert {"type", "title", "detail"} <= set(problem)
    assert_no_leak(result)
    assert_security_headers(result)
    return problem


def expect_rejected(env: Env, target: Target, body: Any, status: int, code: str, **kw: Any) -> dict[str, Any]:
    before = env.api.db_snapshot()
    result = env.send(target, body, **kw)
    problem = assert_problem(result, status, code)
    assert env.api.db_snapshot() == before
    return problem


# --------------------------------------------------------------------------- positive controls


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_valid_body_is_accepted_and_writes(env: Env, target: Target) -> None:
    before = env.api.db_snapshot()
    result = env.send(target, target.valid)
    assert 200 <= result.status_code < 300, result.text
    assert result.headers["Content-Type"].startswith("application/json")
    assert env.api.db_snapshot() != before


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_json_with_charset_parameter_is_accepted(env: Env, target: Target) -> None:
    result = env.send(target, target.valid, headers={"Content-Type": "application/json; charset=utf-8"})
    assert 200 <= result.status_code < 300, result.text


@pytest.mark.parametrize(("target", "name", "limit"), LIMITS, ids=_ids)
def test_string_at_max_length_passes_validation(env: Env, target: Target, name: str, limit: int) -> None:
    result = env.send(target, {**target.valid, name: "a" * limit})
    # May still fail a business rule (a 1024-char password is weak_password), but never the schema's too_long.
    assert result.status_code < 400 or result.json["code"] != "too_long", result.text


# --------------------------------------------------------------------------- schema: fields and types


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_unknown_field(env: Env, target: Target) -> None:
    problem = expect_rejected(env, target, {**target.valid, "is_admin": True}, 422, "unknown_field")
    assert problem["errors"] == [{"field": "is_admin", "code": "unknown_field"}]


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
@pytest.mark.parametrize("value", [True, False, 12345, 1.5, [], ["a"], {}, {"a": "b"}], ids=repr)
def test_wrong_type_in_string_field(env: Env, target: Target, value: Any) -> None:
    problem = expect_rejected(env, target, {**target.valid, target.string_field: value}, 422, "wrong_type")
    assert problem["errors"] == [{"field": target.string_field, "code": "wrong_type"}]


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
@pytest.mark.parametrize("body", ["[]", "[{}]", '"text"', "42", "true", "null"])
def test_body_that_is_not_an_object(env: Env, target: Target, body: str) -> None:
    expect_rejected(env, target, body, 422, "wrong_type")


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_missing_required_field(env: Env, target: Target) -> None:
    body = {k: v for k, v in target.valid.items() if k != target.string_field}
    problem = expect_rejected(env, target, body, 422, "missing")
    assert problem["errors"] == [{"field": target.string_field, "code": "missing"}]


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_null_in_required_field(env: Env, target: Target) -> None:
    expect_rejected(env, target, {**target.valid, target.string_field: None}, 422, "missing")


@pytest.mark.parametrize(("target", "name", "limit"), LIMITS, ids=_ids)
def test_over_long_string(env: Env, target: Target, name: str, limit: int) -> None:
    problem = expect_rejected(env, target, {**target.valid, name: "a" * (limit + 1)}, 422, "too_long")
    assert problem["errors"] == [{"field": name, "code": "too_long"}]


# --------------------------------------------------------------------------- NoSQL operator injection


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
@pytest.mark.parametrize("operator", ["$ne", "$gt", "$regex", "$where", "$expr"])
def test_operator_object_in_string_field(env: Env, target: Target, operator: str) -> None:
    # The key check runs while parsing, so a nested operator is an invalid key, not merely a wrong type.
    body = {**target.valid, target.string_field: {operator: None}}
    problem = expect_rejected(env, target, body, 422, "invalid_key")
    assert problem["errors"] == [{"field": operator, "code": "invalid_key"}]


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_top_level_where(env: Env, target: Target) -> None:
    problem = expect_rejected(env, target, {**target.valid, "$where": "sleep(1000) || true"}, 422, "invalid_key")
    assert problem["errors"] == [{"field": "$where", "code": "invalid_key"}]


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_operator_deep_inside_a_list(env: Env, target: Target) -> None:
    body = {**target.valid, target.string_field: [1, {"x": [{"$gt": ""}]}]}
    expect_rejected(env, target, body, 422, "invalid_key")


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
@pytest.mark.parametrize("key", ["a.b", "roles.0", ".", "status."])
def test_dotted_top_level_key(env: Env, target: Target, key: str) -> None:
    problem = expect_rejected(env, target, {**target.valid, key: "x"}, 422, "invalid_key")
    assert problem["errors"] == [{"field": key, "code": "invalid_key"}]


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_dotted_nested_key(env: Env, target: Target) -> None:
    expect_rejected(
        env, target, {**target.valid, target.string_field: {"profile.roles": ["admin"]}}, 422, "invalid_key"
    )


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_nul_in_key(env: Env, target: Target) -> None:
    expect_rejected(env, target, {**target.valid, "a\x00b": "x"}, 422, "invalid_key")


def test_login_with_operator_email_is_invalid_key(env: Env) -> None:
    login = Target("login", "POST", "/api/auth/login", {}, "email", authenticated=False)
    body = {"email": {"$ne": None}, "password": {"$ne": None}}
    expect_rejected(env, login, body, 422, "invalid_key")


# --------------------------------------------------------------------------- size, nesting, encoding


def _raw(target: Target, value: bytes) -> bytes:
    """The valid body with its string field replaced by raw JSON text (or raw bytes)."""
    others = {k: v for k, v in target.valid.items() if k != target.string_field}
    head = json.dumps(others).encode()[:-1] + (b", " if others else b"")
    return head + b'"' + target.string_field.encode() + b'": ' + value + b"}"


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_body_over_one_mebibyte(env: Env, target: Target) -> None:
    raw = _raw(target, b'"' + b"a" * ONE_MIB + b'"')
    expect_rejected(env, target, raw, 413, "payload_too_large")


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_body_of_exactly_one_mebibyte_is_not_too_large(env: Env, target: Target) -> None:
    padding = ONE_MIB - len(_raw(target, b'""'))
    raw = _raw(target, b'"' + b"a" * padding + b'"')
    assert len(raw) == ONE_MIB
    expect_rejected(env, target, raw, 422, "too_long")


def _nested(target: Target, arrays: int) -> bytes:
    # The body object is depth 1, so `arrays` nested arrays reach depth arrays + 1.
    return _raw(target, b"[" * arrays + b"]" * arrays)


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_nesting_of_32_is_parsed(env: Env, target: Target) -> None:
    expect_rejected(env, target, _nested(target, 31), 422, "wrong_type")


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
@pytest.mark.parametrize("arrays", [32, 100, 100_000])
def test_nesting_deeper_than_32(env: Env, target: Target, arrays: int) -> None:
    expect_rejected(env, target, _nested(target, arrays), 400, "malformed_json")


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_deep_nesting_of_objects(env: Env, target: Target) -> None:
    raw = _raw(target, b'{"a": ' * 40 + b"1" + b"}" * 40)
    expect_rejected(env, target, raw, 400, "malformed_json")


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_duplicate_keys(env: Env, target: Target) -> None:
    name = target.string_field
    raw = '{"' + name + '": "first", "' + name + '": "second"}'
    expect_rejected(env, target, raw, 400, "malformed_json")


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_duplicate_nested_keys(env: Env, target: Target) -> None:
    raw = _raw(target, b'{"a": 1, "a": 2}')
    expect_rejected(env, target, raw, 400, "malformed_json")


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
@pytest.mark.parametrize("bad", [b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf"], ids=repr)
def test_invalid_utf8(env: Env, target: Target, bad: bytes) -> None:
    raw = _raw(target, b'"' + bad + b'"')
    expect_rejected(env, target, raw, 400, "malformed_json")


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers(env: Env, target: Target, constant: str) -> None:
    raw = _raw(target, constant.encode())
    expect_rejected(env, target, raw, 400, "malformed_json")


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
@pytest.mark.parametrize(
    "raw", ['{"title": ', "{'title': 'x'}", "{", "", "   ", '{"a": 1} {"b": 2}', "undefined", '{"a": 1,}'], ids=repr
)
def test_malformed_json(env: Env, target: Target, raw: str) -> None:
    expect_rejected(env, target, raw, 400, "malformed_json")


# --------------------------------------------------------------------------- media type


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
@pytest.mark.parametrize(
    "media",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/jsonp", "text/json"],
)
def test_wrong_content_type(env: Env, target: Target, media: str) -> None:
    expect_rejected(
        env, target, json.dumps(target.valid), 415, "unsupported_media_type", headers={"Content-Type": media}
    )


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
def test_missing_content_type(env: Env, target: Target) -> None:
    before = env.api.db_snapshot()
    headers = {"Authorization": f"Bearer {env.token}"} if target.authenticated else {}
    result = env.api.client.simulate_request(
        target.method, target.path.format(app_id=env.app_id), body=json.dumps(target.valid), headers=headers
    )
    assert_problem(result, 415, "unsupported_media_type")
    assert env.api.db_snapshot() == before


# --------------------------------------------------------------------------- privilege fields


def _me(env: Env) -> dict[str, Any]:
    result = env.api.call("GET", "/api/users/me", token=env.token)
    assert result.status_code == 200, result.text
    return result.json


def test_patch_me_cannot_set_roles(env: Env) -> None:
    target = TARGETS[2]
    problem = expect_rejected(env, target, {"roles": ["admin"]}, 422, "unknown_field")
    assert problem["errors"] == [{"field": "roles", "code": "unknown_field"}]
    assert _me(env)["roles"] == ["applicant"]


def test_patch_me_with_roles_alongside_name_changes_nothing(env: Env) -> None:
    target = TARGETS[2]
    name_before = _me(env)["full_name"]
    expect_rejected(env, target, {"full_name": "Mallory", "roles": ["admin"]}, 422, "unknown_field")
    me = _me(env)
    assert me["roles"] == ["applicant"]
    assert me["full_name"] == name_before


@pytest.mark.parametrize("name", ["email", "email_verified", "status", "id", "totp_enabled"])
def test_patch_me_rejects_other_account_fields(env: Env, name: str) -> None:
    problem = expect_rejected(env, TARGETS[2], {"full_name": "x", name: "y"}, 422, "unknown_field")
    assert problem["errors"] == [{"field": name, "code": "unknown_field"}]


@pytest.mark.parametrize("extra", [{"roles": ["admin"]}, {"role": "admin"}, {"email_verified": True}])
def test_register_cannot_set_privileges(env: Env, extra: dict[str, Any]) -> None:
    expect_rejected(env, TARGETS[0], {**TARGETS[0].valid, **extra}, 422, "unknown_field")


def test_create_application_cannot_set_owner_or_status(env: Env) -> None:
    body = {**TARGETS[1].valid, "owner_id": "someone-else", "status": "approved"}
    problem = expect_rejected(env, TARGETS[1], body, 422, "unknown_field")
    assert problem["errors"] == [
        {"field": "owner_id", "code": "unknown_field"},
        {"field": "status", "code": "unknown_field"},
    ]


# --------------------------------------------------------------------------- output


def test_markup_is_stored_as_given_and_served_as_json(env: Env) -> None:
    title = "<script>alert(1)</script>"
    result = env.api.call(
        "POST", "/api/applications", {"title": title, "body": "<img src=x onerror=alert(1)>"}, token=env.token
    )
    assert result.status_code == 201, result.text
    assert result.headers["Content-Type"].startswith("application/json")
    fetched = env.api.call("GET", f"/api/applications/{result.json['id']}", token=env.token)
    assert fetched.json["title"] == title
    assert fetched.headers["Content-Type"].startswith("application/json")


# --------------------------------------------------------------------------- headers on every response


def test_security_headers_on_unknown_path(api: Api) -> None:
    result = api.call("GET", "/api/definitely-not-here")
    assert_problem(result, 404, "not_found")


def test_security_headers_on_unknown_path_outside_api(api: Api) -> None:
    assert_problem(api.call("GET", "/wp-admin/setup.php"), 404, "not_found")


def test_security_headers_on_success(api: Api) -> None:
    result = api.call("GET", "/healthz")
    assert result.status_code == 200
    assert_security_headers(result)


def test_security_headers_on_unauthenticated(api: Api) -> None:
    result = api.call("GET", "/api/users/me")
    assert_problem(result, 401, "unauthenticated")


def test_security_headers_on_bad_token(api: Api) -> None:
    assert_problem(api.call("GET", "/api/users/me", token="not-a-jwt"), 401, "unauthenticated")


def test_authenticated_answer_is_not_cached(env: Env) -> None:
    result = env.api.call("GET", "/api/users/me", token=env.token)
    assert result.status_code == 200
    assert_security_headers(result)
    assert "no-store" in result.headers.get("Cache-Control", "")


def test_hsts_in_production(deps: Any) -> None:
    settings = make_settings(app_env="production")
    client = testing.TestClient(create_app(settings, deps))
    for path in ("/healthz", "/api/nope"):
        result = client.simulate_get(path, headers={"X-Forwarded-Proto": "https"})
        hsts = result.headers.get("Strict-Transport-Security", "")
        assert "max-age=" in hsts
        assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000


# --------------------------------------------------------------------------- X-Request-ID


@pytest.mark.parametrize("given", ["abc-123", "req.2026:01_A", "a" * 64, "550e8400-e29b-41d4-a716-446655440000"])
@pytest.mark.parametrize("path", ["/healthz", "/api/nope"])
def test_sane_request_id_is_echoed(api: Api, given: str, path: str) -> None:
    result = api.call("GET", path, headers={"X-Request-ID": given})
    assert result.headers["X-Request-ID"] == given


@pytest.mark.parametrize(
    "given",
    ["a" * 65, "a" * 200, "has spaces in it", "semi;colon", "<script>", 'quote"d', "ünïcode", "a/b", "x\ty"],
    ids=repr,
)
@pytest.mark.parametrize("path", ["/healthz", "/api/nope"])
def test_insane_request_id_is_replaced(api: Api, given: str, path: str) -> None:
    result = api.call("GET", path, headers={"X-Request-ID": given})
    echoed = result.headers["X-Request-ID"]
    assert echoed != given
    assert SANE_ID.match(echoed)


def test_request_id_generated_when_absent(api: Api) -> None:
    first = api.call("GET", "/healthz").headers["X-Request-ID"]
    second = api.call("GET", "/healthz").headers["X-Request-ID"]
    assert SANE_ID.match(first)
    assert first != second


def test_request_id_on_validation_error(env: Env) -> None:
    result = env.send(TARGETS[1], "{", headers={"X-Request-ID": "trace-me-1"})
    assert_problem(result, 400, "malformed_json")
    assert result.headers["X-Request-ID"] == "trace-me-1"
