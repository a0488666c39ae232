"""Regression: a cursor past BSON int64 was a 500 over the wire (mongomock never saw it)."""

from __future__ import annotations

import base64

import pytest

from services.deps import Deps
from tests.conftest import Api

pytestmark = pytest.mark.integration

HUGE = base64.urlsafe_b64encode(b"p9223372036854775808").decode().rstrip("=")


@pytest.mark.parametrize("path", ["/api/applications", "/api/audit/events", "/api/audit/checkpoints"])
def test_cursor_beyond_int64_is_422_not_500(wire_deps: Deps, path: str) -> None:
    api = Api(wire_deps)
    token = api.user("cursor.auditor@example.com", ["auditor"]) if "audit" in path else api.user("c@example.com")
    result = api.call("GET", path, token=token, params={"cursor": HUGE})
    assert result.status_code == 422, result.text
    assert result.json["errors"] == [{"field": "cursor", "code": "invalid"}]
