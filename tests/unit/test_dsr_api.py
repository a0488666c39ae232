"""GDPR: consents, export, erasure and the DSR trail through the HTTP API (mongomock)."""

from __future__ import annotations

from typing import Any

import pytest

from core.clock import FixedClock, isoformat
from events.model import Context, stream_id
from events.types import EventType as T
from services import dsr, users
from tests.conftest import Api

PASSWORD = "correct horse battery staple"
EMAIL = "ada.lovelace@example.com"
NAME = "Ada Augusta Lovelace"
TITLE = "Analytical engine grant"
BODY = "Notes on the engine by a distinctive applicant"


def uid(api: Api, email: str) -> str:
    found = users.find_by_email(api.deps, email)
    assert found is not None
    return found.id


def types_of(api: Api) -> list[str]:
    return [e.type for e in api.deps.store.read_all()]


@pytest.fixture
def ada(api: Api) -> str:
    api.register(EMAIL, name=NAME)
    return api.login(EMAIL)["access_token"]


# --- registration normalization (SPEC §5) ----------------------------------------------


def test_case_and_width_variants_of_an_email_are_one_account(api: Api) -> None:
    api.register("Alice@Example.com")
    for variant in ("ａｌｉｃｅ@example.com", "ALICE@EXAMPLE.COM"):
        again = api.call(
            "POST", "/api/auth/register", {"email": variant, "password": PASSWORD, "full_name": "Alice Again"}
        )
        assert again.status_code == 202, again.text
    assert api.deps.db["users"].count_documents({}) == 1
    assert types_of(api).count(T.USER_REGISTERED) == 1
    assert types_of(api).count(T.REGISTRATION_DUPLICATE) == 2
    for variant in ("alice@example.com", "ａｌｉｃｅ@example.com", " ALICE@EXAMPLE.COM"):
        assert api.call("POST", "/api/auth/login", {"email": variant, "password": PASSWORD}).status_code == 200


# --- consents --------------------------------------------------------------------------


def test_consents_default_to_not_granted_for_every_configured_purpose(api: Api, ada: str) -> None:
    result = api.call("GET", "/api/consents", token=ada)
    assert result.status_code == 200, result.text
    assert result.json == {
        "items": [
            {"purpose": p, "granted": False, "updated_at": None} for p in ("marketing_email", "analytics", "research")
        ]
    }


def test_grant_and_withdraw_are_events_and_the_view_follows(api: Api, ada: str, clock: FixedClock) -> None:
    granted = api.call("PUT", "/api/consents/research", {"granted": True}, token=ada)
    assert granted.status_code == 200, granted.text
    assert granted.json == {"purpose": "research", "granted": True, "updated_at": isoformat(clock.now())}
    clock.advance(minutes=1)
    assert api.call("PUT", "/api/consents/research", {"granted": False}, token=ada).json["granted"] is False
    items = {i["purpose"]: i["granted"] for i in api.call("GET", "/api/consents", token=ada).json["items"]}
    assert items == {"marketing_email": False, "analytics": False, "research": False}
    consent_events = [e for e in api.deps.store.read_all() if e.stream.startswith("consent-")]
    assert [e.type for e in consent_events] == [T.CONSENT_GRANTED, T.CONSENT_WITHDRAWN]
    assert all(e.data == {"subject": uid(api, EMAIL), "purpose": "research"} for e in consent_events)


def test_repeating_the_same_answer_records_nothing(api: Api, ada: str) -> None:
    api.call("PUT", "/api/consents/analytics", {"granted": True}, token=ada)
    before = api.db_snapshot()
    again = api.call("PUT", "/api/consents/analytics", {"granted": True}, token=ada)
    assert again.status_code == 200 and again.json["granted"] is True
    assert api.db_snapshot() == before


