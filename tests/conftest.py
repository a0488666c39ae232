"""Shared fixtures. Unit tests run on mongomock with the in-memory event store;
integration tests (tests/integration, tests/e2e) use a SecantusDB server this
session starts once (see tests/wire.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import mongomock
import pytest
from falcon import testing

from api.app import create_app
from core.clock import FixedClock
from core.permissions import TOTP_REQUIRED_ROLES
from core.ratelimits import UNLIMITED
from core.settings import Argon2Params, Secret, Settings, new_encryption_key
from events.memory import InMemoryEventStore
from services.deps import Deps

pytest_plugins = ["tests.wire"]

CHEAP_ARGON2 = Argon2Params(time_cost=1, memory_cost=8192, parallelism=1)


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        app_env="test",
        jwt_secret_key=Secret("test-jwt-secret-" + "x" * 40),
        secret_key=Secret("test-secret-key-" + "y" * 40),
        encryption_key=Secret(new_encryption_key()),
        argon2=CHEAP_ARGON2,
        public_base_url="https://warden.test",
        # Tests create many users from one address; tests/security/test_ratelimits.py
        # covers the SPEC §6 defaults (make_settings(rate_limits=())).
        rate_limits=UNLIMITED,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def deps(settings: Settings, clock: FixedClock) -> Deps:
    client: mongomock.MongoClient = mongomock.MongoClient(tz_aware=True)
    db = client["warden_test"]
    built = Deps.build(settings, db, InMemoryEventStore(clock), clock)
    built.ensure_schema()
    return built


class Api:
    """A falcon TestClient with helpers for the flows most tests need."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.client = testing.TestClient(create_app(deps.settings, deps))
        self.totp_secrets: dict[str, str] = {}
        self._totp_steps: dict[str, int] = {}

    def call(self, method: str, path: str, body: Any = None, token: str | None = None, **kw: Any) -> testing.Result:
        headers = dict(kw.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None and "content_type" not in kw:
            headers.setdefault("Content-Type", "application/json")
            kw["body"] = json.dumps(body) if not isinstance(body, (bytes, str)) else body
        elif body is not None:
            kw["body"] = body
        return self.client.simulate_request(method, path, headers=headers, **kw)

    def outbox_token(self, email: str, kind: str = "verify_email") -> str:
        for message in self.deps.mailer.list(to=email):
            if message["kind"] == kind:
                return message["text"].split("token=")[1].split()[0]
        raise AssertionError(f"no {kind} mail for {email}")

    def register(self, email: str, password: str = "correct horse battery staple", name: str = "Test User") -> None:
        result = self.call("POST", "/api/auth/register", {"email": email, "password": password, "full_name": name})
        assert result.status_code in (201, 202), result.text
        if self.deps.settings.require_email_verification:
            token = self.outbox_token(email)
            verified = self.call("POST", "/api/auth/verify-email", {"token": token})
            assert verified.status_code == 204, verified.text

    def login(self, email: str, password: str = "correct horse battery staple") -> dict[str, Any]:
        result = self.call("POST", "/api/auth/login", {"email": email, "password": password})
        assert result.status_code == 200, result.text
        return result.json

    def user(self, email: str, roles: list[str] | None = None) -> str:
        """Register, verify, optionally set roles, log in; return an access token."""
        from events.model import Context
        from services import users

        self.register(email)
        if roles:
            user = users.find_by_email(self.deps, email)
            assert user is not None
            users.set_roles(self.deps, user.id, roles, Context())
        token = self.login(email)["access_token"]
        if TOTP_REQUIRED_ROLES.intersection(roles or ()):
            # Admins and auditors only pass /api/admin and /api/audit with a code-backed token.
            token = self.enrol_totp(email, token)
        return token

    def enrol_totp(self, email: str, token: str, password: str = "correct horse battery staple") -> str:
        """Set up and enable TOTP, then log in with a code; return that access token (amr pwd+otp)."""
        setup = self.call("POST", "/api/auth/2fa/setup", token=token)
        assert setup.status_code == 200, setup.text
        self.totp_secrets[email] = setup.json["secret"]
        enabled = self.call("POST", "/api/auth/2fa/enable", {"code": self.totp_code(email)}, token=token)
        assert enabled.status_code == 204, enabled.text
        body = {"email": email, "password": password, "totp": self.totp_code(email)}
        result = self.call("POST", "/api/auth/login", body)
        assert result.status_code == 200, result.text
        return str(result.json["access_token"])

    def totp_code(self, email: str) -> str:
        """A code for the next unused time step (the FixedClock moves on when the window is spent)."""
        from core.totp import DRIFT_STEPS, STEP_SECONDS, code_at, step_of

        current = step_of(self.deps.clock.now())
        step = max(current, self._totp_steps.get(email, current - 1) + 1)
        if step > current + DRIFT_STEPS:
            self.deps.clock.advance(seconds=STEP_SECONDS * (step - current - DRIFT_STEPS))  # type: ignore[attr-defined]
        self._totp_steps[email] = step
        return code_at(self.totp_secrets[email], step)

    def db_snapshot(self) -> dict[str, list[Any]]:
        db = self.deps.db
        snap = {name: sorted(map(repr, db[name].find({}))) for name in db.list_collection_names()}
        snap["__events__"] = [e.event_id for e in self.deps.store.read_all()]
        return snap


@pytest.fixture
def api(deps: Deps) -> Iterator[Api]:
    yield Api(deps)


@pytest.fixture
def wire_deps(settings: Settings, clock: FixedClock, wire_client: Any, wire_db_name: str) -> Iterator[Deps]:
    """Deps over a real MongoDB-wire server (SecantusDB), fresh database per test."""
    from events.mongo import MongoEventStore

    db = wire_client[wire_db_name]
    built = Deps.build(settings, db, MongoEventStore(wire_client, wire_db_name, clock), clock, wire_client)
    built.ensure_schema()
    yield built
    wire_client.drop_database(wire_db_name)
