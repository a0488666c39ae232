"""Event store benchmark: Warden's store against raw pymongo on the same server.

    python -m bench.eventstore [--sizes 10000,100000] [--samples 300]

Each ratio is (raw time / Warden time) for the same work, measured interleaved
in this run on this machine, so 1.0 means "as fast as raw pymongo" and the
issue's targets read directly: append ≥ 0.7, batch ≥ 0.7, rebuild ≥ 0.5,
verify ≥ 0.3. Growth: the append ratio is measured again after the log has
grown to each size, so a cost that grows with the log shows as a falling ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import sys
import uuid

from pymongo import MongoClient

from bench.common import machine, server_uri, table, timed
from core.clock import SystemClock
from events.canonical import canonical_bytes
from events.integrity import verify_chains
from events.model import Context, NewEvent, StreamAppend
from events.mongo import MongoEventStore, ensure_indexes, to_document
from events.store import record
from projections.runner import Projector

CTX = Context(actor="bench", ip="127.0.0.1", request_id="bench")


def event(n: int) -> NewEvent:
    return NewEvent("bench.happened", {"subject": f"u{n % 1000}", "n": n, "note": "x" * 64})


_raw_positions = itertools.count(1, 1000)


def raw_docs(count: int) -> list[dict]:
    """The same documents Warden would write (hashes included), for raw pymongo to insert."""
    appends = [StreamAppend(f"raw-{uuid.uuid4().hex}", 0, (event(n),)) for n in range(count)]
    start = next(_raw_positions) * 1000
    return [to_document(e) for e in record(appends, {}, start, CTX, SystemClock())]


def single_append_pair(store: MongoEventStore, raw, samples: int) -> tuple[float, float]:
    """Interleave: one Warden append, one raw insert_one, `samples` times each."""
    warden_t = raw_t = 0.0
    docs = raw_docs(samples)
    for n in range(samples):
        stream = f"s-{uuid.uuid4().hex}"
        warden_t += timed(lambda: store.append([StreamAppend(stream, 0, (event(n),))], CTX))
        doc = docs[n]
        raw_t += timed(lambda: raw.insert_one(doc))
    return warden_t, raw_t


def batch_pair(store: MongoEventStore, raw, batches: int, size: int = 100) -> tuple[float, float]:
    warden_t = raw_t = 0.0
    for _ in range(batches):
        stream = f"b-{uuid.uuid4().hex}"
        events = tuple(event(n) for n in range(size))
        warden_t += timed(lambda: store.append([StreamAppend(stream, 0, events)], CTX))
        docs = raw_docs(size)
        raw_t += timed(lambda: raw.insert_many(docs))
    return warden_t, raw_t


def fill(store: MongoEventStore, target: int) -> None:
    head = store.head_position()
    while head < target:
        size = min(1000, target - head)
        store.append([StreamAppend(f"fill-{uuid.uuid4().hex}", 0, tuple(event(n) for n in range(size)))], CTX)
        head += size
        sys.stderr.write(f"\r  filling log to {target}: {head}")
    sys.stderr.write("\n")


class CountingView:
    """The cheapest possible projection: measures the runner, not a view's writes."""

    name = "bench_count"
    collections = ("bench_count",)

    def __init__(self) -> None:
        self.count = 0

    def apply(self, event) -> None:
        self.count += 1

    def ensure_indexes(self) -> None:
        pass


def rebuild_pair(store: MongoEventStore, db) -> tuple[float, float]:
    projector = Projector(store, db, [CountingView()])
    warden_t = timed(projector.rebuild)
    raw_t = timed(lambda: sum(1 for _ in db["events"].find({}).sort("_id", 1).batch_size(1000)))
    return warden_t, raw_t


def verify_pair(store: MongoEventStore) -> tuple[float, float]:
    events = list(store.read_all())
    warden_t = timed(lambda: verify_chains(iter(events)))
    raw_t = timed(lambda: [hashlib.sha256(canonical_bytes(e.content())).digest() for e in events])
    return warden_t, raw_t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="log sizes to measure at (comma-separated)")
    parser.add_argument("--samples", type=int, default=300, help="single appends per measurement")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with server_uri() as (uri, label):
        client: MongoClient = MongoClient(uri, tz_aware=True)
        client.drop_database("warden_bench")
        db = client["warden_bench"]
        store = MongoEventStore(client, "warden_bench")
        store.ensure_indexes()
        # The raw baseline writes the same documents into an identically indexed collection.
        client.drop_database("warden_bench_raw")
        ensure_indexes(client["warden_bench_raw"])
        raw = client["warden_bench_raw"]["events"]
        rows = []
        for size in sizes:
            fill(store, size)
            w, r = single_append_pair(store, raw, args.samples)
            rows.append(
                (f"{size:,}", "single append vs insert_one", f"{args.samples / w:,.0f}/s", f"{r / w:.2f}", "0.7")
            )
            w, r = batch_pair(store, raw, max(args.samples // 30, 5))
            rows.append((f"{size:,}", "batch of 100 vs insert_many", "", f"{r / w:.2f}", "0.7"))
            w, r = rebuild_pair(store, db)
            n = store.head_position()
            rows.append((f"{n:,}", "rebuild vs raw cursor", f"{n / w:,.0f} ev/s", f"{r / w:.2f}", "0.5"))
            w, r = verify_pair(store)
            rows.append((f"{n:,}", "verify vs sha256 of canonical bytes", f"{n / w:,.0f} ev/s", f"{r / w:.2f}", "0.3"))
        client.drop_database("warden_bench")
        client.drop_database("warden_bench_raw")
        client.close()
    print(f"machine: {machine()}\nserver: {label}\n")
    print(table(rows, ("log size", "measure", "warden rate", "ratio", "target")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
