"""Checklist: API abuse. Page limits and cursors are validated on every paginated
endpoint, ids cannot be enumerated, and oversized or odd requests never reach a 5xx."""

from __future__ import annotations

import base64
import uuid

import pytest

from tests.conftest import Api
from tests.security.checklist import World, assert_problem, stable

PAGED = [
    "/api/applications",
    "/api/applications/{app_id}/history",
    "/api/admin/users",
    "/api/admin/ip-blocks",
    "/api/audit/events",
    "/api/audit/checkpoints",
]
BAD_LIMITS = ["0", "201", "-1", "abc", "1e9", "1.5", " 5", "99999999999999999999999", "0x10"]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# Cursors of the wrong shape, and numbers past BSON int64 (a 500 over the wire before the fix).
BAD_CURSORS = [
    "garbage",
    "!!!",
    b64("p9223372036854775808"),
    b64("p" + "9" * 40),
    b64("p-1"),
    b64("pabc"),
    b64("x12"),
    b64('{"$gt": 0}'),
    b64("p1.5"),
    "p1",
    "=" * 8,
]


@pytest.fixture
def world(api: Api) -> World:
    return World.build(api)


@pytest.mark.parametrize("path", PAGED)
def test_bad_limits_are_422(world: World, path: str) -> None:
    url = path.format(app_id=world.app_id)
    assert world.api.call("GET", url, token=world.admin if "app_id" not in path else world.owner).status_code == 200
    token = world.owner if "app_id" in path else world.admin
    for limit in BAD_LIMITS:
        problem = assert_problem(
            world.api.call("GET", url, token=token, params={"limit": limit}), 422, "validation_failed", limit
        )
        assert problem["errors"] == [{"field": "limit", "code": "out_of_range"}], limit
    for limit in ("1", "200"):
        assert world.api.call("GET", url, token=token, params={"limit": limit}).status_code == 200, limit


@pytest.mark.parametrize("path", PAGED)
def test_bad_cursors_are_422(world: World, path: str) -> None:
    token = world.owner if "app_id" in path else world.admin
    url = path.format(app_id=world.app_id)
    for cursor in BAD_CURSORS:
        problem = assert_problem(
            world.api.call("GET", url, token=token, params={"cursor": cursor}), 422, "validation_failed", cursor
        )
        assert problem["errors"] == [{"field": "cursor", "code": "invalid"}], cursor


def test_a_page_never_exceeds_its_limit(world: World) -> None:
    for n in range(3):
        world.api.call("POST", "/api/applications", {"title": f"t{n}"}, token=world.owner)
    page = world.api.call("GET", "/api/applications", token=world.owner, params={"limit": "2"}).json
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = world.api.call(
        "GET", "/api/applications", token=world.owner, params={"limit": "2", "cursor": page["next_cursor"]}
    )
    assert len(rest.json["items"]) == 2 and rest.json["next_cursor"] is None


ID_ROUTES = [
    ("/api/applications/{}", "owner"),
    ("/api/applications/{}/history", "owner"),
    ("/api/applications/{}/attachments", "owner"),
    ("/api/admin/users/{}", "admin"),
]
GUESSES = [
    "1",
    "2",
    "0",
    "-1",
    "00000000000000000000000000000001",
    uuid.uuid4().hex,
    str(uuid.uuid4()),
    "a" * 32,
    "null",
]


@pytest.mark.parametrize(("template", "who"), ID_ROUTES)
def test_guessed_ids_are_404_with_identical_bodies(world: World, template: str, who: str) -> None:
    token = getattr(world, who)
    bodies = set()
    for guess in GUESSES:
        result = world.api.call("GET", template.format(guess), token=token)
        bodies.add(repr(sorted(stable(assert_problem(result, 404, "not_found", guess)).items())))
    assert len(bodies) == 1


@pytest.mark.parametrize("length", [1_000, 10_000])
def test_long_path_segments_are_4xx(world: World, length: int) -> None:
    for template in ("/api/applications/{}", "/api/admin/users/{}", "/api/{}"):
        result = world.api.call("GET", template.format("a" * length), token=world.admin)
        assert_problem(result, 404, "not_found", template)


OWN_PARAMS = [
    ("/api/applications", ("status", "owner_id")),
    ("/api/admin/users", ("role", "status", "q")),
    ("/api/audit/events", ("type", "actor", "stream", "subject", "since", "until")),
]


@pytest.mark.parametrize(("path", "names"), OWN_PARAMS, ids=lambda v: str(v))
def test_long_query_values_are_422(world: World, path: str, names: tuple[str, ...]) -> None:
    for name in names:
        result = world.api.call("GET", path, token=world.admin, params={name: "a" * 20_000})
        problem = assert_problem(result, 422, "validation_failed", f"{path} {name}")
        assert problem["errors"] == [{"field": name, "code": "invalid"}], name


def test_repeated_parameters_are_422(world: World) -> None:
    result = world.api.call("GET", "/api/applications", token=world.owner, query_string="status=draft&status=submitted")
    problem = assert_problem(result, 422, "validation_failed")
    assert problem["errors"] == [{"field": "status", "code": "invalid"}]


@pytest.mark.filterwarnings("ignore::wsgiref.validate.WSGIWarning")
@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "BREW"])
def test_odd_methods_never_5xx(api: Api, method: str) -> None:
    token = api.user("odd@example.com")
    for path in ("/api/applications", "/api/users/me", "/api/auth/login", "/api/nothing"):
        before = api.db_snapshot()
        result = api.call(method, path, token=token)
        assert result.status_code in (200, 204, 400, 404, 405), f"{method} {path}: {result.text}"
        assert api.db_snapshot() == before, f"{method} {path}"
