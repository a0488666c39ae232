"""Data-subject requests: export (right of access) and erasure (crypto-shredding).

Every request is a ``dsr-<id>`` stream: ``dsr.requested`` (kind, 30-day deadline)
then ``dsr.completed`` (outcome). No PII goes into these events, only ids.

Erasure, in order, each step safe to repeat (``resume_erasures`` finishes a request
a crash interrupted):
1. one atomic append: ``user.erased`` + ``auth.all_sessions_revoked`` on the user's
   stream, ``email.released`` on the email claim stream, ``dsr.requested``. The views
   scrub the user's and their applications' PII from that event, so a rebuild from
   the log lands on the same scrubbed state; sessions end; the address is free;
2. destroy the data key (a tombstone, no copy left in this process's cache): every
   sealed value in events, views and held mail stops opening, everywhere;
3. delete held mail to the subject and their attachments' (sealed) bytes: neither
   is derived from events, so no rebuild would scrub them;
4. ``dsr.completed``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from core.clock import utc
from core.errors import NotFound, PasswordMismatch, ValidationFailed
from events.model import Context, NewEvent, RecordedEvent, StreamAppend, stream_id
from events.store import EventFilter
from events.types import EventType as T
from services import applications, consents
from services.audit import REDACTED, event_view
from services.claims import claim_holder
from services.deps import Deps
from services.users import load_user, user_view

FORMAT_VERSION = 1
DEADLINE = timedelta(days=30)
EXPORT = "export"
ERASURE = "erasure"
EVENT_BATCH = 500
ATTACHMENTS = "attachments"  # services/attachments.py: sealed bytes and filename, by application
# Belt and braces over services/audit.py's list: no secret leaves in an export.
SECRET_MARKERS = ("hash", "secret", "token")


def _request(deps: Deps, subject_id: str, kind: str) -> tuple[str, StreamAppend]:
    request_id = uuid.uuid4().hex
    data = {"subject": subject_id, "kind": kind, "deadline": deps.clock.now() + DEADLINE}
    return request_id, StreamAppend(stream_id("dsr", request_id), 0, (NewEvent(T.DSR_REQUESTED, data),))


def _complete(deps: Deps, request_id: str, outcome: str, ctx: Context) -> None:
    def decide() -> None:
        doc = deps.db["dsr_requests"].find_one({"_id": request_id})
        if doc is None or doc["status"] == "completed":
            return
        event = NewEvent(T.DSR_COMPLETED, {"subject": doc["subject"], "kind": doc["kind"], "outcome": outcome})
        deps.commit([StreamAppend(stream_id("dsr", request_id), doc["version"], (event,))], ctx)

    deps.retrying(decide)


# --- export --------------------------------------------------------------------------


def export(deps: Deps, subject_id: str, ctx: Context) -> dict[str, Any]:
    request_id, requested = _request(deps, subject_id, EXPORT)
    deps.commit([requested], ctx)
    document = build_export(deps, subject_id, request_id)
    _complete(deps, request_id, "delivered", ctx)
    return document


def build_export(deps: Deps, subject_id: str, request_id: str) -> dict[str, Any]:
    user = load_user(deps, subject_id)
    if user is None:
        raise NotFound()
    profile = {
        **user_view(deps, user),
        "status": user.doc["status"],
        "last_login_at": user.doc.get("last_login_at"),
        "updated_at": user.doc.get("updated_at"),
    }
    return {
        "format_version": FORMAT_VERSION,
        "generated_at": deps.clock.now(),
        "request_id": request_id,
        "subject": profile,
        "consents": consents.current(deps, subject_id),
        "applications": _applications(deps, subject_id),
        "sessions": _sessions(deps, subject_id),
        "dsr_requests": [request_view(deps, d) for d in deps.db["dsr_requests"].find({"subject": subject_id})],
        "events": [_exported_event(deps, e) for e in _events_about(deps, subject_id)],
    }


def _applications(deps: Deps, owner: str) -> list[dict[str, Any]]:
    out = []
    for doc in deps.db["applications"].find({"owner_id": owner}).sort("created_position", 1):
        item = applications.view(deps, doc)
        item["history"] = [
            {
                k: v
                for k, v in _exported_event(deps, e).items()
                if k in ("position", "type", "occurred_at", "actor", "data")
            }
            for e in deps.store.read_stream(stream_id("application", doc["_id"]))
        ]
        item["attachments"] = _attachments(deps, doc)
        out.append(item)
    return out


def _attachments(deps: Deps, app_doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Attachment metadata (not the bytes: those are downloadable one by one)."""
    found = deps.db[ATTACHMENTS].find({"application_id": app_doc["_id"]}, {"data": 0}).sort("created_at", 1)
    return [
        {
            "id": a["_id"],
            "filename": deps.vault.open(a["owner_id"], "attachment_filename", a.get("filename")),
            "content_type": a.get("content_type"),
            "size": a.get("size"),
            "sha256": a.get("sha256"),
            "created_at": a.get("created_at"),
        }
        for a in found
    ]


