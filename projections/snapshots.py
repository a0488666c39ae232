"""Projection snapshots written before a retention purge, read by ``Projector.rebuild``.

Why a copy of the live documents is a correct snapshot: every view is
idempotent by contract (a version or position guard makes an event it already
reflects a no-op). A snapshot taken after the views caught up past the purge
horizon reflects every purged event; replaying the kept events (position >
horizon) on top of it skips those it already reflects and applies the rest, so
rebuild-after-purge equals the live views.

- **Entity views** (one document per stream: ``kind`` + ``docs``) are
  snapshotted per stream, only for streams that lose events, as the brief of the
  purge asks: ``{_id: "<purge>:<stream>", purge, stream, views: {name: [docs]}}``.
  A stream's newest generation supersedes older ones.
- **Other views** (cross-stream counters, consents keyed by subject) have no
  per-stream document; they are copied whole, in chunks, per generation:
  ``{_id: "<purge>:view:<name>:<n>", purge, view, docs}``; rebuild takes the
  newest generation of each. A view may define ``snapshot_docs()`` and
  ``restore_docs(docs)`` to do better.

Sealed PII stays sealed in snapshots: after crypto-shredding it no longer opens here either.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pymongo.database import Database

SNAPSHOTS = "projection_snapshots"
CHUNK = 500


def is_entity_view(view: Any) -> bool:
    return bool(getattr(view, "kind", "")) and hasattr(view, "docs")


def stream_docs(views: Iterable[Any], stream: str) -> dict[str, list[dict[str, Any]]]:
    """The documents each entity view holds for ``stream`` (with their version)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for view in views:
        if is_entity_view(view) and stream.startswith(view.kind + "-"):
            doc = view.docs.find_one({"_id": stream[len(view.kind) + 1 :]})
            if doc is not None:
                found[view.name] = [doc]
    return found


def whole_view_docs(view: Any) -> Iterator[dict[str, Any]]:
    custom = getattr(view, "snapshot_docs", None)
    if custom is not None:
        yield from custom()
        return
    db = view.db if hasattr(view, "db") else view.docs.database
    for name in view.collections:
        for doc in db[name].find({}):
            yield {"collection": name, "doc": doc}


class SnapshotStore:
    def __init__(self, db: Database) -> None:
        self._docs = db[SNAPSHOTS]

    def ensure_indexes(self) -> None:
        self._docs.create_index([("stream", 1), ("purge", -1)], name="stream_purge")
        self._docs.create_index([("view", 1), ("purge", -1)], name="view_purge")
        self._docs.create_index([("purge", 1)], name="purge")

    def forget(self, purge: int) -> None:
        """Drop what an uncommitted attempt of this generation left behind."""
        self._docs.delete_many({"purge": purge})

    def save_stream(self, purge: int, stream: str, views: dict[str, list[dict[str, Any]]]) -> None:
        self._docs.replace_one(
            {"_id": f"{purge}:{stream}"}, {"purge": purge, "stream": stream, "views": views}, upsert=True
        )

    def save_view(self, purge: int, view: Any) -> int:
        chunk: list[dict[str, Any]] = []
        n = 0
        for item in whole_view_docs(view):
            chunk.append(item)
            if len(chunk) == CHUNK:
                self._save_chunk(purge, view.name, n, chunk)
                n, chunk = n + 1, []
        self._save_chunk(purge, view.name, n, chunk)
        return n + 1

    def _save_chunk(self, purge: int, name: str, n: int, docs: list[dict[str, Any]]) -> None:
        self._docs.replace_one(
            {"_id": f"{purge}:view:{name}:{n}"}, {"purge": purge, "view": name, "chunk": n, "docs": docs}, upsert=True
        )

    def drop_superseded(self, purge: int, streams: list[str], views: list[str]) -> None:
        if streams:
            self._docs.delete_many({"stream": {"$in": streams}, "purge": {"$lt": purge}})
        if views:
            self._docs.delete_many({"view": {"$in": views}, "purge": {"$lt": purge}})

    def restore(self, db: Database, views: list[Any], upto: int) -> None:
        """Seed emptied views from the newest snapshot generation <= ``upto``."""
        by_name = {view.name: view for view in views}
        seen: set[str] = set()
        for snap in self._docs.find({"stream": {"$exists": True}, "purge": {"$lte": upto}}).sort(
            [("stream", 1), ("purge", -1)]
        ):
            if snap["stream"] in seen:
                continue
            seen.add(snap["stream"])
            for name, docs in snap["views"].items():
                if name in by_name and docs:
                    by_name[name].docs.insert_many(docs)
        for name, view in by_name.items():
            if is_entity_view(view):
                continue
            latest = self._docs.find_one({"view": name, "purge": {"$lte": upto}}, sort=[("purge", -1)])
            if latest is None:
                continue
            chunks = self._docs.find({"view": name, "purge": latest["purge"]}).sort("chunk", 1)
            items = [item for chunk in chunks for item in chunk["docs"]]
            custom = getattr(view, "restore_docs", None)
            if custom is not None:
                custom(items)
                continue
            for collection in {item["collection"] for item in items}:
                db[collection].insert_many([item["doc"] for item in items if item["collection"] == collection])
