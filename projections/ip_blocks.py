"""IP blocks: one document per block, queried on every request by address range."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING

from events.model import RecordedEvent
from events.types import EventType as T
from projections.base import EntityView


def _added(e: RecordedEvent) -> dict[str, Any]:
    return {
        "cidr": e.data["cidr"],
        "family": e.data["family"],
        "first": e.data["first"],
        "last": e.data["last"],
        "reason": e.data["reason"],
        "expires_at": e.data.get("expires_at"),
        "status": "active",
        "created_by": e.actor,
        "created_at": e.occurred_at,
        "removed_at": None,
        "removed_by": None,
        "created_position": e.position,
    }


def _removed(e: RecordedEvent) -> dict[str, Any]:
    return {"$set": {"status": "removed", "removed_at": e.occurred_at, "removed_by": e.actor}}


class IpBlocksView(EntityView):
    name = "ip_blocks"
    kind = "ipblock"
    collections = ("ip_blocks",)

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.creators = {T.IP_BLOCK_ADDED: _added}
        self.updaters = {T.IP_BLOCK_REMOVED: _removed}

    def ensure_indexes(self) -> None:
        self.docs.create_index(
            [("status", ASCENDING), ("family", ASCENDING), ("first", ASCENDING)], name="active_range"
        )
        self.docs.create_index([("created_position", DESCENDING)], name="created")
