"""Sessions (refresh-token families): current token hash, spent hashes, status, times."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING

from events.model import RecordedEvent
from events.types import EventType as T
from projections.base import EntityView

MAX_SPENT_KEPT = 200


def _started(e: RecordedEvent) -> dict[str, Any]:
    return {
        "user_id": e.data["subject"],
        "refresh_hash": e.data["refresh_hash"],
        "spent_hashes": [],
        "amr": list(e.data.get("amr", ["pwd"])),
        "status": "active",
        "started_at": e.occurred_at,
        "last_used_at": e.occurred_at,
        "started_position": e.position,
        "ended_at": None,
    }


def _refreshed(e: RecordedEvent) -> dict[str, Any]:
    return {
        "$set": {"refresh_hash": e.data["refresh_hash"], "last_used_at": e.occurred_at},
        "$push": {"spent_hashes": {"$each": [e.data["spent_hash"]], "$slice": -MAX_SPENT_KEPT}},
    }


def _ended(status: str) -> Any:
    return lambda e: {"$set": {"status": status, "ended_at": e.occurred_at, "end_reason": e.data.get("reason")}}


class SessionsView(EntityView):
    name = "sessions"
    kind = "session"
    collections = ("sessions",)

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.creators = {T.SESSION_STARTED: _started}
        self.updaters = {
            T.TOKEN_REFRESHED: _refreshed,
            T.REFRESH_TOKEN_REUSED: _ended("revoked"),
            T.SESSION_ENDED: _ended("ended"),
        }

    def apply(self, event: RecordedEvent) -> None:
        if event.type == T.ALL_SESSIONS_REVOKED:
            # Lives on the user's stream; revokes sessions that existed when it was written.
            keep = event.data.get("except_session")
            self.docs.update_many(
                {
                    "user_id": event.data["subject"],
                    "status": "active",
                    "started_position": {"$lt": event.position},
                    "_id": {"$ne": keep},
                },
                {"$set": {"status": "revoked", "ended_at": event.occurred_at, "end_reason": event.data.get("reason")}},
            )
            return
        super().apply(event)

    def ensure_indexes(self) -> None:
        self.docs.create_index([("user_id", ASCENDING), ("status", ASCENDING)], name="user_status")
