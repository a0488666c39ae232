"""Retention purge and backup verification at scale, against raw pymongo baselines.

    python -m bench.jobs [--events 100000]

Builds a sealed log of N events (100 events per stream, written 30+ days ago on
an injected clock), then measures on the same server:

- ``warden backup export`` vs a raw cursor over the events collection;
- ``warden backup verify`` (parse + digest, restore into a scratch database,
  verify chains and checkpoints, drop, record ``backup.verified``) vs a raw
  copy of the events into a scratch database (find + insert_many) and drop;
- ``warden purge`` of the whole sealed log (verify first, heads, snapshots,
  signed record, batched delete, tidy up) vs raw ``delete_many`` of the same
  number of documents in the same batches.

Ratios are raw time / Warden time (1.0 = as fast as the bare database work).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

from pymongo import MongoClient

from bench.common import machine, server_uri, table, timed
from core.clock import FixedClock
from core.settings import Secret, Settings, new_encryption_key, new_secret
from events.model import Context, NewEvent, StreamAppend
from events.mongo import MongoEventStore, ensure_indexes
from services.backup import export, verify
from services.deps import Deps
from services.integrity import seal_now
from services.purge import BATCH, purge

CTX = Context(actor="bench", ip="127.0.0.1", request_id="bench")
PER_STREAM = 100


def build(client: MongoClient, name: str, clock: FixedClock) -> Deps:
    settings = Settings(
        jwt_secret_key=Secret(new_secret()),
        secret_key=Secret(new_secret()),
        encryption_key=Secret(new_encryption_key()),
        data_retention_days=30,
    )
    deps = Deps.build(settings, client[name], MongoEventStore(client, name, clock), clock, client)
    deps.ensure_schema()
    return deps


def fill(deps: Deps, count: int) -> None:
    written = 0
    while written < count:
        appends = []
        for _ in range(min(10, (count - written) // PER_STREAM or 1)):
            events = tuple(NewEvent("bench.happened", {"n": n, "note": "x" * 64}) for n in range(PER_STREAM))
            appends.append(StreamAppend(f"bench-{uuid.uuid4().hex}", 0, events))
        written += sum(len(a.events) for a in appends)
        deps.store.append(appends, CTX)
        sys.stderr.write(f"\r  filling: {written}")
    sys.stderr.write("\n")


def raw_copy(client: MongoClient, source: str) -> None:
    target = client[f"{source}_rawcopy"]
    batch = []
    for doc in client[source]["events"].find({}).sort("_id", 1).batch_size(1000):
        batch.append(doc)
        if len(batch) == 1000:
            target["events"].insert_many(batch)
            batch = []
    if batch:
        target["events"].insert_many(batch)
    client.drop_database(target.name)


def raw_delete(client: MongoClient, name: str, count: int) -> float:
    """Delete the same documents from an identically indexed collection, in the same batches."""
    ensure_indexes(client[f"{name}_raw"])
    copy = client[f"{name}_raw"]["events"]
    batch = []
    for doc in client[name]["events"].find({}).sort("_id", 1).batch_size(1000):
        batch.append(doc)
        if len(batch) == 1000:
            copy.insert_many(batch)
            batch = []
    if batch:
        copy.insert_many(batch)

    def delete() -> None:
        for start in range(0, count, BATCH):
            copy.delete_many({"_id": {"$gt": start, "$lte": start + BATCH}})

    took = timed(delete)
    client.drop_database(f"{name}_raw")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    rows = []
    with server_uri() as (uri, label), tempfile.TemporaryDirectory(prefix="warden-bench-") as tmp:
        client: MongoClient = MongoClient(uri, tz_aware=True)
        name = "warden_bench_jobs"
        client.drop_database(name)
        clock = FixedClock()
        deps = build(client, name, clock)
        fill(deps, args.events)
        seal_now(deps)
        n = deps.store.head_position()
        path = Path(tmp) / "backup.ndjson"

        w = timed(lambda: export(deps, path))
        r = timed(lambda: sum(1 for _ in client[name]["events"].find({}).sort("_id", 1).batch_size(1000)))
        size_mb = path.stat().st_size / 1e6
        rows.append((f"{n:,}", f"backup export ({size_mb:.0f} MB)", f"{w:.1f} s", f"{r / w:.2f}"))

        outcome: dict = {}
        w = timed(lambda: outcome.update(verify(deps, path)))
        assert outcome["ok"], outcome
        r = timed(lambda: raw_copy(client, name))
        rows.append(
            (f"{n:,}", f"backup verify (restore {outcome['restore_ms'] / 1000:.1f} s)", f"{w:.1f} s", f"{r / w:.2f}")
        )

        clock.advance(days=31)
        r = raw_delete(client, name, n)
        result: dict = {}
        w = timed(lambda: result.update(purge(deps)))
        assert result["events"] == n, result
        rows.append((f"{n:,}", "purge (verify + snapshot + delete)", f"{w:.1f} s", f"{r / w:.2f}"))
        client.drop_database(name)
        client.close()
    print(f"machine: {machine()}\nserver: {label}\n")
    print(table(rows, ("events", "measure", "warden time", "ratio raw/warden")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
