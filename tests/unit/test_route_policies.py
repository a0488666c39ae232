"""Every route of the app declares who may call it; only an explicit list is public.

The walk reads Falcon's router, not ``_routes``, so a route added any other way
is caught too, and checks each responder the resource defines (``on_<verb>``).
"""

from __future__ import annotations

import re
from typing import Any

import falcon
import pytest

from api import errors
from api.middleware import AuthMiddleware, RequestContextMiddleware
from api.policy import Access, Requirement
from api.resources.base import Resource
from core.permissions import Permission
from tests.conftest import Api

# The only routes anyone may call without a token (API.md): health, discovery and the
# steps of authentication that happen before there is a token.
PUBLIC = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/.well-known/security.txt"),
        ("GET", "/api/openapi.json"),
        ("POST", "/api/auth/register"),
        ("POST", "/api/auth/verify-email"),
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/refresh"),
        ("POST", "/api/auth/password-reset/request"),
        ("POST", "/api/auth/password-reset/confirm"),
    }
)
VERBS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def routes(app: falcon.App) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    stack = list(app._router._roots)  # noqa: SLF001  (test-only look at the compiled router)
    while stack:
        node = stack.pop()
        if node.resource is not None:
            found.append((node.uri_template, node.resource))
        stack.extend(node.children)
    return sorted(found, key=lambda item: item[0])


def responders(resource: object) -> list[str]:
    return [verb for verb in VERBS if callable(getattr(resource, "on_" + verb.lower(), None))]


def undeclared(app: falcon.App) -> list[str]:
    """Every (verb, route) whose responder has no valid declared requirement."""
    problems = []
    for template, resource in routes(app):
        policy: dict[str, Any] = getattr(resource, "policy", {})
        for verb in responders(resource):
            need: Requirement | None = policy.get(verb)
            if not isinstance(need, (Permission, Access)):
                problems.append(f"{verb} {template}")
    return problems


def test_every_responder_declares_a_policy(api: Api) -> None:
    app = api.client.app
    assert len(routes(app)) >= 20, "the walk should see the whole app"
    assert undeclared(app) == []


def test_only_listed_routes_are_public(api: Api) -> None:
    public = {
        (verb, template)
        for template, resource in routes(api.client.app)
        for verb in responders(resource)
        if getattr(resource, "policy", {}).get(verb) is Access.PUBLIC
    }
    assert public - PUBLIC == set()
    assert {("POST", "/api/auth/login"), ("GET", "/healthz")} <= public


def _concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "0123abcd", template)


def test_every_non_public_responder_refuses_an_anonymous_caller(api: Api) -> None:
    before = api.db_snapshot()
    for template, resource in routes(api.client.app):
        for verb in responders(resource):
            if (verb, template) in PUBLIC or verb == "HEAD":
                continue
            result = api.call(verb, _concrete(template), body={} if verb in ("POST", "PUT", "PATCH") else None)
            assert result.status_code == 401, f"{verb} {template}: {result.status_code}"
            assert result.json["code"] == "unauthenticated"
    assert api.db_snapshot() == before


def test_openapi_lists_every_responder_with_its_access(api: Api) -> None:
    spec = api.call("GET", "/api/openapi.json").json["paths"]
    for template, resource in routes(api.client.app):
        if template == "/api/openapi.json":
            continue
        for verb in responders(resource):
            if verb == "HEAD":
                continue
            operation = spec[template][verb.lower()]
            assert operation["x-access"] == resource.policy[verb].value  # type: ignore[attr-defined]


# --- the checks can fail: an undeclared responder is found and refused -----------------


class Undeclared(Resource):
    policy = {"GET": Permission.AUDIT_READ}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"ok": True}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"deleted": True}


@pytest.fixture
def rogue_app(api: Api) -> falcon.App:
    app = falcon.App(middleware=[RequestContextMiddleware(api.deps.settings), AuthMiddleware(lambda: api.deps)])
    errors.install(app)
    app.add_route("/rogue", Undeclared(lambda: api.deps))
    return app


def test_the_walk_finds_an_undeclared_responder(rogue_app: falcon.App) -> None:
    assert undeclared(rogue_app) == ["DELETE /rogue"]


def test_an_undeclared_responder_is_refused_at_runtime(rogue_app: falcon.App) -> None:
    result = falcon.testing.TestClient(rogue_app).simulate_delete("/rogue")
    assert result.status_code == 403
    assert result.json["code"] == "forbidden"
