"""Penetration checklist: CORS. Only ALLOWED_ORIGINS, never reflected, never `null`."""

from __future__ import annotations

import pytest
from falcon import testing

from core.clock import FixedClock
from tests.security.edge import edge_api

ALLOWED = "https://app.example.com"


@pytest.fixture
def client(clock: FixedClock) -> testing.TestClient:
    # "null" and "*" in the setting are dropped by create_app, never honoured.
    return edge_api(clock, allowed_origins=(ALLOWED, "null", "*"), rate_limits=()).client


def preflight(client: testing.TestClient, origin: str) -> testing.Result:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type, Authorization",
    }
    return client.simulate_options("/api/auth/login", headers=headers)


def cors_headers(result: testing.Result) -> dict[str, str]:
    return {k: v for k, v in result.headers.items() if k.lower().startswith("access-control-")}


def test_allowed_origin_preflight_and_actual_request(client: testing.TestClient) -> None:
    result = preflight(client, ALLOWED)
    assert result.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert result.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in result.headers["Access-Control-Allow-Methods"]
    actual = client.simulate_get("/healthz", headers={"Origin": ALLOWED})
    assert actual.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert actual.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in actual.headers.get("Vary", "")


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "null", "https://app.example.com.evil.example", "http://app.example.com", "*"],
)
def test_other_origins_get_no_cors_headers(client: testing.TestClient, origin: str) -> None:
    for result in (preflight(client, origin), client.simulate_get("/healthz", headers={"Origin": origin})):
        assert cors_headers(result) == {}, (origin, cors_headers(result))


def test_errors_for_an_allowed_origin_are_readable_and_others_are_not(client: testing.TestClient) -> None:
    allowed = client.simulate_get("/api/users/me", headers={"Origin": ALLOWED})
    assert allowed.status_code == 401 and allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    other = client.simulate_get("/api/users/me", headers={"Origin": "https://evil.example"})
    assert other.status_code == 401 and cors_headers(other) == {}


def test_no_origins_configured_means_no_cors_at_all(clock: FixedClock) -> None:
    client = edge_api(clock).client
    assert cors_headers(preflight(client, ALLOWED)) == {}