def test_purposes_come_from_configuration(api: Api) -> None:
    import dataclasses

    api.deps.settings = dataclasses.replace(api.deps.settings, consent_purposes=("newsletter",))
    token = api.user("cfg@example.com")
    assert [i["purpose"] for i in api.call("GET", "/api/consents", token=token).json["items"]] == ["newsletter"]
    assert api.call("PUT", "/api/consents/newsletter", {"granted": True}, token=token).status_code == 200
    assert api.call("PUT", "/api/consents/research", {"granted": True}, token=token).status_code == 404


@pytest.mark.parametrize(
    "purpose, body, status, code",
    [
        ("telepathy", {"granted": True}, 404, "not_found"),
        ("purposes.research", {"granted": True}, 404, "not_found"),
        ("$where", {"granted": True}, 404, "not_found"),
        ("research", {"granted": "yes"}, 422, "wrong_type"),
        ("research", {"granted": 1}, 422, "wrong_type"),
        ("research", {}, 422, "missing"),
        ("research", {"granted": True, "purpose": "analytics"}, 422, "unknown_field"),
    ],
)
def test_bad_consent_requests_change_nothing(
    api: Api, ada: str, purpose: str, body: dict[str, Any], status: int, code: str
) -> None:
    before = api.db_snapshot()
    result = api.call("PUT", f"/api/consents/{purpose}", body, token=ada)
    assert result.status_code == status, result.text
    assert result.headers["content-type"] == "application/problem+json"
    assert result.json["code"] == code
    assert api.db_snapshot() == before


def test_consents_need_authentication(api: Api) -> None:
    assert api.call("GET", "/api/consents").status_code == 401
    assert api.call("PUT", "/api/consents/research", {"granted": True}).status_code == 401


# --- export ----------------------------------------------------------------------------


@pytest.fixture
def busy_ada(api: Api, ada: str, clock: FixedClock) -> dict[str, Any]:
    """Ada with an application moved through the workflow, consents, two sessions, a failure."""
    reviewer = api.user("reviewer@example.com", roles=["reviewer"])
    created = api.call("POST", "/api/applications", {"title": TITLE, "body": BODY}, token=ada).json
    api.call("PATCH", f"/api/applications/{created['id']}", {"body": BODY + " (revised)"}, token=ada)
    api.call("POST", f"/api/applications/{created['id']}/status", {"status": "submitted"}, token=ada)
    api.call("POST", f"/api/applications/{created['id']}/status", {"status": "under_review"}, token=reviewer)
    api.call(
        "POST",
        f"/api/applications/{created['id']}/status",
        {"status": "rejected", "reason": "Ada's budget is unclear"},
        token=reviewer,
    )
    api.call("PUT", "/api/consents/marketing_email", {"granted": True}, token=ada)
    api.call("POST", "/api/auth/login", {"email": EMAIL, "password": "not the password at all"})
    clock.advance(minutes=1)
    second = api.login(EMAIL)
    return {"token": second["access_token"], "app_id": created["id"], "reviewer": reviewer}


def test_export_is_a_download_with_a_format_version(api: Api, busy_ada: dict[str, Any]) -> None:
    result = api.call("GET", "/api/dsr/export", token=busy_ada["token"])
    assert result.status_code == 200, result.text
    assert result.headers["content-disposition"].startswith("attachment;")
    assert result.headers["content-type"].startswith("application/json")
    assert result.json["format_version"] == 1
    assert set(result.json) >= {"format_version", "generated_at", "subject", "consents", "applications"}
    assert set(result.json) >= {"sessions", "events", "dsr_requests"}


