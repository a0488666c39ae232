"""Checklist: cross-site scripting and header injection. Markup stored in every free-text
field comes back byte-exact inside JSON (never HTML-escaped, never served as HTML), every
response carries the CSP and nosniff headers, and no input reaches a response header."""

from __future__ import annotations

import json
from typing import Any

import pytest
from falcon import testing

from tests.conftest import Api
from tests.security.checklist import PASSWORD, REVIEWER, assert_problem
from tests.security.test_file_upload import png

JSON = "application/json; charset=utf-8"
CSP = "default-src 'none'; frame-ancestors 'none'"
PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "</title><svg/onload=alert(1)>",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",  # JSON-style escapes as literal text
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",  # fullwidth angle brackets
    "x\u2028y\u2029<b>\u202eevil</b> \U0001f600",  # JS line separators, RTL override, astral plane
]


def assert_json_with_payload(result: testing.Result, payload: str, value: Any, context: str = "") -> None:
    """The answer is JSON, carries the value unchanged, and has the protective headers."""
    assert result.headers.get("Content-Type") == JSON, f"{context}: {result.headers.get('Content-Type')}"
    assert "html" not in result.headers.get("Content-Type", "")
    assert value == payload, context
    # Byte-exact: the JSON string encoding of the payload is in the body, not an HTML-escaped form.
    encodings = {json.dumps(payload)[1:-1].encode(), json.dumps(payload, ensure_ascii=False)[1:-1].encode()}
    assert any(enc in result.content for enc in encodings), context
    for escaped in (b"&lt;", b"&gt;", b"&quot;", b"&#"):
        assert escaped not in result.content, context
    assert_protective_headers(result, context)
    assert_not_in_headers(result, payload, context)


def assert_protective_headers(result: testing.Result, context: str = "") -> None:
    assert result.headers.get("Content-Security-Policy") == CSP, context
    assert result.headers.get("X-Content-Type-Options") == "nosniff", context


