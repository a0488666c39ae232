"""Structured logs: one JSON object a line, the request id the client saw on every
line of a request, security events at warning, 5xx at error, and never a password,
token or raw e-mail address."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import mongomock
import pytest

from core.clock import FixedClock
from core.logs import JsonFormatter
from events.memory import InMemoryEventStore
from services.deps import Deps
from tests.conftest import Api, make_settings

EMAIL = "ada.lovelace@example.com"
PASSWORD = "analytical engine notes 1843"
WRONG = "difference engine guess 1822"


class Lines:
    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    @property
    def raw(self) -> str:
        return self._stream.getvalue()

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.raw.splitlines() if line.strip()]

    def where(self, **match: Any) -> list[dict[str, Any]]:
        return [e for e in self.all() if all(e.get(k) == v for k, v in match.items())]


@pytest.fixture
def limited_api(clock: FixedClock) -> Api:
    """SPEC §6 rate limits switched on (the shared fixtures turn them off)."""
    settings = make_settings(rate_limits=())
    db = mongomock.MongoClient(tz_aware=True)["warden_test"]
    deps = Deps.build(settings, db, InMemoryEventStore(clock), clock)
    deps.ensure_schema()
    return Api(deps)


@pytest.fixture
def lines() -> Iterator[Lines]:
    """The production formatter on a handler of the root logger, as `warden serve` writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield Lines(stream)
    root.removeHandler(handler)
    root.setLevel(old_level)


def login(api: Api, password: str, request_id: str) -> Any:
    return api.call(
        "POST", "/api/auth/login", {"email": EMAIL, "password": password}, headers={"X-Request-ID": request_id}
    )


def test_access_line_has_the_documented_fields(api: Api, lines: Lines) -> None:
    api.register(EMAIL, PASSWORD)
    token = api.login(EMAIL, PASSWORD)["access_token"]
    result = api.call("GET", "/api/users/me", token=token, headers={"X-Request-ID": "req-me-1"})
    assert result.status_code == 200
    [entry] = lines.where(logger="warden.access", request_id="req-me-1")
    assert entry["level"] == "info"
    assert entry["route"] == "/api/users/me"
    assert entry["status"] == 200
    assert entry["method"] == "GET"
    assert isinstance(entry["latency_ms"], int | float)
    assert entry["user_id"] == result.json["id"]
    assert entry["time"].endswith("+00:00")


def test_failed_logins_lockout_and_rate_limit_are_warnings(limited_api: Api, lines: Lines) -> None:
    api = limited_api
    api.register(EMAIL, PASSWORD)
    statuses = [login(api, WRONG, f"req-fail-{n}").status_code for n in range(1, 8)]
    assert statuses[:5] == [401] * 5
    assert 429 in statuses[5:], statuses

    failed = lines.where(message="login failed", request_id="req-fail-1")
    assert failed and failed[0]["level"] == "warning"
    locked = lines.where(message="account locked", request_id="req-fail-5")
    assert locked and locked[0]["level"] == "warning"
    limited_id = f"req-fail-{6 + statuses[5:].index(429)}"
    [limited] = lines.where(logger="warden.access", request_id=limited_id)
    assert limited["status"] == 429
    assert limited["level"] == "warning"

    for secret in (PASSWORD, WRONG, EMAIL, EMAIL.split("@")[0]):
        assert secret not in lines.raw


def test_5xx_logs_error_with_the_request_id_the_client_saw(api: Api, lines: Lines) -> None:
    api.register(EMAIL, PASSWORD)
    tokens = api.login(EMAIL, PASSWORD)

    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError(f"store down while serving {EMAIL} with Bearer {tokens['access_token']}")

    api.deps.store = Broken()  # type: ignore[assignment]
    result = api.call("POST", "/api/auth/login", {"email": EMAIL, "password": PASSWORD})

    assert result.status_code == 500
    seen = result.headers["X-Request-ID"]
    errors = [e for e in lines.where(request_id=seen) if e["level"] == "error"]
    assert {e["logger"] for e in errors} >= {"warden.access", "api.errors"}
    assert any("RuntimeError" in e.get("exception", "") for e in errors)
    for secret in (PASSWORD, EMAIL, tokens["access_token"], tokens["refresh_token"]):
        assert secret not in lines.raw


def test_request_id_does_not_leak_into_the_next_request(api: Api, lines: Lines) -> None:
    assert api.call("GET", "/healthz", headers={"X-Request-ID": "first-one"}).status_code == 200
    logging.getLogger("tests.after").info("outside any request")
    [after] = lines.where(logger="tests.after")
    assert "request_id" not in after