def test_export_holds_everything_the_api_shows_elsewhere(api: Api, busy_ada: dict[str, Any]) -> None:
    token, app_id = busy_ada["token"], busy_ada["app_id"]
    subject = uid(api, EMAIL)
    export = api.call("GET", "/api/dsr/export", token=token).json

    me = api.call("GET", "/api/users/me", token=token).json
    assert {k: export["subject"][k] for k in me} == me
    assert export["subject"]["email"] == EMAIL and export["subject"]["full_name"] == NAME

    assert export["consents"] == api.call("GET", "/api/consents", token=token).json["items"]

    listed = api.call("GET", "/api/applications", token=token).json["items"]
    assert [{k: a[k] for k in listed[0]} for a in export["applications"]] == listed
    history = api.call("GET", f"/api/applications/{app_id}/history", token=token).json["items"]
    assert export["applications"][0]["history"] == history
    assert export["applications"][0]["reason"] == "Ada's budget is unclear"

    auditor = api.user("auditor@example.com", roles=["auditor"])
    audited = api.call("GET", "/api/audit/events", token=auditor, params={"subject": subject, "limit": 200}).json
    exported = {e["position"]: e for e in export["events"]}
    # Every event about Ada up to the export is in it, PII opened as the auditor sees it.
    for event in audited["items"]:
        if event["position"] in exported:
            assert exported[event["position"]] == event
    about = [e.position for e in api.deps.store.read_all() if e.data.get("subject") == subject]
    assert sorted(exported) == [p for p in about if p <= max(exported)]
    assert {T.USER_REGISTERED, T.LOGIN_FAILED, T.CONSENT_GRANTED, T.APPLICATION_CREATED, T.DSR_REQUESTED} <= {
        e["type"] for e in export["events"]
    }

    session_ids = sorted(d["_id"] for d in api.deps.db["sessions"].find({"user_id": subject}))
    assert sorted(s["id"] for s in export["sessions"]) == session_ids and len(session_ids) == 2

    requests = api.call("GET", "/api/dsr/requests", token=token).json["items"]
    assert [r["id"] for r in requests] == [export["request_id"]]
    assert requests[0]["kind"] == "export" and requests[0]["status"] == "completed"


def test_export_never_contains_secrets(api: Api, busy_ada: dict[str, Any]) -> None:
    export = api.call("GET", "/api/dsr/export", token=busy_ada["token"])
    subject = uid(api, EMAIL)
    doc = api.deps.db["users"].find_one({"_id": subject})
    sessions = list(api.deps.db["sessions"].find({"user_id": subject}))
    secrets = [s["refresh_hash"] for s in sessions] + [doc["password_hash"]]
    hashed = api.deps.vault.open(subject, "password_hash", doc["password_hash"])
    assert hashed and hashed.startswith("$argon2")
    for secret in [*secrets, hashed]:
        assert secret not in export.text
    registered = next(e for e in export.json["events"] if e["type"] == T.USER_REGISTERED)
    assert registered["data"]["password_hash"] == "[redacted]"
    assert registered["data"]["email"] == EMAIL


# --- erasure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"password": PASSWORD, "confirm": "delete"}, 422, "confirmation_required"),
        ({"password": PASSWORD, "confirm": "yes"}, 422, "confirmation_required"),
        ({"password": PASSWORD}, 422, "missing"),
        ({"confirm": "DELETE"}, 422, "missing"),
        ({"password": PASSWORD, "confirm": "DELETE", "everything": True}, 422, "unknown_field"),
        ({"password": {"$ne": ""}, "confirm": "DELETE"}, 422, "invalid_key"),
        ({"password": 12345678901234, "confirm": "DELETE"}, 422, "wrong_type"),
    ],
)
def test_bad_erasure_requests_change_nothing(api: Api, ada: str, body: dict[str, Any], status: int, code: str) -> None:
    before = api.db_snapshot()
    result = api.call("POST", "/api/dsr/delete", body, token=ada)
    assert result.status_code == status, result.text
    assert result.json["code"] == code
    assert api.db_snapshot() == before
    assert api.call("GET", "/api/users/me", token=ada).json["email"] == EMAIL


