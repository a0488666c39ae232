"""What every projection shares: a name, the collections it owns, an idempotent apply.

Entity views guard each change with the stream version they last applied
(``version == event.version - 1``), so applying an event twice changes nothing
and two runners racing over the same range agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from events.model import RecordedEvent

logger = logging.getLogger(__name__)

Handler = Callable[[RecordedEvent], dict[str, Any]]


class Projection(Protocol):
    name: str
    collections: tuple[str, ...]

    def apply(self, event: RecordedEvent) -> None: ...

    def ensure_indexes(self) -> None: ...


class EntityView:
    """A view with one document per stream of a kind (``user-…``, ``application-…``)."""

    name = ""
    kind = ""
    collections: tuple[str, ...] = ()

    def __init__(self, db: Database) -> None:
        self.db = db
        self.docs: Collection = db[self.collections[0]]
        self.creators: dict[str, Handler] = {}
        self.updaters: dict[str, Handler] = {}

    def apply(self, event: RecordedEvent) -> None:
        if not event.stream.startswith(self.kind + "-"):
            return
        entity_id = event.stream[len(self.kind) + 1 :]
        creator = self.creators.get(event.type)
        if creator is not None:
            self._create(entity_id, event, creator(event))
            return
        update = self.updaters.get(event.type, lambda e: {})(event)
        self._update(entity_id, event, update)

    def _create(self, entity_id: str, event: RecordedEvent, doc: dict[str, Any]) -> None:
        try:
            self.docs.insert_one({**doc, "_id": entity_id, "version": event.version})
        except DuplicateKeyError:
            pass  # already applied

    def _update(self, entity_id: str, event: RecordedEvent, update: dict[str, Any]) -> None:
        update = {**update, "$set": {**update.get("$set", {}), "version": event.version}}
        result = self.docs.update_one({"_id": entity_id, "version": event.version - 1}, update)
        if result.matched_count == 0:
            current = self.docs.find_one({"_id": entity_id}, {"version": 1})
            if current is None or current["version"] < event.version - 1:
                # A hole in the stream would mean a lost event: stop rather than skip.
                raise ProjectionGap(f"{self.name}: {event.stream} v{event.version} has no predecessor applied")


class ProjectionGap(Exception):
    """A projection met an event whose predecessor it never applied."""
