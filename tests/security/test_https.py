"""Penetration checklist: HTTPS enforcement and HSTS (production, behind a trusted proxy)."""

from __future__ import annotations

import pytest
from falcon import testing

from core.clock import FixedClock
from tests.security.edge import edge_api
from tests.security.test_input import assert_problem

PROXY = "10.0.0.2"


@pytest.fixture
def production(clock: FixedClock) -> testing.TestClient:
    return edge_api(clock, app_env="production", trusted_proxy_count=1, public_base_url="https://warden.example").client


def via_proxy(proto: str, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-Proto": proto, "X-Forwarded-For": "198.51.100.1", **headers}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_plain_http_reads_are_redirected_to_the_public_https_url(production: testing.TestClient, method: str) -> None:
    result = production.simulate_request(
        method,
        "/api/applications",
        query_string="limit=5",
        headers=via_proxy("http", Host="evil.example"),
        remote_addr=PROXY,
    )
    assert result.status_code == 308
    # Built from PUBLIC_BASE_URL, never from the Host header: no open redirect.
    assert result.headers["Location"] == "https://warden.example/api/applications?limit=5"
    assert "max-age=" in result.headers["Strict-Transport-Security"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_plain_http_writes_are_refused(production: testing.TestClient, method: str) -> None:
    result = production.simulate_request(
        method,
        "/api/auth/login",
        json={"email": "a@example.com", "password": "x"},
        headers=via_proxy("http"),
        remote_addr=PROXY,
    )
    assert_problem(result, 403, "https_required")


def test_https_through_the_proxy_is_served(production: testing.TestClient) -> None:
    result = production.simulate_get("/readyz", headers=via_proxy("https"), remote_addr=PROXY)
    assert result.status_code == 200
    assert "max-age=" in result.headers["Strict-Transport-Security"]


def test_only_the_trusted_proxys_entry_counts(production: testing.TestClient) -> None:
    # The client prepends "https"; the proxy appends what it saw: http. The proxy wins.
    result = production.simulate_get("/readyz", headers=via_proxy("https, http"), remote_addr=PROXY)
    assert result.status_code == 308
    result = production.simulate_get("/readyz", headers=via_proxy("http, https"), remote_addr=PROXY)
    assert result.status_code == 200


def test_liveness_is_exempt(production: testing.TestClient) -> None:
    # Platform probes reach the container directly over http.
    assert production.simulate_get("/healthz", headers=via_proxy("http"), remote_addr=PROXY).status_code == 200


def test_without_a_trusted_proxy_the_header_proves_nothing(clock: FixedClock) -> None:
    api = edge_api(clock, app_env="production", trusted_proxy_count=0, public_base_url="https://warden.example")
    assert api.client.simulate_get("/readyz", headers={"X-Forwarded-Proto": "http"}).status_code == 200


@pytest.mark.parametrize("env", ["development", "test"])
def test_not_enforced_and_no_hsts_outside_production(clock: FixedClock, env: str) -> None:
    api = edge_api(clock, app_env=env, trusted_proxy_count=1)
    result = api.client.simulate_get("/readyz", headers=via_proxy("http"), remote_addr=PROXY)
    assert result.status_code == 200
    assert "Strict-Transport-Security" not in result.headers
