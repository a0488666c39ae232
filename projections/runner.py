"""The projection runner: checkpointed catch-up and rebuild for every view.

Each view's checkpoint is the last position it applied. Catch-up reads the log
from the lowest checkpoint, applies each event to the views that have not seen
it, and advances checkpoints with ``$max`` (never backwards). Because the event
store makes positions visible in order, reading by position cannot skip a late
commit; because views are idempotent, two runners racing (two gunicorn workers)
agree. A view that raises stops the run: its checkpoint stays before the event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from pymongo.database import Database

from events.retention import load as load_retention
from events.store import EventStore
from events.upcasting import upcast
from projections.base import Projection
from projections.snapshots import SnapshotStore

logger = logging.getLogger(__name__)

CHECKPOINTS = "projection_checkpoints"
CHECKPOINT_EVERY = 500
CHECKPOINT_DOC = "projector"

Progress = Callable[[int, int], None]


class Projector:
    def __init__(self, store: EventStore, db: Database, views: Sequence[Projection]) -> None:
        self.store = store
        self.db = db
        self.views = list(views)
        self._checkpoints = db[CHECKPOINTS]
        self._lock = threading.Lock()

    def ensure_indexes(self) -> None:
        for view in self.views:
            view.ensure_indexes()

    def checkpoints(self) -> dict[str, int]:
        found = self._checkpoints.find_one({"_id": CHECKPOINT_DOC}) or {}
        return {view.name: found.get(view.name, 0) for view in self.views}

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply everything after the checkpoints; return how many events were read."""
        with self._lock:
            marks = self.checkpoints()
            start = min(marks.values(), default=0)
            head = self.store.head_position() if progress else 0
            applied = 0
            for event in self.store.read_all(start + 1):
                event = upcast(event)
                for view in self.views:
                    if event.position > marks[view.name]:
                        view.apply(event)
                        marks[view.name] = event.position
                applied += 1
                if applied % CHECKPOINT_EVERY == 0:
                    self._save(marks)
                    if progress:
                        progress(event.position, head)
            if applied:
                self._save(marks)
            if progress:
                progress(max(marks.values(), default=0), head)
            return applied

    def _save(self, marks: dict[str, int]) -> None:
        # One document, one write: every view's checkpoint moves together, never backwards.
        self._checkpoints.update_one({"_id": CHECKPOINT_DOC}, {"$max": marks}, upsert=True)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Drop every view and replay the whole log into them.

        After a retention purge the log starts past the purge horizon: the views
        are first seeded from the snapshots the purge wrote, their checkpoints set
        to the horizon, and only the kept events are replayed.
        """
        with self._lock:
            for view in self.views:
                for name in view.collections:
                    self.db.drop_collection(name)
            self._checkpoints.delete_many({})
        self.ensure_indexes()
        retention = load_retention(self.db)
        if retention.horizon:
            with self._lock:
                SnapshotStore(self.db).restore(self.db, self.views, retention.seq)
                self._save({view.name: retention.horizon for view in self.views})
        return self.catch_up(progress)