def assert_not_in_headers(result: testing.Result, payload: str, context: str = "") -> None:
    for name, value in result.headers.items():
        for needle in (payload, "alert(1)", "onerror", "onload", "<script"):
            assert needle not in value, f"{context}: {name}: {value}"


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_full_name_from_register_and_patch_is_returned_verbatim(api: Api, payload: str) -> None:
    registered = api.call(
        "POST", "/api/auth/register", {"email": "xss@example.com", "password": PASSWORD, "full_name": payload}
    )
    assert registered.status_code in (201, 202), registered.text
    assert_protective_headers(registered, "register")
    assert_not_in_headers(registered, payload, "register")
    if api.deps.settings.require_email_verification:
        verified = api.call("POST", "/api/auth/verify-email", {"token": api.outbox_token("xss@example.com")})
        assert verified.status_code == 204, verified.text
    login = api.call("POST", "/api/auth/login", {"email": "xss@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.text
    assert_json_with_payload(login, payload, login.json["user"]["full_name"], "login")
    token = login.json["access_token"]
    me = api.call("GET", "/api/users/me", token=token)
    assert_json_with_payload(me, payload, me.json["full_name"], "GET /me after register")

    # PATCH to another payload and back: both directions keep every byte.
    other = PAYLOADS[(PAYLOADS.index(payload) + 1) % len(PAYLOADS)]
    for value in (other, payload):
        patched = api.call("PATCH", "/api/users/me", {"full_name": value}, token=token)
        assert patched.status_code == 200, patched.text
        assert_json_with_payload(patched, value, patched.json["full_name"], "PATCH /me")
        me = api.call("GET", "/api/users/me", token=token)
        assert_json_with_payload(me, value, me.json["full_name"], "GET /me after PATCH")

    export = api.call("GET", "/api/dsr/export", token=token)
    assert export.status_code == 200, export.text
    assert export.headers["Content-Type"].split(";")[0] == "application/json"
    assert export.json["subject"]["full_name"] == payload
    assert_protective_headers(export, "export")
    assert_not_in_headers(export, payload, "export")


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_application_title_body_and_reason_are_returned_verbatim(api: Api, payload: str) -> None:
    owner = api.user("owner@example.com")
    reviewer = api.user(REVIEWER, ["reviewer"])
    created = api.call("POST", "/api/applications", {"title": payload, "body": payload + payload}, token=owner)
    assert created.status_code == 201, created.text
    assert_json_with_payload(created, payload, created.json["title"], "create title")
    assert_json_with_payload(created, payload + payload, created.json["body"], "create body")
    item = f"/api/applications/{created.json['id']}"

    patched = api.call("PATCH", item, {"title": payload + "!", "body": payload}, token=owner)
    assert patched.status_code == 200, patched.text
    assert_json_with_payload(patched, payload + "!", patched.json["title"], "patch title")
    assert_json_with_payload(patched, payload, patched.json["body"], "patch body")

    for status, token in (("submitted", owner), ("under_review", reviewer)):
        moved = api.call("POST", f"{item}/status", {"status": status}, token=token)
        assert moved.status_code == 200, moved.text
    rejected = api.call("POST", f"{item}/status", {"status": "rejected", "reason": payload}, token=reviewer)
    assert rejected.status_code == 200, rejected.text
    assert_json_with_payload(rejected, payload, rejected.json["reason"], "reject reason")

    for token in (owner, reviewer):
        fetched = api.call("GET", item, token=token)
        assert_json_with_payload(fetched, payload, fetched.json["reason"], "GET reason")
        assert fetched.json["title"] == payload + "!" and fetched.json["body"] == payload
        listed = api.call("GET", "/api/applications", token=token)
        assert_json_with_payload(listed, payload + "!", listed.json["items"][0]["title"], "list title")


def test_problem_answers_never_reflect_markup_as_html(api: Api) -> None:
    # A validation failure and a 404 carrying markup in the path: still problem+json, CSP and nosniff.
    token = api.user("owner@example.com")
    for payload in PAYLOADS[:4]:
        before = api.db_snapshot()
        bad = api.call("PATCH", "/api/users/me", {"full_name": payload, payload: 1}, token=token)
        assert_problem(bad, 422, "unknown_field", payload)
        assert "html" not in bad.headers["Content-Type"]
        assert_protective_headers(bad, payload)
        assert_not_in_headers(bad, payload, payload)
        assert api.db_snapshot() == before
        missing = api.call("GET", "/api/applications/" + payload.replace("/", "_"), token=token)
        assert_problem(missing, 404, "not_found", payload)
        assert_protective_headers(missing, payload)
        assert_not_in_headers(missing, payload, payload)


@pytest.mark.parametrize(
    "given",
    [
        "abc\r\nSet-Cookie: evil=1",
        "abc\nX-Injected: 1",
        "abc\rX-Injected: 1",
        "abc%0d%0aX-Injected:%201",
        "abc\r\n\r\n<script>alert(1)</script>",
    ],
    ids=repr,
)
def test_crlf_in_request_id_never_adds_a_header(api: Api, given: str) -> None:
    baseline = api.call("GET", "/healthz", headers={"X-Request-ID": "plain-id"})
    result = api.call("GET", "/healthz", headers={"X-Request-ID": given})
    assert result.status_code == 200
    echoed = result.headers["X-Request-ID"]
    assert echoed != given and not any(ch in echoed for ch in "\r\n%: <>")
    assert sorted(result.headers) == sorted(baseline.headers)
    assert "set-cookie" not in {name.lower() for name in result.headers}
    assert "x-injected" not in {name.lower() for name in result.headers}
    assert_protective_headers(result)


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ('a"; filename="evil.html', "a_ filename_evil.png"),
        ("a\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>.png", "script.png"),
        ("a\rb\nc.png", "a_b_c.png"),
        ("</title><svg/onload=alert(1)>.png", "onload_alert(1).png"),
        ('"><img src=x onerror=alert(1)>.png', "img src_x onerror_alert(1).png"),
    ],
    ids=repr,
)
def test_attachment_filename_cannot_break_content_disposition(api: Api, filename: str, expected: str) -> None:
    owner = api.user("owner@example.com")
    app_id = api.call("POST", "/api/applications", {"title": "Files", "body": ""}, token=owner).json["id"]
    path = f"/api/applications/{app_id}/attachments"
    headers = {"Content-Type": "image/png", "X-Filename": filename}
    uploaded = api.call("POST", path, png(), token=owner, headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    stored = uploaded.json["filename"]
    assert stored == expected  # the type's extension, no CR/LF, quotes, separators or angle brackets

    fetched = api.call("GET", f"{path}/{uploaded.json['id']}", token=owner)
    assert fetched.status_code == 200 and fetched.content == png()
    assert fetched.headers["Content-Type"] == "image/png"
    disposition = fetched.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="{stored}"'
    assert disposition.count('"') == 2 and not any(ch in disposition for ch in "\r\n<>")
    assert "html" not in fetched.headers["Content-Type"]
    assert not {"set-cookie", "x-injected"} & {name.lower() for name in fetched.headers}
    assert_protective_headers(fetched, filename)
