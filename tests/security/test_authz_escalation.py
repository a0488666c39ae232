"""Checklist: authorization escalation. Applicants cannot act as reviewers, nobody but
admins and auditors reaches /api/admin and /api/audit, another user's application is
indistinguishable from one that does not exist, and roles cannot be self-assigned."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.security.checklist import (
    AUDITOR,
    OTHER,
    PASSWORD,
    World,
    assert_problem,
    operations,
    stable,
    user_id,
)

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def world(api: Api) -> World:
    return World.build(api)


def submitted(world: World) -> str:
    result = world.api.call(
        "POST", f"/api/applications/{world.app_id}/status", {"status": "submitted"}, token=world.owner
    )
    assert result.status_code == 200, result.text
    return world.app_id


@pytest.mark.parametrize(
    ("status", "reason", "before"),
    [("under_review", None, "submitted"), ("approved", "ok", "under_review"), ("rejected", "no", "under_review")],
)
def test_applicant_cannot_take_reviewer_steps_on_their_own_application(
    world: World, status: str, reason: str | None, before: str
) -> None:
    submitted(world)
    if before == "under_review":
        moved = world.api.call(
            "POST", f"/api/applications/{world.app_id}/status", {"status": "under_review"}, token=world.reviewer
        )
        assert moved.status_code == 200, moved.text
    body = {"status": status} | ({"reason": reason} if reason else {})
    snapshot = world.api.db_snapshot()
    result = world.api.call("POST", f"/api/applications/{world.app_id}/status", body, token=world.owner)
    assert_problem(result, 403, "forbidden", status)
    assert world.api.db_snapshot() == snapshot
    current = world.api.call("GET", f"/api/applications/{world.app_id}", token=world.owner).json
    assert current["status"] == before


PRIVILEGED = [op for op in operations() if op.path.startswith(("/api/admin", "/api/audit"))]


@pytest.mark.parametrize("who", ["owner", "reviewer"])
def test_applicants_and_reviewers_get_403_on_admin_and_audit(world: World, who: str) -> None:
    assert len(PRIVILEGED) >= 20
    token = getattr(world, who)
    for op in PRIVILEGED:
        snapshot = world.api.db_snapshot()
        body = {} if op.body is not None else None
        result = world.api.call(op.method, op.url(user_id=user_id(world.api, OTHER)), body, token=token)
        assert_problem(result, 403, "forbidden", f"{who} {op.name}")
        assert world.api.db_snapshot() == snapshot, op.name


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_privileged_role_without_totp_gets_403_totp_enrollment_required(api: Api, role: str) -> None:
    api.register(AUDITOR)
    from events.model import Context
    from services import users

    users.set_roles(api.deps, user_id(api, AUDITOR), [role], Context())
    token = api.login(AUDITOR)["access_token"]  # no TOTP enrolled, so amr lacks otp
    reachable = [op for op in PRIVILEGED if op.access == "audit:read" or role == "admin"]
    for op in reachable:
        body = {} if op.body is not None else None
        result = api.call(op.method, op.url(), body, token=token)
        assert_problem(result, 403, "totp_enrollment_required", f"{role} {op.name}")


def test_enrolled_admin_cannot_obtain_a_password_only_token(api: Api) -> None:
    api.user(AUDITOR, ["admin"])  # enrols TOTP
    result = api.call("POST", "/api/auth/login", {"email": AUDITOR, "password": PASSWORD})
    assert_problem(result, 401, "totp_required")


def _app_routes(world: World, app_id: str, attachment_id: str) -> list[tuple[str, str, Any]]:
    base = f"/api/applications/{app_id}"
    return [
        ("GET", base, None),
        ("PATCH", base, {"title": "stolen"}),
        ("POST", f"{base}/status", {"status": "withdrawn"}),
        ("GET", f"{base}/history", None),
        ("GET", f"{base}/attachments", None),
        ("GET", f"{base}/attachments/{attachment_id}", None),
    ]


def test_another_users_application_is_404_identical_to_a_missing_one(world: World) -> None:
    upload = world.api.call(
        "POST",
        f"/api/applications/{world.app_id}/attachments",
        PDF,
        token=world.owner,
        content_type="application/pdf",
        headers={"Content-Type": "application/pdf", "X-Filename": "a.pdf"},
    )
    assert upload.status_code == 201, upload.text
    theirs = _app_routes(world, world.app_id, upload.json["id"])
    missing = _app_routes(world, "0" * 32, "0" * 32)
    snapshot = world.api.db_snapshot()
    for (method, path, body), (_, gone, _) in zip(theirs, missing, strict=True):
        foreign = world.api.call(method, path, body, token=world.other)
        absent = world.api.call(method, gone, body, token=world.other)
        problem = assert_problem(foreign, 404, "not_found", f"{method} {path}")
        assert stable(problem) == stable(absent.json), f"{method} {path}"
        assert world.api.db_snapshot() == snapshot, f"{method} {path}"
    # Control: the owner reaches every one of them.
    for method, path, _ in theirs:
        if method == "GET":
            assert world.api.call(method, path, token=world.owner).status_code == 200, path


def test_another_users_applications_are_not_listed(world: World) -> None:
    listed = world.api.call("GET", "/api/applications", token=world.other)
    assert listed.json["items"] == []
    owner_filter = world.api.call(
        "GET", "/api/applications", token=world.other, params={"owner_id": user_id(world.api, "owner@example.com")}
    )
    assert owner_filter.status_code in (200, 403, 404)
    if owner_filter.status_code == 200:
        assert owner_filter.json["items"] == []


@pytest.mark.parametrize(
    "extra",
    [{"roles": ["admin"]}, {"roles": "admin"}, {"email_verified": True}, {"status": "active"}, {"totp_enabled": True}],
    ids=lambda e: next(iter(e)),
)
def test_registration_cannot_carry_privileges(api: Api, extra: dict[str, Any]) -> None:
    body = {"email": "climber@example.com", "password": PASSWORD, "full_name": "Climber", **extra}
    snapshot = api.db_snapshot()
    problem = assert_problem(api.call("POST", "/api/auth/register", body), 422, "unknown_field")
    assert problem["errors"] == [{"field": next(iter(extra)), "code": "unknown_field"}]
    assert api.db_snapshot() == snapshot


@pytest.mark.parametrize("extra", [{"roles": ["admin"]}, {"email_verified": True}, {"status": "active"}])
def test_profile_update_cannot_carry_privileges(world: World, extra: dict[str, Any]) -> None:
    snapshot = world.api.db_snapshot()
    result = world.api.call("PATCH", "/api/users/me", {"full_name": "X", **extra}, token=world.owner)
    assert_problem(result, 422, "unknown_field")
    assert world.api.db_snapshot() == snapshot
    assert world.api.call("GET", "/api/users/me", token=world.owner).json["roles"] == ["applicant"]
