"""MongoDB adapter of the event store.

An append is one multi-document transaction: read each stream's head, take the
next positions from a counter document with ``$inc``, insert the events. Two
appenders that race for the counter write-conflict; the loser's transaction is
retried by the driver after the winner commits. So positions commit in order and
a reader by position never sees n+1 before n: there are no gaps to wait for.
A unique index on ``(stream, version)`` backs the expected-version check.

pymongo exceptions never leave this module: they become ConcurrencyError or
StoreUnavailable.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError

from core.clock import Clock, SystemClock, utc
from core.errors import ConcurrencyError, StoreUnavailable
from events.model import Context, RecordedEvent, StreamAppend
from events.retention import head_hash
from events.store import EventFilter, check_appends, record

EVENTS = "events"
COUNTERS = "counters"
READ_BATCH = 1000
HASH_CACHE_SIZE = 50_000
DUPLICATE_KEY = 11000

INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("stream", ASCENDING), ("version", ASCENDING)], {"unique": True, "name": "stream_version"}),
    ([("event_id", ASCENDING)], {"unique": True, "name": "event_id"}),
    ([("type", ASCENDING), ("_id", ASCENDING)], {"name": "type_position"}),
    ([("actor", ASCENDING), ("_id", ASCENDING)], {"name": "actor_position"}),
    ([("data.subject", ASCENDING), ("_id", ASCENDING)], {"name": "subject_position"}),
    ([("occurred_at", ASCENDING), ("_id", ASCENDING)], {"name": "occurred_position"}),
]


def to_document(event: RecordedEvent) -> dict[str, Any]:
    doc = event.content()
    doc["_id"] = event.position
    doc["prev_hash"] = event.prev_hash
    doc["hash"] = event.hash
    return doc


def from_document(doc: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        event_id=doc["event_id"],
        stream=doc["stream"],
        version=doc["version"],
        position=doc["position"],
        type=doc["type"],
        schema=doc["schema"],
        occurred_at=utc(doc["occurred_at"]),
        actor=doc["actor"],
        ip=doc.get("ip"),
        request_id=doc.get("request_id"),
        data=doc["data"],
        prev_hash=doc["prev_hash"],
        hash=doc["hash"],
    )


def ensure_indexes(db: Database) -> None:
    for keys, options in INDEXES:
        db[EVENTS].create_index(keys, **options)


class MongoEventStore:
    def __init__(self, client: MongoClient, db_name: str, clock: Clock | None = None) -> None:
        self._client = client
        self._db = client[db_name]
        self._events: Collection = self._db[EVENTS]
        self._counters: Collection = self._db[COUNTERS]
        self._clock = clock or SystemClock()
        # (stream, version) -> hash. Events are immutable, so an entry can never go stale.
        self._hashes: dict[tuple[str, int], str] = {}
        self._cache_lock = threading.Lock()

    def ensure_indexes(self) -> None:
        ensure_indexes(self._db)

    def append(self, appends: Sequence[StreamAppend], ctx: Context) -> list[RecordedEvent]:
        check_appends(appends)
        try:
            with self._client.start_session() as session:
                # Read/write concerns are the deployment's defaults (majority writes since
                # MongoDB 5.0, and on Atlas). Correctness does not rest on snapshot reads: a
                # stale head read makes the insert hit the (stream, version) unique index.
                recorded = session.with_transaction(lambda s: self._append_in(s, appends, ctx))
            return self._remember_heads(recorded)
        except DuplicateKeyError as ex:
            raise ConcurrencyError("a concurrent append took that stream version") from ex
        except BulkWriteError as ex:
            if any(error.get("code") == DUPLICATE_KEY for error in ex.details.get("writeErrors", [])):
                raise ConcurrencyError("a concurrent append took that stream version") from ex
            raise StoreUnavailable("event store write failed") from ex
        except (ConnectionFailure, OperationFailure) as ex:
            raise StoreUnavailable("event store write failed") from ex

    def _append_in(self, session: ClientSession, appends: Sequence[StreamAppend], ctx: Context) -> list[RecordedEvent]:
        heads: dict[str, tuple[int, str]] = {}
        for append in appends:
            if append.expected_version > 0:
                heads[append.stream] = (append.expected_version, self._hash_at(append, session))
            # Nothing else to read: if the stream has moved past the expected version,
            # inserting version expected+1 violates the (stream, version) unique index.
        count = sum(len(a.events) for a in appends)
        counter = self._counters.find_one_and_update(
            {"_id": EVENTS},
            {"$inc": {"position": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        recorded = record(appends, heads, counter["position"] - count + 1, ctx, self._clock)
        self._events.insert_many([to_document(e) for e in recorded], ordered=True, session=session)
        return recorded

    def _remember_heads(self, recorded: list[RecordedEvent]) -> list[RecordedEvent]:
        for event in recorded:
            self._remember(event.stream, event.version, event.hash)
        return recorded

    def _hash_at(self, append: StreamAppend, session: ClientSession) -> str:
        """The hash of the event at the expected version (immutable, so cacheable)."""
        key = (append.stream, append.expected_version)
        with self._cache_lock:
            cached = self._hashes.get(key)
        if cached is not None:
            return cached
        doc = self._events.find_one(
            {"stream": append.stream, "version": append.expected_version}, {"hash": 1}, session=session
        )
        digest = doc["hash"] if doc is not None else head_hash(self._db, append.stream, append.expected_version)
        if digest is None:
            raise ConcurrencyError(
                f"stream {append.stream} has no version {append.expected_version}", stream=append.stream
            )
        # (A purged head's hash comes from the signed retention heads: the chain continues.)
        self._remember(append.stream, append.expected_version, digest)
        return digest

    def _remember(self, stream: str, version: int, digest: str) -> None:
        with self._cache_lock:
            if len(self._hashes) >= HASH_CACHE_SIZE:
                self._hashes.pop(next(iter(self._hashes)))
            self._hashes[(stream, version)] = digest

    def read_stream(self, stream: str, from_version: int = 1) -> list[RecordedEvent]:
        cursor = self._events.find({"stream": stream, "version": {"$gte": from_version}}).sort("version", ASCENDING)
        return [from_document(doc) for doc in self._guard(cursor)]

    def read_all(self, from_position: int = 1, to_position: int | None = None) -> Iterator[RecordedEvent]:
        bounds: dict[str, int] = {"$gte": from_position}
        if to_position is not None:
            bounds["$lte"] = to_position
        cursor = self._events.find({"_id": bounds}).sort("_id", ASCENDING).batch_size(READ_BATCH)
        for doc in self._guard(cursor):
            yield from_document(doc)

    def head_position(self) -> int:
        try:
            doc = self._events.find_one({}, {"_id": 1}, sort=[("_id", DESCENDING)])
        except PyMongoError as ex:
            raise StoreUnavailable("event store read failed") from ex
        return doc["_id"] if doc else 0

    def query(self, flt: EventFilter, after_position: int, limit: int) -> list[RecordedEvent]:
        cursor = self._events.find(mongo_filter(flt, after_position)).sort("_id", ASCENDING).limit(limit)
        return [from_document(doc) for doc in self._guard(cursor)]

    @staticmethod
    def _guard(cursor: Any) -> Iterator[dict[str, Any]]:
        try:
            yield from cursor
        except PyMongoError as ex:
            raise StoreUnavailable("event store read failed") from ex


def mongo_filter(flt: EventFilter, after_position: int) -> dict[str, Any]:
    """Build the query from typed values only: no client input reaches it as an operator."""
    query: dict[str, Any] = {"_id": {"$gt": int(after_position)}}
    if flt.types:
        # One type as an equality: every planner (MongoDB's, and simpler wire-compatible
        # servers that only use an index for an equality) walks type_position for it.
        types = [str(t) for t in flt.types]
        query["type"] = types[0] if len(types) == 1 else {"$in": types}
    if flt.actor is not None:
        query["actor"] = str(flt.actor)
    if flt.stream is not None:
        query["stream"] = str(flt.stream)
    if flt.subject is not None:
        query["data.subject"] = str(flt.subject)
    when: dict[str, datetime] = {}
    if flt.since is not None:
        when["$gte"] = flt.since
    if flt.until is not None:
        when["$lt"] = flt.until
    if when:
        query["occurred_at"] = when
    return query
