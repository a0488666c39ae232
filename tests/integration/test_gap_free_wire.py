"""Ordering without loss (SPEC §2): appenders in several processes commit out of
order, while a projection catches up by position; it must never skip a late event."""

from __future__ import annotations

import multiprocessing
import random
import threading
import uuid
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from core.errors import ConcurrencyError
from events.model import Context, NewEvent, RecordedEvent, StreamAppend
from events.mongo import MongoEventStore
from projections.runner import Projector

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROCESSES = 4
APPENDS_EACH = 500
HOT_STREAMS = 8  # shared streams force expected-version conflicts as well as counter conflicts


def appender(uri: str, db_name: str, worker: int, count: int) -> None:
    client: MongoClient = MongoClient(uri, tz_aware=True)
    store = MongoEventStore(client, db_name)
    rng = random.Random(worker)
    done = 0
    while done < count:
        stream = f"hot-{rng.randrange(HOT_STREAMS)}" if rng.random() < 0.5 else f"own-{worker}-{uuid.uuid4().hex}"
        current = len(store.read_stream(stream)) if stream.startswith("hot") else 0
        try:
            store.append([StreamAppend(stream, current, (NewEvent("test.appended", {"worker": worker}),))], Context())
        except ConcurrencyError:
            continue
        done += 1
    client.close()


class PositionsSeen:
    """A projection that records every position it applies, in order."""

    name = "positions"
    collections = ("seen_positions",)

    def __init__(self, db: Database) -> None:
        self.docs = db["seen_positions"]

    def apply(self, event: RecordedEvent) -> None:
        self.docs.update_one({"_id": event.position}, {"$set": {"stream": event.stream}}, upsert=True)

    def ensure_indexes(self) -> None:
        pass


def test_catch_up_never_skips_a_late_commit(wire_uri: str, wire_client: Any, wire_db_name: str) -> None:
    store = MongoEventStore(wire_client, wire_db_name)
    store.ensure_indexes()
    db = wire_client[wire_db_name]
    projector = Projector(store, db, [PositionsSeen(db)])
    applied_order: list[int] = []
    original_apply = PositionsSeen.apply

    stop = threading.Event()

    def follow() -> None:
        while not stop.is_set():
            projector.catch_up()
        projector.catch_up()

    def record(self: PositionsSeen, event: RecordedEvent) -> None:
        applied_order.append(event.position)
        original_apply(self, event)

    projector.views[0].apply = record.__get__(projector.views[0])  # type: ignore[method-assign]
    follower = threading.Thread(target=follow)
    follower.start()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=appender, args=(wire_uri, wire_db_name, n, APPENDS_EACH)) for n in range(PROCESSES)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=300)
        assert process.exitcode == 0
    stop.set()
    follower.join(timeout=60)

    total = PROCESSES * APPENDS_EACH
    assert store.head_position() == total
    # The follower applied every position exactly once, in order: nothing skipped.
    assert applied_order == list(range(1, total + 1))
    live = sorted(db["seen_positions"].find({}), key=lambda d: d["_id"])
    projector.views[0].apply = original_apply.__get__(projector.views[0])  # type: ignore[method-assign]
    projector.rebuild()
    rebuilt = sorted(db["seen_positions"].find({}), key=lambda d: d["_id"])
    assert live == rebuilt
    assert len(rebuilt) == total