def test_a_wrong_password_erases_nothing_and_counts_towards_the_lockout(api: Api, ada: str) -> None:
    before = api.db_snapshot()
    for attempt in range(5):
        result = api.call(
            "POST", "/api/dsr/delete", {"password": "not my password at all", "confirm": "DELETE"}, token=ada
        )
        assert (result.status_code, result.json["code"]) == (403, "invalid_password")
        if attempt == 0:
            added = [e for e in api.deps.store.read_all() if e.event_id not in before["__events__"]]
            assert [(e.type, e.data["reason"]) for e in added] == [(T.LOGIN_FAILED, "wrong_password")]
            assert T.USER_ERASED not in types_of(api) and T.DSR_REQUESTED not in types_of(api)
    assert T.ACCOUNT_LOCKED in types_of(api)
    assert api.deps.db["users"].find_one({"_id": uid(api, EMAIL)})["status"] == "active"
    assert api.call("GET", "/api/users/me", token=ada).json["full_name"] == NAME
    locked = api.call("POST", "/api/auth/login", {"email": EMAIL, "password": PASSWORD})
    assert (locked.status_code, locked.json["code"]) == (401, "invalid_credentials")


def test_erasure_needs_authentication(api: Api, ada: str) -> None:
    before = api.db_snapshot()
    result = api.call("POST", "/api/dsr/delete", {"password": PASSWORD, "confirm": "DELETE"})
    assert result.status_code == 401
    assert api.db_snapshot() == before


def erase(api: Api, token: str) -> dict[str, Any]:
    result = api.call("POST", "/api/dsr/delete", {"password": PASSWORD, "confirm": "DELETE"}, token=token)
    assert result.status_code == 202, result.text
    return result.json


def test_after_erasure_nothing_about_the_subject_opens(api: Api, busy_ada: dict[str, Any]) -> None:
    subject = uid(api, EMAIL)
    auditor = api.user("auditor@example.com", roles=["auditor"])
    answer = erase(api, busy_ada["token"])
    assert answer["status"] == "completed" and len(answer["request_id"]) == 32

    # Login fails exactly like a wrong password; every token of Ada stops working.
    failed = api.call("POST", "/api/auth/login", {"email": EMAIL, "password": PASSWORD})
    assert failed.status_code == 401 and failed.json["code"] == "invalid_credentials"
    assert api.call("GET", "/api/users/me", token=busy_ada["token"]).status_code == 401
    assert all(s["status"] != "active" for s in api.deps.db["sessions"].find({"user_id": subject}))

    # The events stay, and the auditor sees them redacted as erased.
    events = api.call("GET", "/api/audit/events", token=auditor, params={"subject": subject, "limit": 200}).json
    registered = next(e for e in events["items"] if e["type"] == T.USER_REGISTERED)
    assert registered["data"]["email"] == "[erased]" and registered["data"]["full_name"] == "[erased]"
    created = next(e for e in events["items"] if e["type"] == T.APPLICATION_CREATED)
    assert created["data"]["title"] == "[erased]" and created["data"]["body"] == "[erased]"
    assert NAME not in str(events) and TITLE not in str(events) and EMAIL not in str(events)

    # The reviewer still sees the application's status, but not its text.
    app = api.call("GET", f"/api/applications/{busy_ada['app_id']}", token=busy_ada["reviewer"]).json
    assert (app["status"], app["title"], app["body"], app["reason"]) == ("rejected", "[erased]", "[erased]", "[erased]")

    doc = api.deps.db["users"].find_one({"_id": subject})
    assert doc["status"] == "erased"
    assert all(doc[k] is None for k in ("email", "email_index", "full_name", "password_hash"))
    assert api.deps.db["outbox"].count_documents({"subject_id": subject}) == 0
    assert api.deps.db["consents"].count_documents({"_id": subject}) == 0
    assert api.deps.db["subject_keys"].find_one({"_id": subject}).keys() == {"_id", "destroyed_at"}
    assert api.call("GET", "/api/audit/verify", token=auditor).json["ok"] is True


