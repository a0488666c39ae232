"""Applications: owner, sealed title/body, status and timestamps."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING

from events.model import RecordedEvent
from events.types import EventType as T
from projections.base import EntityView
from projections.privacy import scrub_applications


def _created(e: RecordedEvent) -> dict[str, Any]:
    return {
        "owner_id": e.data["subject"],
        "title": e.data["title"],
        "body": e.data["body"],
        "status": "draft",
        "reason": None,
        "created_at": e.occurred_at,
        "updated_at": e.occurred_at,
        # Creation position orders pages: stable, unique and increasing.
        "created_position": e.position,
    }


def _updated(e: RecordedEvent) -> dict[str, Any]:
    changes = {k: e.data[k] for k in ("title", "body") if k in e.data}
    return {"$set": {**changes, "updated_at": e.occurred_at}}


def _status(e: RecordedEvent) -> dict[str, Any]:
    return {"$set": {"status": e.data["to"], "reason": e.data.get("reason"), "updated_at": e.occurred_at}}


class ApplicationsView(EntityView):
    name = "applications"
    kind = "application"
    collections = ("applications",)

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.creators = {T.APPLICATION_CREATED: _created}
        self.updaters = {T.APPLICATION_UPDATED: _updated, T.APPLICATION_STATUS_CHANGED: _status}

    def apply(self, event: RecordedEvent) -> None:
        if event.type == T.USER_ERASED:  # on the owner's stream: scrub every application of theirs
            scrub_applications(self.db, event)
            return
        super().apply(event)

    def ensure_indexes(self) -> None:
        self.docs.create_index([("owner_id", ASCENDING), ("created_position", DESCENDING)], name="owner")
        self.docs.create_index([("status", ASCENDING), ("created_position", DESCENDING)], name="status")
        self.docs.create_index([("created_position", DESCENDING)], name="created")