def _sessions(deps: Deps, subject_id: str) -> list[dict[str, Any]]:
    # Token hashes stay behind: they are credentials, not information about the person.
    return [
        {
            "id": s["_id"],
            "status": s["status"],
            "amr": s.get("amr", []),
            "started_at": s["started_at"],
            "last_used_at": s.get("last_used_at"),
            "ended_at": s.get("ended_at"),
            "end_reason": s.get("end_reason"),
        }
        for s in deps.db["sessions"].find({"user_id": subject_id}).sort("started_position", 1)
    ]


def _events_about(deps: Deps, subject_id: str) -> Iterator[RecordedEvent]:
    after = 0
    while True:
        batch = deps.store.query(EventFilter(subject=subject_id), after, EVENT_BATCH)
        yield from batch
        if len(batch) < EVENT_BATCH:
            return
        after = batch[-1].position


def _exported_event(deps: Deps, event: RecordedEvent) -> dict[str, Any]:
    shown = event_view(deps, event, reveal_pii=True)
    shown["data"] = {
        k: (REDACTED if v is not None and any(m in k for m in SECRET_MARKERS) else v) for k, v in shown["data"].items()
    }
    return shown


# --- erasure -------------------------------------------------------------------------


def erase(deps: Deps, subject_id: str, password: str, confirm: str, ctx: Context) -> dict[str, Any]:
    if confirm != "DELETE":
        raise ValidationFailed(
            'Send confirm: "DELETE" to erase your account.',
            errors=[{"field": "confirm", "code": "confirmation_required"}],
            code="confirmation_required",
        )
    user = load_user(deps, subject_id)
    if user is None or user.doc["status"] == "erased":
        raise NotFound()
    stored = deps.vault.open(user.id, "password_hash", user.doc.get("password_hash"))
    # Re-authenticate: a stolen access token alone must not be able to destroy an account.
    if not deps.hasher.verify(stored if stored and stored.startswith("$argon2") else None, password):
        # A wrong password here counts towards the lockout like one at login, so the
        # holder of a stolen token cannot guess passwords here without limit.
        deps.retrying(lambda: _wrong_password(deps, subject_id, ctx))
        raise PasswordMismatch()
    request_id = deps.retrying(lambda: _record_erasure(deps, subject_id, ctx))
    finish_erasure(deps, request_id, subject_id, ctx)
    return {"request_id": request_id, "status": "completed"}


def _wrong_password(deps: Deps, subject_id: str, ctx: Context) -> None:
    from services.auth import _record_failure  # the one lockout rule, shared with login

    user = load_user(deps, subject_id)
    if user is not None:
        _record_failure(deps, user, "wrong_password", deps.clock.now(), ctx)


def _record_erasure(deps: Deps, subject_id: str, ctx: Context) -> str:
    user = load_user(deps, subject_id)
    if user is None or user.doc["status"] == "erased":
        raise NotFound()
    request_id, requested = _request(deps, user.id, ERASURE)
    erased = NewEvent(T.USER_ERASED, {"subject": user.id, "request_id": request_id})
    revoked = NewEvent(T.ALL_SESSIONS_REVOKED, {"subject": user.id, "reason": "erasure"})
    appends = [StreamAppend(stream_id("user", user.id), user.version, (erased, revoked)), requested]
    claim_stream = stream_id("email", user.doc["email_index"])
    claims = deps.store.read_stream(claim_stream)
    if claim_holder(claims) == user.id:
        # Free the address: it may register again, as a new person with a new key.
        released = NewEvent(T.EMAIL_RELEASED, {"subject": user.id, "request_id": request_id})
        appends.append(StreamAppend(claim_stream, claims[-1].version, (released,)))
    deps.commit(appends, ctx)
    return request_id


def finish_erasure(deps: Deps, request_id: str, subject_id: str, ctx: Context) -> None:
    deps.keys.destroy(subject_id)
    # Not derived from events, so a rebuild would not scrub them: delete them here.
    deps.db["outbox"].delete_many({"subject_id": subject_id})
    deps.db[ATTACHMENTS].delete_many({"owner_id": subject_id})
    _complete(deps, request_id, "erased", ctx)


def resume_erasures(deps: Deps) -> dict[str, Any]:
    """Finish erasures that recorded their events but stopped before completing."""
    pending = list(deps.db["dsr_requests"].find({"kind": ERASURE, "status": "in_progress"}, {"subject": 1}))
    for doc in pending:
        finish_erasure(deps, doc["_id"], doc["subject"], Context())
    return {"resumed": len(pending)}


# --- the DSR trail -------------------------------------------------------------------


def request_view(deps: Deps, doc: dict[str, Any]) -> dict[str, Any]:
    deadline = utc(doc["deadline"])
    done = doc.get("completed_at")
    return {
        "id": doc["_id"],
        "subject": doc["subject"],
        "kind": doc["kind"],
        "status": doc["status"],
        "requested_at": utc(doc["requested_at"]),
        "deadline": deadline,
        "completed_at": utc(done) if done else None,
        "outcome": doc.get("outcome"),
        "overdue": done is None and deps.clock.now() > deadline,
    }