def test_erasure_records_dsr_events_without_pii(api: Api, ada: str) -> None:
    subject = uid(api, EMAIL)
    request_id = erase(api, ada)["request_id"]
    dsr_events = [e for e in api.deps.store.read_all() if e.stream == f"dsr-{request_id}"]
    assert [e.type for e in dsr_events] == [T.DSR_REQUESTED, T.DSR_COMPLETED]
    assert dsr_events[0].data["kind"] == "erasure" and dsr_events[1].data["outcome"] == "erased"
    erased = [e for e in api.deps.store.read_all() if e.type == T.USER_ERASED]
    assert len(erased) == 1 and erased[0].data == {"subject": subject, "request_id": request_id}
    for event in dsr_events + erased:
        assert set(event.data) <= {"subject", "kind", "deadline", "outcome", "request_id"}


def test_the_address_can_register_again_as_a_new_person(api: Api, ada: str) -> None:
    old = uid(api, EMAIL)
    erase(api, ada)
    api.register(EMAIL.upper(), name="Someone Else")
    fresh = api.login(EMAIL)
    assert fresh["user"]["id"] != old
    assert fresh["user"]["full_name"] == "Someone Else"
    claims = [e.type for e in api.deps.store.read_all() if e.stream.startswith("email-")]
    assert claims == [T.EMAIL_CLAIMED, T.EMAIL_RELEASED, T.EMAIL_CLAIMED]


def test_erasing_twice_is_impossible(api: Api, ada: str) -> None:
    erase(api, ada)
    result = api.call("POST", "/api/dsr/delete", {"password": PASSWORD, "confirm": "DELETE"}, token=ada)
    assert result.status_code == 401


def test_a_rebuild_does_not_resurrect_anything(api: Api, busy_ada: dict[str, Any]) -> None:
    subject = uid(api, EMAIL)
    erase(api, busy_ada["token"])
    views = ("users", "applications", "sessions", "consents", "dsr_requests")
    live = {n: sorted(map(repr, api.deps.db[n].find({}))) for n in views}
    api.deps.projector.rebuild()
    assert {n: sorted(map(repr, api.deps.db[n].find({}))) for n in views} == live
    doc = api.deps.db["users"].find_one({"_id": subject})
    assert doc["status"] == "erased" and doc["email"] is None
    assert api.call("POST", "/api/auth/login", {"email": EMAIL, "password": PASSWORD}).status_code == 401


def test_nothing_can_be_sealed_for_an_erased_subject(api: Api, busy_ada: dict[str, Any]) -> None:
    subject = uid(api, EMAIL)
    erase(api, busy_ada["token"])
    from events.keys import SubjectErased

    with pytest.raises(SubjectErased):
        api.deps.vault.seal(subject, "email", "new@example.com")
    assert api.deps.db["subject_keys"].find_one({"_id": subject}).keys() == {"_id", "destroyed_at"}


# --- key cache across workers -----------------------------------------------------------


def test_another_workers_key_cache_stops_opening_within_its_bound(api: Api, ada: str, clock: FixedClock) -> None:
    from events.keys import CACHE_SECONDS, KeyStore, Vault

    subject = uid(api, EMAIL)
    sealed = api.deps.db["users"].find_one({"_id": subject})["email"]
    other_keys = KeyStore(api.deps.db["subject_keys"], api.deps.keys._keks, clock)  # a second gunicorn worker
    other = Vault(other_keys)
    assert other.open(subject, "email", sealed) == EMAIL  # now cached there
    erase(api, ada)
    assert api.deps.vault.open(subject, "email", sealed) == "[erased]"  # this worker evicted at once
    clock.advance(seconds=CACHE_SECONDS + 1)
    assert other.open(subject, "email", sealed) == "[erased]"


# --- the DSR trail ---------------------------------------------------------------------


