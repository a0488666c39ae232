"""Retention purge over the wire (SPEC §7): rebuild equality, verification, tamper, resume."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from core.clock import FixedClock
from services.deps import Deps
from services.integrity import seal_now, verify_all
from services.purge import plan, purge
from services.users import find_by_email
from tests.conftest import Api

pytestmark = pytest.mark.integration

RETENTION_DAYS = 30


@pytest.fixture
def deps(wire_deps: Deps) -> Deps:
    wire_deps.settings = dataclasses.replace(wire_deps.settings, data_retention_days=RETENTION_DAYS)
    return wire_deps


def views(deps: Deps) -> dict[str, list[Any]]:
    names = [name for view in deps.projector.views for name in view.collections]
    return {name: sorted(map(repr, deps.db[name].find({}))) for name in names}


def activity(api: Api, tag: str, reviewer: str) -> dict[str, str]:
    """Users, logins, a failed login, applications moving through the workflow."""
    token = api.user(f"{tag}@example.com")
    api.call("POST", "/api/auth/login", {"email": f"{tag}@example.com", "password": "wrong password here"})
    made = api.call("POST", "/api/applications", {"title": f"{tag} app", "body": "text"}, token=token)
    assert made.status_code == 201, made.text
    app_id = made.json["id"]
    assert (
        api.call("POST", f"/api/applications/{app_id}/status", {"status": "submitted"}, token=token).status_code == 200
    )
    moved = api.call("POST", f"/api/applications/{app_id}/status", {"status": "under_review"}, token=reviewer)
    assert moved.status_code == 200, moved.text
    return {"token": token, "app": app_id}


def old_log(deps: Deps, clock: FixedClock) -> tuple[Api, dict[str, str], str]:
    api = Api(deps)
    reviewer = api.user("reviewer@example.com", roles=["reviewer"])
    first = activity(api, "early", reviewer)
    seal_now(deps)
    clock.advance(days=RETENTION_DAYS + 10)
    # New events on old streams: the early application and the reviewer go on living.
    reviewer = api.login("reviewer@example.com")["access_token"]
    approve = {"status": "approved", "reason": "fine"}
    assert api.call("POST", f"/api/applications/{first['app']}/status", approve, token=reviewer).status_code == 200
    activity(api, "late", reviewer)
    seal_now(deps)
    return api, first, reviewer


def test_purge_then_rebuild_equals_live_and_log_verifies(deps: Deps, clock: FixedClock) -> None:
    api, first, reviewer = old_log(deps, clock)
    head = deps.store.head_position()
    expected = plan(deps)
    assert expected.horizon > 0 and expected.horizon < head

    result = purge(deps)

    assert result["events"] == expected.horizon
    assert deps.db["events"].count_documents({"_id": {"$lte": expected.horizon}}) == 0
    assert deps.db["events"].count_documents({}) == head - expected.horizon
    report = verify_all(deps)
    assert report.ok, report.first_failure
    assert (report.purged, report.events_checked) == (expected.horizon, head - expected.horizon)
    assert deps.db["checkpoints"].count_documents({"purged_by": 1}) >= 1

    live = views(deps)
    deps.projector.rebuild()
    assert views(deps) == live

    # A stream whose every event went keeps working: the next append chains on its signed head.
    early = find_by_email(deps, "early@example.com")
    assert early is not None
    early_stream = f"user-{early.id}"
    assert deps.db["events"].count_documents({"stream": early_stream}) == 0
    assert api.login("early@example.com")["access_token"]
    assert deps.db["events"].count_documents({"stream": early_stream}) >= 1
    seal_now(deps)
    assert verify_all(deps).ok
    live = views(deps)
    deps.projector.rebuild()
    assert views(deps) == live


def test_second_purge_builds_on_the_first(deps: Deps, clock: FixedClock) -> None:
    api, _, _ = old_log(deps, clock)
    purge(deps)
    clock.advance(days=RETENTION_DAYS + 10)
    api.login("late@example.com")
    seal_now(deps)
    live = views(deps)
    second = purge(deps)
    assert second["purge"] == 2 and second["events"] > 0
    report = verify_all(deps)
    assert report.ok, report.first_failure
    deps.projector.rebuild()
    assert views(deps) == live


def test_dry_run_changes_nothing(deps: Deps, clock: FixedClock) -> None:
    api, _, _ = old_log(deps, clock)
    before = api.db_snapshot()
    result = purge(deps, dry_run=True)
    assert result["dry_run"] is True and result["events"] == plan(deps).horizon > 0 and result["streams"] > 0
    assert api.db_snapshot() == before


def test_nothing_due_purges_nothing(deps: Deps, clock: FixedClock) -> None:
    api = Api(deps)
    api.user("fresh@example.com")
    seal_now(deps)
    result = purge(deps)
    assert result["events"] == 0 and deps.db["retention_purges"].count_documents({}) == 0


def test_unsealed_old_events_wait_for_a_checkpoint(deps: Deps, clock: FixedClock) -> None:
    Api(deps).user("unsealed@example.com")
    clock.advance(days=RETENTION_DAYS + 1)
    assert plan(deps).horizon == 0


def test_purge_refuses_a_log_that_does_not_verify(deps: Deps, clock: FixedClock) -> None:
    old_log(deps, clock)
    deps.db["events"].update_one({"_id": 3}, {"$set": {"actor": "someone-else"}})
    with pytest.raises(RuntimeError, match="position 3"):
        purge(deps)
    assert deps.db["events"].count_documents({"_id": 1}) == 1


class TestTamperAfterPurge:
    @pytest.fixture
    def purged(self, deps: Deps, clock: FixedClock) -> int:
        old_log(deps, clock)
        return purge(deps)["horizon"]

    def test_deleting_a_kept_event_fails_at_it(self, deps: Deps, purged: int) -> None:
        deps.db["events"].delete_one({"_id": purged + 2})
        report = verify_all(deps)
        assert report.first_failure is not None and report.first_failure.position == purged + 2

    def test_deleting_the_first_kept_event_fails_at_it(self, deps: Deps, purged: int) -> None:
        deps.db["events"].delete_one({"_id": purged + 1})
        report = verify_all(deps)
        assert report.first_failure is not None and report.first_failure.position == purged + 1

    def test_removing_the_purge_record_fails(self, deps: Deps, purged: int) -> None:
        deps.db["retention_purges"].delete_many({})
        report = verify_all(deps)
        assert report.first_failure is not None and report.first_failure.position == 1

    def test_stretching_the_horizon_breaks_the_signature(self, deps: Deps, purged: int) -> None:
        deps.db["events"].delete_one({"_id": purged + 1})
        deps.db["retention_purges"].update_one({"_id": 1}, {"$inc": {"horizon": 1}})
        report = verify_all(deps)
        assert report.first_failure is not None
        assert "signature" in report.first_failure.reason

    def test_edited_stream_head_fails(self, deps: Deps, purged: int) -> None:
        deps.db["retention_heads"].update_one({}, {"$inc": {"version": 1}})
        report = verify_all(deps)
        assert report.first_failure is not None and "heads" in report.first_failure.reason

    def test_deleted_purged_checkpoint_fails(self, deps: Deps, purged: int) -> None:
        deps.db["checkpoints"].delete_one({"_id": 1})
        assert not verify_all(deps).ok
