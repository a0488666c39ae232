"""Bugs found and fixed: each test failed before its fix."""
from __future__ import annotations

from tests.conftest import Api


def test_unsupported_method_on_a_known_route_is_405_not_403(api: Api) -> None:
    result = api.call("DELETE", "/api/users/me")
    assert result.status_code == 405
    assert result.headers["content-type"] == "application/problem+json"
    assert result.json["code"] == "method_not_allowed"
    assert "PATCH" in result.headers["allow"]


def test_registration_trims_the_email_as_normalization_says(api: Api) -> None:
    result = api.call(
        "POST",
        "/api/auth/register",
        {"email": "  trim.me@example.com ", "password": "correct horse battery staple", "full_name": "T"},
    )
    assert result.status_code == 202
    token = api.outbox_token("trim.me@example.com")
    assert api.call("POST", "/api/auth/verify-email", {"token": token}).status_code == 204
    assert api.login("trim.me@example.com")["user"]["email"] == "trim.me@example.com"