def test_admin_lists_every_request_and_filters_by_status(api: Api, ada: str, clock: FixedClock) -> None:
    api.call("GET", "/api/dsr/export", token=ada)
    api.user("bob@example.com")
    bob_id = uid(api, "bob@example.com")
    # An erasure that recorded its events and stopped (a crash) stays in progress.
    stuck = dsr._record_erasure(api.deps, bob_id, Context(actor=bob_id))
    clock.advance(days=31)
    admin = api.user("admin@example.com", roles=["admin"])
    result = api.call("GET", "/api/admin/dsr", token=admin)
    assert result.status_code == 200, result.text
    assert {(r["kind"], r["status"]) for r in result.json["items"]} == {
        ("export", "completed"),
        ("erasure", "in_progress"),
    }
    overdue = api.call("GET", "/api/admin/dsr", token=admin, params={"status": "overdue"}).json["items"]
    assert [(r["id"], r["overdue"]) for r in overdue] == [(stuck, True)]
    report = api.call("GET", "/api/audit/reports/dsr", token=admin).json
    assert report["total"] == 2 and report["overdue"] == 1
    assert report["overdue_requests"][0]["id"] == stuck and report["overdue_requests"][0]["days_overdue"] == 1
    assert report["by_kind"]["erasure"] == {"requested": 1, "completed": 0, "in_progress": 1, "overdue": 1}

    assert dsr.resume_erasures(api.deps) == {"resumed": 1}
    report = api.call("GET", "/api/audit/reports/dsr", token=admin).json
    assert report["overdue"] == 0 and report["completed_late"] == 1
    assert report["outcomes"] == {"delivered": 1, "erased": 1}
    assert report["time_to_completion_seconds"]["max"] == 31 * 86400
    assert api.call("POST", "/api/auth/login", {"email": "bob@example.com", "password": PASSWORD}).status_code == 401


def test_every_request_has_a_30_day_deadline(api: Api, ada: str, clock: FixedClock) -> None:
    api.call("GET", "/api/dsr/export", token=ada)
    (request,) = api.call("GET", "/api/dsr/requests", token=ada).json["items"]
    assert request["deadline"] == isoformat(clock.now() + dsr.DEADLINE)
    assert request["overdue"] is False and request["completed_at"] is not None


def test_admin_paging_walks_every_request_once(api: Api, ada: str) -> None:
    admin = api.user("admin@example.com", roles=["admin"])
    for _ in range(5):
        api.call("GET", "/api/dsr/export", token=ada)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.call("GET", "/api/admin/dsr", token=admin, params=params).json
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 == len(set(seen))


@pytest.mark.parametrize(
    "params, code",
    [({"status": "lost"}, "invalid_status"), ({"cursor": "bm9wZQ"}, "invalid"), ({"limit": "0"}, "out_of_range")],
)
def test_bad_admin_dsr_queries_are_422(api: Api, params: dict[str, str], code: str) -> None:
    admin = api.user("admin@example.com", roles=["admin"])
    result = api.call("GET", "/api/admin/dsr", token=admin, params=params)
    assert result.status_code == 422, result.text
    assert result.json["errors"][0]["code"] == code


@pytest.mark.parametrize("path", ["/api/admin/dsr", "/api/audit/reports/dsr"])
def test_the_trail_is_for_admins_and_auditors_only(api: Api, ada: str, path: str) -> None:
    reviewer = api.user("reviewer@example.com", roles=["reviewer"])
    for token in (ada, reviewer):
        result = api.call("GET", path, token=token)
        assert result.status_code == 403 and result.json["code"] == "forbidden"


def test_callers_see_only_their_own_requests(api: Api, ada: str) -> None:
    bob = api.user("bob@example.com")
    api.call("GET", "/api/dsr/export", token=ada)
    assert api.call("GET", "/api/dsr/requests", token=bob).json["items"] == []


