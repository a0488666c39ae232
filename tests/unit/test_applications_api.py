"""Behaviour of /api/applications through HTTP: workflow, ownership, ETags, listing, history."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from falcon import testing

from tests.conftest import Api

STATUSES = ("draft", "submitted", "under_review", "approved", "rejected", "withdrawn")
VALID = {
    ("draft", "submitted"),
    ("submitted", "under_review"),
    ("under_review", "approved"),
    ("under_review", "rejected"),
    ("draft", "withdrawn"),
    ("submitted", "withdrawn"),
}
INVALID = sorted(set(itertools.product(STATUSES, STATUSES)) - VALID)

# How to reach each status from a fresh draft: (who, target, reason).
PATHS: dict[str, list[tuple[str, str, str | None]]] = {
    "draft": [],
    "submitted": [("owner", "submitted", None)],
    "under_review": [("owner", "submitted", None), ("reviewer", "under_review", None)],
    "approved": [("owner", "submitted", None), ("reviewer", "under_review", None), ("reviewer", "approved", "ok")],
    "rejected": [("owner", "submitted", None), ("reviewer", "under_review", None), ("reviewer", "rejected", "no")],
    "withdrawn": [("owner", "withdrawn", None)],
}


@dataclass
class People:
    api: Api
    owner: str
    other: str
    reviewer: str

    def token(self, who: str) -> str:
        return {"owner": self.owner, "other": self.other, "reviewer": self.reviewer}[who]


@pytest.fixture
def people(api: Api) -> People:
    return People(
        api=api,
        owner=api.user("owner@example.com"),
        other=api.user("other@example.com"),
        reviewer=api.user("reviewer@example.com", roles=["reviewer"]),
    )


# --- helpers ---------------------------------------------------------------------------


def assert_problem(result: testing.Result, status: int, code: str) -> None:
    assert result.status_code == status, result.text
    assert result.json["status"] == status
    assert result.json["code"] == code, result.text


def create(api: Api, token: str, title: str = "My application", body: str = "Details") -> dict[str, Any]:
    result = api.call("POST", "/api/applications", {"title": title, "body": body}, token=token)
    assert result.status_code == 201, result.text
    return result.json


def get(api: Api, token: str, app_id: str) -> testing.Result:
    return api.call("GET", f"/api/applications/{app_id}", token=token)


def patch(api: Api, token: str, app_id: str, body: dict[str, Any], **kw: Any) -> testing.Result:
    return api.call("PATCH", f"/api/applications/{app_id}", body, token=token, **kw)


def move(api: Api, token: str, app_id: str, status: str, reason: str | None = None, **kw: Any) -> testing.Result:
    body: dict[str, Any] = {"status": status}
    if reason is not None:
        body["reason"] = reason
    return api.call("POST", f"/api/applications/{app_id}/status", body, token=token, **kw)


def history(api: Api, token: str, app_id: str) -> testing.Result:
    return api.call("GET", f"/api/applications/{app_id}/history", token=token)


def listing(api: Api, token: str, **params: Any) -> testing.Result:
    return api.call("GET", "/api/applications", token=token, params=params)


def drive_to(people: People, status: str) -> dict[str, Any]:
    app = create(people.api, people.owner)
    for who, target, reason in PATHS[status]:
        result = move(people.api, people.token(who), app["id"], target, reason)
        assert result.status_code == 200, result.text
    current = get(people.api, people.owner, app["id"]).json
    assert current["status"] == status
    return current


def event_count(api: Api) -> int:
    return sum(1 for _ in api.deps.store.read_all())


def walk(api: Api, token: str, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        result = listing(api, token, **query)
        assert result.status_code == 200, result.text
        pages.append([item["id"] for item in result.json["items"]])
        cursor = result.json["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "pagination does not end"


# --- creation --------------------------------------------------------------------------


def test_create_answers_the_draft(people: People) -> None:
    result = people.api.call("POST", "/api/applications", {"title": "Grant", "body": "Please"}, token=people.owner)
    assert result.status_code == 201
    app = result.json
    assert app["title"] == "Grant"
    assert app["body"] == "Please"
    assert app["status"] == "draft"
    assert app["version"] == 1
    assert app["owner_id"] == get_me(people.api, people.owner)["id"]
    assert {"id", "owner_id", "title", "body", "status", "version", "created_at", "updated_at"} <= set(app)
    assert result.headers["etag"] == '"1"'


def get_me(api: Api, token: str) -> dict[str, Any]:
    return api.call("GET", "/api/users/me", token=token).json


@pytest.mark.parametrize("title", ["x" * 201, ""])
def test_create_rejects_bad_title(people: People, title: str) -> None:
    result = people.api.call("POST", "/api/applications", {"title": title, "body": "b"}, token=people.owner)
    assert result.status_code == 422, result.text
    assert result.json["errors"][0]["field"] == "title"
    assert people.api.deps.db["applications"].count_documents({}) == 0


def test_create_accepts_a_200_character_title(people: People) -> None:
    assert create(people.api, people.owner, title="x" * 200)["title"] == "x" * 200


def test_patch_rejects_a_long_title(people: People) -> None:
    app = create(people.api, people.owner)
    result = patch(people.api, people.owner, app["id"], {"title": "y" * 201})
    assert result.status_code == 422, result.text
    assert get(people.api, people.owner, app["id"]).json["title"] == "My application"


def test_reviewer_cannot_create(people: People) -> None:
    result = people.api.call("POST", "/api/applications", {"title": "t"}, token=people.reviewer)
    assert_problem(result, 403, "forbidden")


# --- the workflow ----------------------------------------------------------------------


def test_full_workflow_to_approved(people: People) -> None:
    approved = drive_to(people, "approved")
    assert approved["reason"] == "ok"
    assert approved["version"] == 4


def test_full_workflow_to_rejected(people: People) -> None:
    rejected = drive_to(people, "rejected")
    assert rejected["reason"] == "no"


@pytest.mark.parametrize("start", ["draft", "submitted"])
def test_owner_can_withdraw(people: People, start: str) -> None:
    app = drive_to(people, start)
    result = move(people.api, people.owner, app["id"], "withdrawn")
    assert result.status_code == 200, result.text
    assert result.json["status"] == "withdrawn"


@pytest.mark.parametrize("target", ["approved", "rejected"])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_decision_needs_a_reason(people: People, target: str, reason: str | None) -> None:
    app = drive_to(people, "under_review")
    result = move(people.api, people.reviewer, app["id"], target, reason)
    assert result.status_code == 422, result.text
    assert result.json["errors"][0]["field"] == "reason"
    assert get(people.api, people.owner, app["id"]).json["status"] == "under_review"


@pytest.mark.parametrize(("current", "target"), INVALID)
def test_every_other_transition_is_409(people: People, current: str, target: str) -> None:
    app = drive_to(people, current)
    before = event_count(people.api)
    for who in ("owner", "reviewer"):
        result = move(people.api, people.token(who), app["id"], target, "a reason")
        assert_problem(result, 409, "invalid_transition")
    assert event_count(people.api) == before
    assert get(people.api, people.owner, app["id"]).json["status"] == current


@pytest.mark.parametrize(
    ("current", "target"), [("submitted", "under_review"), ("under_review", "approved"), ("under_review", "rejected")]
)
def test_applicant_cannot_make_reviewer_transitions(people: People, current: str, target: str) -> None:
    app = drive_to(people, current)
    assert_problem(move(people.api, people.owner, app["id"], target, "because"), 403, "forbidden")
    assert get(people.api, people.owner, app["id"]).json["status"] == current


@pytest.mark.parametrize(
    ("current", "target"), [("draft", "submitted"), ("draft", "withdrawn"), ("submitted", "withdrawn")]
)
def test_reviewer_cannot_make_owner_transitions(people: People, current: str, target: str) -> None:
    app = drive_to(people, current)
    assert_problem(move(people.api, people.reviewer, app["id"], target), 403, "forbidden")
    assert get(people.api, people.owner, app["id"]).json["status"] == current


def test_reviewer_cannot_review_own_application(people: People) -> None:
    api = people.api
    both = api.user("both@example.com", roles=["applicant", "reviewer"])
    app = create(api, both)
    assert move(api, both, app["id"], "submitted").status_code == 200
    assert_problem(move(api, both, app["id"], "under_review"), 403, "forbidden")
    assert move(api, people.reviewer, app["id"], "under_review").status_code == 200
    for target in ("approved", "rejected"):
        assert_problem(move(api, both, app["id"], target, "self"), 403, "forbidden")
    assert get(api, both, app["id"]).json["status"] == "under_review"


# --- other people's applications -------------------------------------------------------


def test_other_applicants_application_is_not_found(people: People) -> None:
    api = people.api
    app = create(api, people.owner)
    attempts = [
        get(api, people.other, app["id"]),
        patch(api, people.other, app["id"], {"title": "mine now"}),
        move(api, people.other, app["id"], "submitted"),
        move(api, people.other, app["id"], "withdrawn"),
        history(api, people.other, app["id"]),
    ]
    missing = get(api, people.other, "0" * 32)
    assert_problem(missing, 404, "not_found")
    for result in attempts:
        assert_problem(result, 404, "not_found")
        assert result.content == missing.content
    assert get(api, people.owner, app["id"]).json["status"] == "draft"
    assert get(api, people.owner, app["id"]).json["title"] == "My application"


# --- editing ---------------------------------------------------------------------------


def test_owner_patches_a_draft(people: People) -> None:
    app = create(people.api, people.owner)
    result = patch(people.api, people.owner, app["id"], {"title": "Better title", "body": "More"})
    assert result.status_code == 200, result.text
    assert result.json["title"] == "Better title"
    assert result.json["body"] == "More"
    assert result.json["version"] == 2
    assert result.headers["etag"] == '"2"'


@pytest.mark.parametrize("status", ["submitted", "under_review", "approved", "rejected", "withdrawn"])
def test_patch_outside_draft_is_409_not_editable(people: People, status: str) -> None:
    app = drive_to(people, status)
    assert_problem(patch(people.api, people.owner, app["id"], {"title": "late"}), 409, "not_editable")
    assert get(people.api, people.owner, app["id"]).json["title"] == "My application"


def test_reviewer_cannot_patch(people: People) -> None:
    app = create(people.api, people.owner)
    assert_problem(patch(people.api, people.reviewer, app["id"], {"title": "edited"}), 403, "forbidden")
    assert get(people.api, people.owner, app["id"]).json["title"] == "My application"


# --- ETag and If-Match -----------------------------------------------------------------


def test_etag_is_the_quoted_version(people: People) -> None:
    app = create(people.api, people.owner)
    patch(people.api, people.owner, app["id"], {"body": "v2"})
    result = get(people.api, people.owner, app["id"])
    assert result.json["version"] == 2
    assert result.headers["etag"] == '"2"'
    moved = move(people.api, people.owner, app["id"], "submitted")
    assert moved.headers["etag"] == f'"{moved.json["version"]}"' == '"3"'


def test_matching_if_match_is_accepted(people: People) -> None:
    app = create(people.api, people.owner)
    result = patch(people.api, people.owner, app["id"], {"title": "ok"}, headers={"If-Match": '"1"'})
    assert result.status_code == 200, result.text
    moved = move(people.api, people.owner, app["id"], "submitted", headers={"If-Match": '"2"'})
    assert moved.status_code == 200, moved.text


@pytest.mark.parametrize("stale", ['"1"', '"7"', "garbage"])
def test_stale_if_match_on_patch_is_412(people: People, stale: str) -> None:
    app = create(people.api, people.owner)
    patch(people.api, people.owner, app["id"], {"title": "second"})
    before = (get(people.api, people.owner, app["id"]).json, event_count(people.api))
    result = patch(people.api, people.owner, app["id"], {"title": "third"}, headers={"If-Match": stale})
    assert_problem(result, 412, "version_conflict")
    assert (get(people.api, people.owner, app["id"]).json, event_count(people.api)) == before


@pytest.mark.parametrize("stale", ['"1"', '"3"'])
def test_stale_if_match_on_status_is_412(people: People, stale: str) -> None:
    app = create(people.api, people.owner)
    patch(people.api, people.owner, app["id"], {"title": "second"})
    before = (get(people.api, people.owner, app["id"]).json, event_count(people.api))
    result = move(people.api, people.owner, app["id"], "submitted", headers={"If-Match": stale})
    assert_problem(result, 412, "version_conflict")
    assert (get(people.api, people.owner, app["id"]).json, event_count(people.api)) == before


# --- listing ---------------------------------------------------------------------------


@pytest.fixture
def catalogue(people: People) -> dict[str, list[str]]:
    owned = [create(people.api, people.owner, title=f"owner {i}")["id"] for i in range(3)]
    others = [create(people.api, people.other, title=f"other {i}")["id"] for i in range(2)]
    return {"owner": owned, "other": others}


def ids(result: testing.Result) -> set[str]:
    assert result.status_code == 200, result.text
    return {item["id"] for item in result.json["items"]}


def test_applicant_lists_only_their_own(people: People, catalogue: dict[str, list[str]]) -> None:
    assert ids(listing(people.api, people.owner)) == set(catalogue["owner"])
    assert ids(listing(people.api, people.other)) == set(catalogue["other"])


def test_applicant_cannot_list_someone_else_by_owner_id(people: People, catalogue: dict[str, list[str]]) -> None:
    other_id = get_me(people.api, people.other)["id"]
    seen = ids(listing(people.api, people.owner, owner_id=other_id))
    assert not seen & set(catalogue["other"])


def test_reviewer_lists_everything(people: People, catalogue: dict[str, list[str]]) -> None:
    assert ids(listing(people.api, people.reviewer)) == set(catalogue["owner"]) | set(catalogue["other"])
    other_id = get_me(people.api, people.other)["id"]
    assert ids(listing(people.api, people.reviewer, owner_id=other_id)) == set(catalogue["other"])


def test_status_filter(people: People, catalogue: dict[str, list[str]]) -> None:
    submitted = catalogue["owner"][1]
    assert move(people.api, people.owner, submitted, "submitted").status_code == 200
    assert ids(listing(people.api, people.reviewer, status="submitted")) == {submitted}
    assert ids(listing(people.api, people.owner, status="submitted")) == {submitted}
    assert ids(listing(people.api, people.other, status="submitted")) == set()
    drafts = set(catalogue["owner"] + catalogue["other"]) - {submitted}
    assert ids(listing(people.api, people.reviewer, status="draft")) == drafts


def test_pagination_walks_everything_once(people: People, catalogue: dict[str, list[str]]) -> None:
    pages = walk(people.api, people.reviewer, limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    flat = [app_id for page in pages for app_id in page]
    assert len(flat) == len(set(flat))
    assert set(flat) == set(catalogue["owner"]) | set(catalogue["other"])


def test_pagination_of_own_items(people: People, catalogue: dict[str, list[str]]) -> None:
    pages = walk(people.api, people.owner, limit=2)
    flat = [app_id for page in pages for app_id in page]
    assert sorted(flat) == sorted(catalogue["owner"])


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc"])
def test_limit_out_of_range_is_422(people: People, limit: str) -> None:
    result = listing(people.api, people.owner, limit=limit)
    assert result.status_code == 422, result.text


@pytest.mark.parametrize("limit", ["1", "200"])
def test_limit_bounds_are_accepted(people: People, limit: str) -> None:
    assert listing(people.api, people.owner, limit=limit).status_code == 200


# --- history ---------------------------------------------------------------------------


def test_history_lists_this_applications_events_in_order(people: People) -> None:
    api = people.api
    app = create(api, people.owner, title="Secret title")
    create(api, people.owner, title="Another one")  # interleaved, must not show up
    patch(api, people.owner, app["id"], {"title": "Renamed"})
    move(api, people.owner, app["id"], "submitted")
    result = history(api, people.owner, app["id"])
    assert result.status_code == 200, result.text
    items = result.json["items"]
    assert [item["type"] for item in items] == [
        "application.created",
        "application.updated",
        "application.status_changed",
    ]
    positions = [item["position"] for item in items]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert items[0]["data"]["title"] == "Secret title"
    assert items[1]["data"]["title"] == "Renamed"
    assert items[2]["data"]["to"] == "submitted"
    owner_id = app["owner_id"]
    assert all(item["actor"] == owner_id for item in items)
    assert all(set(item) == {"position", "type", "occurred_at", "actor", "data"} for item in items)
    assert result.json["next_cursor"] is None


def test_history_pages(people: People) -> None:
    app = drive_to(people, "approved")
    first = people.api.call("GET", f"/api/applications/{app['id']}/history", token=people.owner, params={"limit": 3})
    assert len(first.json["items"]) == 3
    cursor = first.json["next_cursor"]
    assert cursor is not None
    rest = people.api.call(
        "GET", f"/api/applications/{app['id']}/history", token=people.owner, params={"limit": 3, "cursor": cursor}
    )
    assert [item["type"] for item in rest.json["items"]] == ["application.status_changed"]
    assert rest.json["next_cursor"] is None
