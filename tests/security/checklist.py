"""Shared pieces of the penetration-checklist modules: a populated world, the routes
as /api/openapi.json declares them, and exact problem+json assertions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import mongomock
from falcon import testing

from core.clock import FixedClock
from events.memory import InMemoryEventStore
from services.deps import Deps
from tests.conftest import Api, make_settings

PROBLEM = "application/problem+json"
PASSWORD = "correct horse battery staple"
OWNER, OTHER = "owner@example.com", "other@example.com"
REVIEWER, ADMIN, AUDITOR = "reviewer@example.com", "admin@example.com", "auditor@example.com"
# Values that fill path templates when the route only has to be reached, not found.
DUMMY_PATH = {
    "app_id": "app-does-not-exist",
    "attachment_id": "att-does-not-exist",
    "user_id": "user-does-not-exist",
    "block_id": "block-does-not-exist",
    "purpose": "analytics",
    "position": "1",
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    access: str
    body: dict[str, Any] | None  # the JSON request schema, when the operation takes one

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, **values: str) -> str:
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), DUMMY_PATH[m.group(1)]), self.path)


@cache
def operations() -> tuple[Operation, ...]:
    """Every operation /api/openapi.json declares (read once, from a throwaway app)."""
    spec = throwaway_api().call("GET", "/api/openapi.json").json
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "x-access" not in op:
                continue
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            found.append(Operation(method.upper(), path, op["x-access"], schema))
    assert len(found) > 40, "the OpenAPI document lost its operations"
    return tuple(found)


def protected() -> list[Operation]:
    return [op for op in operations() if op.access != "public"]


def throwaway_api() -> Api:
    clock = FixedClock()
    deps = Deps.build(
        make_settings(), mongomock.MongoClient(tz_aware=True)["warden_spec"], InMemoryEventStore(clock), clock
    )
    deps.ensure_schema()
    return Api(deps)


def assert_problem(result: testing.Result, status: int, code: str, context: str = "") -> dict[str, Any]:
    assert result.status_code == status, f"{context}: {result.status_code} {result.text}"
    assert result.headers.get("Content-Type", "").split(";")[0] == PROBLEM, context
    problem = result.json
    assert (problem["status"], problem["code"]) == (status, code), f"{context}: {problem}"
    for needle in ("Traceback", "pymongo", "mongomock", 'File "', "bson"):
        assert needle not in result.text, context
    return problem


def stable(problem: dict[str, Any]) -> dict[str, Any]:
    """A problem body without the per-request fields, for byte-identity comparisons."""
    return {k: v for k, v in problem.items() if k not in ("instance", "request_id")}


def user_id(api: Api, email: str) -> str:
    from services import users

    user = users.find_by_email(api.deps, email)
    assert user is not None
    return str(user.id)


@dataclass
class World:
    """An owner with a draft application, another applicant, and a reviewer and an admin."""

    api: Api
    owner: str
    other: str
    reviewer: str
    admin: str
    app_id: str

    @classmethod
    def build(cls, api: Api) -> World:
        owner = api.user(OWNER)
        created = api.call("POST", "/api/applications", {"title": "Mine", "body": "private"}, token=owner)
        assert created.status_code == 201, created.text
        return cls(
            api,
            owner,
            api.user(OTHER),
            api.user(REVIEWER, ["reviewer"]),
            api.user(ADMIN, ["admin"]),
            created.json["id"],
        )
