"""GDPR read models: consents per subject, DSR requests, and what erasure scrubs.

``ERASURE_UPDATERS`` joins the users view: the erased flag and the scrubbing come
from the ``user.erased`` event itself, so a rebuild from the log lands on the same
scrubbed state (the sealed values in older events no longer open anyway).
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from events.model import RecordedEvent
from events.types import EventType as T
from projections.base import EntityView, ProjectionGap

ERASED_MARK = "[erased]"

# Every users-view field that holds PII or a credential of the subject.
USER_PII_FIELDS = (
    "email",
    "email_index",
    "full_name",
    "password_hash",
    "verification_hash",
    "totp_secret",
    "totp_pending_secret",
)


def _user_erased(e: RecordedEvent) -> dict[str, Any]:
    return {
        "$set": {
            **dict.fromkeys(USER_PII_FIELDS),
            "status": "erased",
            "roles": [],
            "erased_at": e.occurred_at,
            "updated_at": e.occurred_at,
        }
    }


ERASURE_UPDATERS = {T.USER_ERASED: _user_erased}


def scrub_applications(db: Database, event: RecordedEvent) -> None:
    """On ``user.erased``: the owner's applications keep their status, lose their text."""
    owner = event.data["subject"]
    apps = db["applications"]
    apps.update_many({"owner_id": owner}, {"$set": {"title": ERASED_MARK, "body": ERASED_MARK, "owner_erased": True}})
    apps.update_many({"owner_id": owner, "reason": {"$ne": None}}, {"$set": {"reason": ERASED_MARK}})


class ConsentsView:
    """One document per subject: ``{purposes: {name: {granted, updated_at}}}``, version-guarded."""

    name = "consents"
    collections = ("consents",)

    def __init__(self, db: Database) -> None:
        self.docs = db["consents"]

    def apply(self, event: RecordedEvent) -> None:
        if event.type == T.USER_ERASED:
            # Nothing to consent to any more; the events keep the history.
            self.docs.delete_one({"_id": event.data["subject"]})
            return
        if event.type not in (T.CONSENT_GRANTED, T.CONSENT_WITHDRAWN):
            return
        subject, purpose = event.data["subject"], event.data["purpose"]
        entry = {"granted": event.type == T.CONSENT_GRANTED, "updated_at": event.occurred_at}
        change = {"$set": {f"purposes.{purpose}": entry, "version": event.version}}
        if event.version == 1:
            try:
                self.docs.insert_one({"_id": subject, "purposes": {purpose: entry}, "version": 1})
            except DuplicateKeyError:
                pass  # already applied
            return
        result = self.docs.update_one({"_id": subject, "version": event.version - 1}, change)
        if result.matched_count == 0:
            current = self.docs.find_one({"_id": subject}, {"version": 1})
            if current is not None and current["version"] < event.version - 1:
                raise ProjectionGap(f"consents: {event.stream} v{event.version} has no predecessor applied")

    def ensure_indexes(self) -> None:
        pass  # looked up by _id only


class DsrRequestsView(EntityView):
    """DSR requests: who, which kind, status, deadline, outcome, completion time."""

    name = "dsr_requests"
    kind = "dsr"
    collections = ("dsr_requests",)

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.creators = {T.DSR_REQUESTED: _requested}
        self.updaters = {T.DSR_COMPLETED: _completed, T.DSR_DEADLINE_REMINDER: _reminded}

    def ensure_indexes(self) -> None:
        self.docs.create_index([("subject", ASCENDING), ("requested_at", DESCENDING)], name="subject")
        self.docs.create_index([("status", ASCENDING), ("deadline", ASCENDING)], name="status_deadline")


def _requested(e: RecordedEvent) -> dict[str, Any]:
    return {
        "subject": e.data["subject"],
        "kind": e.data["kind"],
        "status": "in_progress",
        "requested_at": e.occurred_at,
        "deadline": e.data["deadline"],
        "completed_at": None,
        "outcome": None,
    }


def _reminded(e: RecordedEvent) -> dict[str, Any]:
    return {"$addToSet": {"reminders_sent": e.data["days_before"]}}


def _completed(e: RecordedEvent) -> dict[str, Any]:
    return {"$set": {"status": "completed", "outcome": e.data["outcome"], "completed_at": e.occurred_at}}
