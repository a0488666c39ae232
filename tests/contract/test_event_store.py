"""One contract suite for every EventStore: in-memory and MongoDB over the wire."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from core.clock import FixedClock
from core.errors import ConcurrencyError
from events.canonical import GENESIS_HASH, chain_hash
from events.memory import InMemoryEventStore
from events.model import Context, NewEvent, StreamAppend
from events.mongo import MongoEventStore
from events.store import EventFilter

CTX = Context(actor="tester", ip="127.0.0.1", request_id="req-1")


@pytest.fixture(params=["memory", "mongo"])
def store(request: Any, clock: FixedClock) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryEventStore(clock)
        return
    client = request.getfixturevalue("wire_client")
    name = request.getfixturevalue("wire_db_name")
    mongo = MongoEventStore(client, name, clock)
    mongo.ensure_indexes()
    yield mongo
    client.drop_database(name)


def ev(n: int = 0, **data: Any) -> NewEvent:
    return NewEvent("test.happened", {"n": n, **data})


def append(store: Any, stream: str, expected: int, *events: NewEvent) -> list[Any]:
    return store.append([StreamAppend(stream, expected, tuple(events) or (ev(),))], CTX)


def test_versions_and_positions_increase_without_gaps(store: Any) -> None:
    append(store, "s-a", 0, ev(1), ev(2))
    append(store, "s-b", 0, ev(3))
    append(store, "s-a", 2, ev(4))
    log = list(store.read_all())
    assert [e.position for e in log] == [1, 2, 3, 4]
    assert [(e.stream, e.version) for e in log] == [("s-a", 1), ("s-a", 2), ("s-b", 1), ("s-a", 3)]
    assert store.head_position() == 4


def test_conflicting_append_raises_and_writes_nothing(store: Any) -> None:
    append(store, "s-a", 0, ev(1))
    with pytest.raises(ConcurrencyError):
        append(store, "s-a", 0, ev(2))
    with pytest.raises(ConcurrencyError):
        append(store, "s-a", 5, ev(2))
    assert [e.data["n"] for e in store.read_stream("s-a")] == [1]
    assert store.head_position() == 1


def test_multi_stream_append_is_all_or_nothing(store: Any) -> None:
    append(store, "s-b", 0, ev(1))
    with pytest.raises(ConcurrencyError):
        store.append([StreamAppend("s-a", 0, (ev(2),)), StreamAppend("s-b", 0, (ev(3),))], CTX)
    assert store.read_stream("s-a") == []
    assert store.head_position() == 1


def test_hash_chain_links_each_event_to_the_previous_of_its_stream(store: Any) -> None:
    append(store, "s-a", 0, ev(1))
    append(store, "s-b", 0, ev(2))
    append(store, "s-a", 1, ev(3))
    first, second = store.read_stream("s-a")
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    for event in (first, second):
        assert event.hash == chain_hash(event.prev_hash, event.content())


def test_recorded_fields_round_trip(store: Any, clock: FixedClock) -> None:
    written = append(store, "s-a", 0, ev(7, text="naïve ✓"))[0]
    read = store.read_stream("s-a")[0]
    assert read == written
    assert read.actor == "tester" and read.ip == "127.0.0.1" and read.request_id == "req-1"
    assert read.occurred_at == clock.now()


def test_read_stream_from_version_and_read_all_from_position(store: Any) -> None:
    append(store, "s-a", 0, ev(1), ev(2), ev(3))
    assert [e.version for e in store.read_stream("s-a", from_version=2)] == [2, 3]
    assert [e.position for e in store.read_all(2)] == [2, 3]
    assert [e.position for e in store.read_all(2, 2)] == [2]


def test_query_filters_and_pages_in_position_order(store: Any, clock: FixedClock) -> None:
    append(store, "s-a", 0, ev(1, subject="u1"))
    clock.advance(minutes=1)
    store.append([StreamAppend("s-b", 0, (NewEvent("other.type", {"subject": "u2"}),))], Context(actor="someone"))
    append(store, "s-a", 1, ev(3, subject="u1"))
    assert [e.position for e in store.query(EventFilter(types=("test.happened",)), 0, 10)] == [1, 3]
    assert [e.position for e in store.query(EventFilter(actor="someone"), 0, 10)] == [2]
    assert [e.position for e in store.query(EventFilter(subject="u1"), 1, 10)] == [3]
    assert [e.position for e in store.query(EventFilter(stream="s-b"), 0, 10)] == [2]
    assert [e.position for e in store.query(EventFilter(since=clock.now()), 0, 10)] == [2, 3]
    assert [e.position for e in store.query(EventFilter(), 0, 2)] == [1, 2]


def test_concurrent_appenders_to_one_stream_never_share_a_version(store: Any) -> None:
    winners: list[int] = []
    lock = threading.Lock()

    def race(n: int) -> None:
        for _ in range(20):
            current = len(store.read_stream("hot"))
            try:
                append(store, "hot", current, ev(n))
            except ConcurrencyError:
                continue
            with lock:
                winners.append(n)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = store.read_stream("hot")
    assert len(events) == len(winners)
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert [e.position for e in store.read_all()] == list(range(1, len(events) + 1))


def test_store_has_no_update_or_delete_path(store: Any) -> None:
    public = {name for name in dir(store) if not name.startswith("_")}
    assert not {n for n in public if any(w in n for w in ("update", "delete", "remove", "replace", "purge"))}
