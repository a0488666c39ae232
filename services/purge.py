"""Retention purge: the one and only delete path on the event log (SPEC §7).

Events older than ``DATA_RETENTION_DAYS`` go, as a prefix of the log that ends
on a checkpoint boundary (so every kept checkpoint still verifies in full; an
event just past the cutoff may wait for the next boundary). A purge:

1. finishes an interrupted purge first (its record says how far deletion got);
2. plans: the cutoff, the last checkpoint whose events are all older, the
   streams that lose events;
3. refuses unless the whole log verifies (purging would destroy the evidence);
4. catches the views up, then writes, tagged with the purge generation, each
   affected stream's head (version, hash) and snapshot, and a copy of the
   cross-stream views (``projections/snapshots.py``);
5. **commits**: inserts the signed purge record (status ``deleting``). Before
   this point nothing was deleted and a rerun redoes steps 2-4 from scratch;
6. deletes events in batches of positions, recording progress, marks the
   checkpoints of the purged range, drops superseded snapshots and heads, and
   sets the record ``complete``. Every step is idempotent, so a purge killed at
   any point and run again ends in the same state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.clock import utc
from events.checkpoints import Checkpoint
from events.retention import (
    COMPLETE,
    DELETING,
    HEADS,
    PURGES,
    PurgeRecord,
    heads_at,
    heads_digest,
    records,
    sign,
)
from events.retention import ensure_indexes as retention_indexes
from projections.snapshots import SnapshotStore, is_entity_view, stream_docs
from services.deps import Deps
from services.integrity import verify_all

logger = logging.getLogger(__name__)

BATCH = 1000
Progress = Callable[[int, int], None]


class PurgeRefused(RuntimeError):
    """The log does not verify: purging now would destroy the evidence."""


@dataclass(frozen=True)
class Plan:
    cutoff: datetime
    from_position: int
    horizon: int  # 0: nothing to purge
    checkpoint: Checkpoint | None

    @property
    def events(self) -> int:
        return max(self.horizon - self.from_position, 0)


def cutoff(deps: Deps) -> datetime:
    return deps.clock.now() - timedelta(days=deps.settings.data_retention_days)


def plan(deps: Deps) -> Plan:
    done = records(deps.db)
    start = done[-1].horizon if done else 0
    when = cutoff(deps)
    last_old = start
    events = deps.db["events"]
    for doc in events.find({"_id": {"$gt": start}}, {"occurred_at": 1}).sort("_id", 1).batch_size(BATCH):
        if utc(doc["occurred_at"]) >= when:
            break  # positions are in commit order: stop at the first event still in retention
        last_old = doc["_id"]
    checkpoint = _checkpoint_ending_at_or_before(deps, last_old)
    if checkpoint is None or checkpoint.last_position <= start:
        return Plan(when, start, 0, None)
    return Plan(when, start, checkpoint.last_position, checkpoint)


def count_streams(deps: Deps, the_plan: Plan) -> int:
    """How many streams lose events (a $group, not distinct: no 16 MB result limit)."""
    if not the_plan.horizon:
        return 0
    pipeline = [
        {"$match": {"_id": {"$gt": the_plan.from_position, "$lte": the_plan.horizon}}},
        {"$group": {"_id": "$stream"}},
        {"$count": "streams"},
    ]
    found = list(deps.db["events"].aggregate(pipeline))
    return found[0]["streams"] if found else 0


def _checkpoint_ending_at_or_before(deps: Deps, position: int) -> Checkpoint | None:
    doc = deps.db["checkpoints"].find_one({"last_position": {"$lte": position}}, sort=[("last_position", -1)])
    return deps.checkpoints.covering(doc["last_position"]) if doc else None


def purge(deps: Deps, *, dry_run: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    pending = deps.db[PURGES].find_one({"status": DELETING})
    if pending is not None:
        if dry_run:
            record = PurgeRecord.from_doc(pending)
            return {"resuming": record.seq, "events": record.horizon - record.deleted_through, "dry_run": True}
        finish(deps, PurgeRecord.from_doc(pending), progress)
    the_plan = plan(deps)
    summary: dict[str, Any] = {
        "cutoff": the_plan.cutoff.isoformat(),
        "events": the_plan.events,
        "streams": count_streams(deps, the_plan),
        "horizon": the_plan.horizon or the_plan.from_position,
    }
    if dry_run or not the_plan.horizon:
        return {**summary, "dry_run": dry_run, "resumed": pending is not None}
    record = commit(deps, the_plan)
    finish(deps, record, progress)
    return {**summary, "purge": record.seq, "resumed": pending is not None}


def commit(deps: Deps, the_plan: Plan) -> PurgeRecord:
    retention_indexes(deps.db)
    SnapshotStore(deps.db).ensure_indexes()
    report = verify_all(deps)
    if not report.ok:
        assert report.first_failure is not None
        raise PurgeRefused(f"log fails verification at position {report.first_failure.position}; not purging")
    deps.projector.catch_up()
    done = records(deps.db)
    seq = (done[-1].seq if done else 0) + 1
    snapshots = SnapshotStore(deps.db)
    snapshots.forget(seq)
    deps.db[HEADS].delete_many({"purge": seq})
    heads = _stream_heads(deps, the_plan)
    deps.db[HEADS].insert_many(
        [{"_id": f"{seq}:{s}", "purge": seq, "stream": s, "version": v, "hash": h} for s, (v, h) in heads.items()]
    )
    for stream in heads:
        docs = stream_docs(deps.projector.views, stream)
        if docs:
            snapshots.save_stream(seq, stream, docs)
    for view in deps.projector.views:
        if not is_entity_view(view):
            snapshots.save_view(seq, view)
    assert the_plan.checkpoint is not None
    draft = PurgeRecord(
        seq=seq,
        from_position=the_plan.from_position,
        horizon=the_plan.horizon,
        checkpoint_seq=the_plan.checkpoint.seq,
        checkpoint_root=the_plan.checkpoint.root,
        cutoff=the_plan.cutoff,
        heads_digest=heads_digest(heads_at(deps.db, seq)),
        key_id="",
        deleted_through=the_plan.from_position,
        created_at=deps.clock.now(),
    )
    record = sign(draft, deps.signer)
    # The commit point: from here on the purge is recorded and deletion may proceed.
    deps.db[PURGES].insert_one(record.to_doc())
    logger.info("retention purge committed", extra={"fields": {"purge": seq, "horizon": record.horizon}})
    return record


def _stream_heads(deps: Deps, the_plan: Plan) -> dict[str, tuple[int, str]]:
    heads: dict[str, tuple[int, str]] = {}
    for event in deps.store.read_all(the_plan.from_position + 1, the_plan.horizon):
        heads[event.stream] = (event.version, event.hash)
    return heads


def _drop_superseded(deps: Deps, seq: int, streams: list[str]) -> None:
    if streams:
        deps.db[HEADS].delete_many({"stream": {"$in": streams}, "purge": {"$lt": seq}})
        SnapshotStore(deps.db).drop_superseded(seq, streams, [])


def finish(deps: Deps, record: PurgeRecord, progress: Progress | None = None) -> None:
    """Delete positions up to the horizon in batches, then tidy up; safe to repeat."""
    events, purges = deps.db["events"], deps.db[PURGES]
    total = record.horizon - record.from_position
    done = record.deleted_through
    while done < record.horizon:
        upto = min(done + BATCH, record.horizon)
        events.delete_many({"_id": {"$gt": done, "$lte": upto}})
        purges.update_one({"_id": record.seq}, {"$max": {"deleted_through": upto}})
        done = upto
        if progress:
            progress(done - record.from_position, total)
    deps.db["checkpoints"].update_many(
        {"last_position": {"$lte": record.horizon}, "purged_by": {"$exists": False}},
        {"$set": {"purged_by": record.seq}},
    )
    if record.seq > 1:  # drop what this generation supersedes, a batch of streams at a time
        cursor = deps.db[HEADS].find({"purge": record.seq}, {"stream": 1}).batch_size(BATCH)
        chunk: list[str] = []
        for doc in cursor:
            chunk.append(doc["stream"])
            if len(chunk) == BATCH:
                _drop_superseded(deps, record.seq, chunk)
                chunk = []
        _drop_superseded(deps, record.seq, chunk)
    whole = [v.name for v in deps.projector.views if not is_entity_view(v)]
    SnapshotStore(deps.db).drop_superseded(record.seq, [], whole)
    purges.update_one({"_id": record.seq}, {"$set": {"status": COMPLETE}})
    logger.info("retention purge complete", extra={"fields": {"purge": record.seq, "events": total}})
