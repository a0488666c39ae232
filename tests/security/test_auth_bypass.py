"""Checklist: authentication bypass. Every non-public route (x-access in /api/openapi.json)
answers 401 unauthenticated to every kind of missing, forged or dead credential, and
writes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from core.clock import FixedClock
from tests.conftest import Api
from tests.security.checklist import ADMIN, OWNER, assert_problem, protected, user_id

SAMPLE_ROUTES = {"GET /api/users/me", "POST /api/applications", "GET /api/audit/events", "GET /api/admin/users"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def live_token(api: Api) -> str:
    return api.user(OWNER)


def no_token(api: Api, clock: FixedClock) -> dict[str, str]:
    return {}


def malformed(api: Api, clock: FixedClock) -> dict[str, str]:
    return {"Authorization": "Bearer " + live_token(api).replace(".", "", 1)}


def wrong_scheme(api: Api, clock: FixedClock) -> dict[str, str]:
    return {"Authorization": "Token " + live_token(api)}


def bad_signature(api: Api, clock: FixedClock) -> dict[str, str]:
    header, payload, _ = live_token(api).split(".")
    return {"Authorization": f"Bearer {header}.{payload}.{b64(b'x' * 32)}"}


def alg_none(api: Api, clock: FixedClock) -> dict[str, str]:
    token = live_token(api)
    head = {**jwt.get_unverified_header(token), "alg": "none"}
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["roles"] = ["admin", "auditor", "reviewer", "applicant"]
    return {"Authorization": f"Bearer {b64(json.dumps(head).encode())}.{b64(json.dumps(claims).encode())}."}


def expired(api: Api, clock: FixedClock) -> dict[str, str]:
    token = live_token(api)
    clock.advance(minutes=15, seconds=1)
    return {"Authorization": f"Bearer {token}"}


def logged_out(api: Api, clock: FixedClock) -> dict[str, str]:
    token = live_token(api)
    assert api.call("POST", "/api/auth/logout", token=token).status_code == 204
    return {"Authorization": f"Bearer {token}"}


def after_logout_all(api: Api, clock: FixedClock) -> dict[str, str]:
    token = live_token(api)
    other = api.login(OWNER)["access_token"]
    assert api.call("POST", "/api/auth/logout-all", token=other).status_code == 204
    return {"Authorization": f"Bearer {token}"}


def disabled_user(api: Api, clock: FixedClock) -> dict[str, str]:
    token = live_token(api)
    admin = api.user(ADMIN, ["admin"])
    done = api.call("POST", f"/api/admin/users/{user_id(api, OWNER)}/disable", {"reason": "test"}, token=admin)
    assert done.status_code == 204, done.text
    return {"Authorization": f"Bearer {token}"}


def cookie_without_session(api: Api, clock: FixedClock) -> dict[str, str]:
    return {"Cookie": "access_token=garbage; csrf_token=x", "X-CSRF-Token": "x"}


CREDENTIALS: list[Callable[[Api, FixedClock], dict[str, str]]] = [
    no_token,
    malformed,
    wrong_scheme,
    bad_signature,
    alg_none,
    expired,
    logged_out,
    after_logout_all,
    disabled_user,
    cookie_without_session,
]


def test_there_are_protected_routes_of_every_kind() -> None:
    assert SAMPLE_ROUTES <= {op.name for op in protected()}


@pytest.mark.parametrize("credential", CREDENTIALS, ids=lambda f: f.__name__)
def test_every_protected_route_answers_401(api: Api, clock: FixedClock, credential: Any) -> None:
    headers = credential(api, clock)
    for op in protected():
        before = api.db_snapshot()
        body = {} if op.body is not None else None
        result = api.call(op.method, op.url(), body, headers=headers)
        assert_problem(result, 401, "unauthenticated", f"{credential.__name__} {op.name}")
        assert api.db_snapshot() == before, op.name


def test_control_a_live_token_gets_past_authentication_everywhere(api: Api) -> None:
    # Without this the 401s above could come from a broken route table rather than the credential check.
    admin = api.user(ADMIN, ["admin"])
    for op in protected():
        if op.name in ("POST /api/auth/logout", "POST /api/auth/logout-all", "POST /api/dsr/delete"):
            continue  # would end the session this loop uses
        body = {} if op.body is not None else None
        result = api.call(op.method, op.url(), body, token=admin)
        assert result.status_code != 401, f"{op.name}: {result.text}"
