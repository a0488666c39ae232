"""Penetration checklist: rate limits (SPEC §6), with the production defaults switched on.

Over HTTP on mongomock with a FixedClock for the window logic; the counters'
atomicity and TTL index over the wire; 4 gunicorn workers in
tests/e2e/test_ratelimit_gunicorn.py.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.clock import FixedClock
from core.errors import RateLimited
from core.ratelimits import DEFAULT_LIMITS, policy
from core.settings import ConfigError, Settings, new_encryption_key, new_secret
from events.types import EventType as T
from services import ratelimit
from services.deps import Deps
from tests.conftest import Api, make_settings
from tests.security.edge import edge_api, events_of, future_clock
from tests.security.test_input import assert_problem

PASSWORD = "correct horse battery staple"
CLIENT = "198.51.100.7"


def login(api: Api, email: str = "nobody@example.com", **kw: Any) -> Any:
    kw.setdefault("remote_addr", CLIENT)
    return api.call("POST", "/api/auth/login", {"email": email, "password": PASSWORD}, **kw)


def register(api: Api, n: int, **kw: Any) -> Any:
    kw.setdefault("remote_addr", CLIENT)
    body = {"email": f"person{n}@example.com", "password": PASSWORD, "full_name": f"Person {n}"}
    return api.call("POST", "/api/auth/register", body, **kw)


@pytest.fixture
def clock() -> FixedClock:
    return future_clock()


@pytest.fixture
def limited(clock: FixedClock) -> Api:
    return edge_api(clock)


# --------------------------------------------------------------------------- the numbers


def test_defaults_are_the_spec_numbers() -> None:
    table = policy()
    assert (table["login"].max, table["login"].window_seconds, table["login"].keyed_by) == (5, 900, "ip")
    assert (table["registration"].max, table["registration"].window_seconds) == (10, 3600)
    assert (table["password_reset"].max, table["password_reset"].window_seconds) == (3, 3600)
    assert table["password_reset"].keyed_by == "email"
    assert (table["api"].max, table["api"].window_seconds, table["api"].keyed_by) == (100, 60, "user")
    assert make_settings(rate_limits=()).rate_limits == ()  # the fixture's Settings default is the spec


# --------------------------------------------------------------------------- login


def test_sixth_login_from_one_ip_is_429_with_retry_after(limited: Api, clock: FixedClock) -> None:
    for _ in range(5):
        assert login(limited).status_code == 401
    result = login(limited)
    problem = assert_problem(result, 429, "rate_limited")
    assert result.headers["Retry-After"] == "900"  # the clock sits at the start of a 15-minute window
    assert "900" in problem["detail"]
    clock.advance(seconds=600)
    assert login(limited).headers["Retry-After"] == "300"


def test_login_limit_counts_successes_too(limited: Api) -> None:
    limited.register("ada@example.com")
    for _ in range(5):
        assert login(limited, "ada@example.com").status_code == 200
    assert_problem(login(limited, "ada@example.com"), 429, "rate_limited")


def test_refused_login_never_reaches_the_password_check(limited: Api) -> None:
    for _ in range(5):
        login(limited)
    failures = len(events_of(limited, T.LOGIN_FAILED))
    for _ in range(3):
        assert login(limited).status_code == 429
    assert len(events_of(limited, T.LOGIN_FAILED)) == failures


def test_window_end_admits_again(limited: Api, clock: FixedClock) -> None:
    for _ in range(6):
        login(limited)
    clock.advance(seconds=899)
    assert login(limited).status_code == 429
    clock.advance(seconds=1)
    assert login(limited).status_code == 401


def test_other_clients_are_not_affected(limited: Api) -> None:
    for _ in range(6):
        login(limited)
    assert login(limited, remote_addr="198.51.100.8").status_code == 401


def test_spoofed_forwarded_for_does_not_reset_the_limit(limited: Api) -> None:
    # TRUSTED_PROXY_COUNT=0: X-Forwarded-For is the client's claim and changes nothing.
    for n in range(5):
        assert login(limited, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code == 401
    for n in range(5, 10):
        assert login(limited, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code == 429


def test_behind_one_trusted_proxy_the_client_is_the_proxy_entry(clock: FixedClock) -> None:
    api = edge_api(clock, trusted_proxy_count=1)
    proxy = "10.0.0.1"
    for n in range(5):
        # The leftmost entries are the client's own claim; only the proxy's (rightmost) counts.
        spoof = {"X-Forwarded-For": f"192.0.2.{n}, 198.51.100.9"}
        assert login(api, remote_addr=proxy, headers=spoof).status_code == 401
    assert login(api, remote_addr=proxy, headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 429
    # Positive control: another real client behind the same proxy has its own counter.
    assert login(api, remote_addr=proxy, headers={"X-Forwarded-For": "198.51.100.10"}).status_code == 401


# --------------------------------------------------------------------------- violations are events


def test_violation_is_one_event_per_window_with_a_hashed_key(limited: Api, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(5):
        login(limited)
    with caplog.at_level(logging.WARNING, logger="services.ratelimit"):
        for _ in range(4):
            assert login(limited).status_code == 429
    events = events_of(limited, T.RATE_LIMIT_EXCEEDED)
    assert len(events) == 1
    data = events[0].data
    assert data["limit"] == "login" and data["max"] == 5 and data["window_seconds"] == 900
    assert len(data["key"]) == 32 and CLIENT not in repr(data)
    assert events[0].ip == CLIENT
    warnings = [r for r in caplog.records if r.getMessage() == "rate limited"]
    assert len(warnings) == 4 and all(r.levelno == logging.WARNING for r in warnings)
    assert all(CLIENT not in repr(r.__dict__) for r in warnings)


def test_a_new_window_records_a_new_violation(limited: Api, clock: FixedClock) -> None:
    for _ in range(6):
        login(limited)
    clock.advance(seconds=900)
    for _ in range(6):
        login(limited)
    assert len(events_of(limited, T.RATE_LIMIT_EXCEEDED)) == 2


# --------------------------------------------------------------------------- registration


def test_eleventh_registration_from_one_ip_is_429_and_creates_nothing(limited: Api) -> None:
    for n in range(10):
        assert register(limited, n).status_code == 202
    before = len(events_of(limited, T.USER_REGISTERED))
    assert_problem(register(limited, 10), 429, "rate_limited")
    assert len(events_of(limited, T.USER_REGISTERED)) == before == 10
    assert register(limited, 11, remote_addr="198.51.100.99").status_code == 202


# --------------------------------------------------------------------------- API per user


def test_api_limit_is_per_user(clock: FixedClock) -> None:
    api = edge_api(clock, rate_limits=(("login", 100, 900),))
    ada, bob = api.user("ada@example.com"), api.user("bob@example.com")
    for _ in range(100):
        assert api.call("GET", "/api/users/me", token=ada).status_code == 200
    result = api.call("GET", "/api/users/me", token=ada)
    assert_problem(result, 429, "rate_limited")
    assert 1 <= int(result.headers["Retry-After"]) <= 60
    assert api.call("GET", "/api/users/me", token=bob).status_code == 200
    clock.advance(seconds=60)
    assert api.call("GET", "/api/users/me", token=ada).status_code == 200


def test_unauthenticated_requests_do_not_spend_a_users_budget(clock: FixedClock) -> None:
    api = edge_api(clock, rate_limits=(("api", 3, 60),))
    token = api.user("ada@example.com")
    for _ in range(10):
        assert api.call("GET", "/api/users/me").status_code == 401
    for _ in range(3):
        assert api.call("GET", "/api/users/me", token=token).status_code == 200
    assert api.call("GET", "/api/users/me", token=token).status_code == 429


# --------------------------------------------------------------------------- password reset per email


def test_reset_limit_is_per_normalized_email(limited: Api) -> None:
    deps = limited.deps
    for variant in ("ada@example.com", "  ADA@Example.COM ", "ａｄａ@ｅｘａｍｐｌｅ.com"):
        ratelimit.check(deps, "password_reset", variant)
    with pytest.raises(RateLimited) as caught:
        ratelimit.check(deps, "password_reset", "Ada@example.com")
    assert caught.value.retry_after == 3600 and caught.value.limit == "password_reset"
    ratelimit.check(deps, "password_reset", "bob@example.com")  # another address: its own budget
    events = events_of(limited, T.RATE_LIMIT_EXCEEDED)
    assert len(events) == 1 and "ada" not in repr(events[0].data).lower()


def test_reset_limit_over_http_answers_alike_for_known_and_unknown(limited: Api) -> None:
    limited.register("ada@example.com")
    for email in ("ada@example.com", "ghost@example.com"):
        for _ in range(3):
            result = limited.call("POST", "/api/auth/password-reset/request", {"email": email})
            assert result.status_code == 202, result.text
        result = limited.call("POST", "/api/auth/password-reset/request", {"email": email.upper()})
        assert_problem(result, 429, "rate_limited")
        assert result.headers["Retry-After"] == "3600"


# --------------------------------------------------------------------------- configuration


def _env(**extra: str) -> dict[str, str]:
    return {
        "APP_ENV": "production",
        "JWT_SECRET_KEY": new_secret(),
        "SECRET_KEY": new_secret(),
        "ENCRYPTION_KEY": new_encryption_key(),
        "MONGODB_URI": "mongodb://127.0.0.1:1",
        "PUBLIC_BASE_URL": "https://warden.example",
        **extra,
    }


def test_production_defaults_are_on() -> None:
    settings = Settings.from_env(_env())
    assert settings.rate_limits == ()
    assert all(limit.enabled for limit in policy(settings.rate_limits).values())


def test_rate_limits_can_be_tuned_from_the_environment() -> None:
    settings = Settings.from_env(_env(RATE_LIMITS="login=10/600, api=300/60"))
    table = policy(settings.rate_limits)
    assert (table["login"].max, table["login"].window_seconds) == (10, 600)
    assert table["registration"] == DEFAULT_LIMITS["registration"]


@pytest.mark.parametrize(
    "value", ["logins=5/900", "login=5", "login=five/900", "login=5/0", "login=5/100000", "login=-1/60"]
)
def test_bad_rate_limit_settings_stop_start_up(value: str) -> None:
    with pytest.raises(ConfigError, match="RATE_LIMITS"):
        Settings.from_env(_env(RATE_LIMITS=value))


def test_production_refuses_a_limit_turned_off() -> None:
    with pytest.raises(ConfigError, match="RATE_LIMITS"):
        Settings.from_env(_env(RATE_LIMITS="login=0/900"))


# --------------------------------------------------------------------------- over the wire


def _wire_with(wire_deps: Deps, clock: FixedClock, **overrides: Any) -> Deps:
    import dataclasses

    return dataclasses.replace(wire_deps, settings=make_settings(**overrides), clock=clock, extras={})


@pytest.mark.integration
def test_counters_have_a_ttl_index_over_the_wire(wire_deps: Deps) -> None:
    indexes = wire_deps.db[ratelimit.COLLECTION].index_information()
    ttl = indexes["touched_at_ttl"]
    assert ttl["key"] == [("touched_at", 1)] and ttl["expireAfterSeconds"] == 86400


@pytest.mark.integration
def test_ttl_field_is_the_servers_time_so_a_test_clock_cannot_expire_a_live_counter(wire_deps: Deps) -> None:
    deps = _wire_with(wire_deps, FixedClock(), rate_limits=(("login", 1, 900),))  # 2026-01-01: long past
    ratelimit.check(deps, "login", CLIENT)
    with pytest.raises(RateLimited):
        ratelimit.check(deps, "login", CLIENT)
    counter = wire_deps.db[ratelimit.COLLECTION].find_one({"limit": "login"})
    assert counter["touched_at"] > datetime.now(UTC) - timedelta(minutes=5)


@pytest.mark.integration
def test_concurrent_checks_over_the_wire_admit_exactly_max(wire_deps: Deps) -> None:
    clock = future_clock()  # the server's TTL sweep must not reap the counter mid-test
    deps = _wire_with(wire_deps, clock, rate_limits=(("login", 5, 3600),))
    admitted, refused = [], []
    barrier = threading.Barrier(16)

    def attempt() -> None:
        barrier.wait()
        try:
            ratelimit.check(deps, "login", CLIENT)
            admitted.append(1)
        except RateLimited:
            refused.append(1)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a check did not finish in 120 s"
    assert (len(admitted), len(refused)) == (5, 11)
    counter = wire_deps.db[ratelimit.COLLECTION].find_one({"limit": "login"})
    assert counter["count"] == 16 and counter["window_end"] == clock.now() + timedelta(hours=1)
    assert len([e for e in wire_deps.store.read_all() if e.type == T.RATE_LIMIT_EXCEEDED]) == 1


@pytest.mark.integration
def test_window_expiry_over_the_wire(wire_deps: Deps) -> None:
    clock = future_clock()
    deps = _wire_with(wire_deps, clock, rate_limits=(("registration", 2, 60),))
    ratelimit.check(deps, "registration", CLIENT)
    ratelimit.check(deps, "registration", CLIENT)
    with pytest.raises(RateLimited) as caught:
        ratelimit.check(deps, "registration", CLIENT)
    clock.advance(seconds=caught.value.retry_after)
    ratelimit.check(deps, "registration", CLIENT)  # a new window: admitted without waiting for the sweep