def test_the_worker_job_finishes_interrupted_erasures_and_warns_of_deadlines(
    api: Api, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    from services import dsr_trail

    api.user("bob@example.com")
    bob_id = uid(api, "bob@example.com")
    stuck = dsr._record_erasure(api.deps, bob_id, Context(actor=bob_id))
    assert api.deps.db["subject_keys"].find_one({"_id": bob_id}).get("wrapped")
    clock.advance(days=24)
    with caplog.at_level("WARNING"):
        assert dsr_trail.housekeeping(api.deps) == {"resumed": 1, "overdue": 0, "due_soon": 0, "reminded": 0}
    assert api.deps.db["subject_keys"].find_one({"_id": bob_id}).keys() == {"_id", "destroyed_at"}
    assert api.deps.db["dsr_requests"].find_one({"_id": stuck})["status"] == "completed"
    assert dsr_trail.housekeeping(api.deps)["resumed"] == 0
    # A request still open a week before its deadline is reminded of; past it, it is overdue.
    api.deps.commit([dsr._request(api.deps, bob_id, "export")[1]], Context())
    clock.advance(days=24)
    assert dsr_trail.housekeeping(api.deps) == {"resumed": 0, "overdue": 0, "due_soon": 1, "reminded": 1}
    clock.advance(days=7)
    with caplog.at_level("WARNING"):
        # The 1-day reminder was never sent (the job "missed" it): it goes now, once.
        assert dsr_trail.housekeeping(api.deps) == {"resumed": 0, "overdue": 1, "due_soon": 0, "reminded": 1}
    assert "dsr deadlines" in caplog.text


def test_deadline_reminders_go_once_at_7_and_at_1_day_before_to_admins(api: Api, clock: FixedClock) -> None:
    from services import dsr_trail

    api.user("dpo@example.com", ["admin"])
    api.user("carol@example.com")
    carol = uid(api, "carol@example.com")
    request_id, requested = dsr._request(api.deps, carol, "export")
    api.deps.commit([requested], Context())

    def reminders() -> list[int]:
        events = api.deps.store.read_stream(stream_id("dsr", request_id))
        return [e.data["days_before"] for e in events if e.type == T.DSR_DEADLINE_REMINDER]

    def mails() -> int:
        return sum(m["kind"] == "dsr_reminder" for m in api.deps.mailer.list(to="dpo@example.com"))

    clock.advance(days=22)  # 8 days left: nothing yet
    assert dsr_trail.housekeeping(api.deps)["reminded"] == 0 and reminders() == []
    clock.advance(days=1, hours=1)  # under 7 days left
    assert dsr_trail.housekeeping(api.deps)["reminded"] == 1
    assert dsr_trail.housekeeping(api.deps)["reminded"] == 0  # hourly runs do not repeat it
    assert reminders() == [7] and mails() == 1
    clock.advance(days=6)  # under 1 day left
    dsr_trail.housekeeping(api.deps)
    dsr_trail.housekeeping(api.deps)
    assert reminders() == [7, 1] and mails() == 2
    assert api.deps.db["dsr_requests"].find_one({"_id": request_id})["reminders_sent"] == [7, 1]


def test_reviewing_an_erased_applicants_application_cannot_seal_new_pii(api: Api, busy_ada: dict[str, Any]) -> None:
    reviewer = busy_ada["reviewer"]
    second = api.call("POST", "/api/applications", {"title": "Second", "body": ""}, token=busy_ada["token"]).json
    api.call("POST", f"/api/applications/{second['id']}/status", {"status": "submitted"}, token=busy_ada["token"])
    api.call("POST", f"/api/applications/{second['id']}/status", {"status": "under_review"}, token=reviewer)
    erase(api, busy_ada["token"])
    before = api.db_snapshot()
    path = f"/api/applications/{second['id']}/status"
    result = api.call("POST", path, {"status": "approved", "reason": "Looks fine to me"}, token=reviewer)
    assert (result.status_code, result.json["code"]) == (404, "not_found")
    assert api.db_snapshot() == before  # no fresh key was minted for Ada, nothing sealed
