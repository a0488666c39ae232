"""Backups of the log: export to NDJSON, restore into another database, verify.

The file is one JSON object per line, in MongoDB relaxed extended JSON
(datetimes kept to the millisecond, as stored), each ``{"kind": ..., "doc": ...}``:

- ``header``; then every ``event`` in position order, stored hashes included;
  every ``checkpoint``; the retention ``purge`` records, stream ``head`` s and
  projection ``snapshot`` s (so a purged log still verifies and rebuilds);
- last, the ``manifest``: counts per kind, head position, positions allocated,
  the last checkpoint root, and the SHA-256 of every line before it. No
  manifest means a truncated file; a digest mismatch means a corrupted one.

**Not in the backup: ``subject_keys``.** Erasure destroys a subject's data key;
a backup that carried keys would bring erased people back on restore. A
restored database therefore opens no PII until it is given the live key store
(which erasure keeps current); without it, everything personal stays sealed.
Views, outbox and sessions are not backed up either: restore rebuilds the views
from the log.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import IO, Any

from bson import json_util
from bson.json_util import JSONMode, JSONOptions
from pymongo import MongoClient
from pymongo.database import Database

from events.checkpoints import CheckpointStore
from events.integrity import Report, verify_log
from events.model import Context, NewEvent, StreamAppend
from events.mongo import MongoEventStore
from events.mongo import ensure_indexes as event_indexes
from events.retention import HEADS, PURGES, Retention, heads_at
from events.retention import ensure_indexes as retention_indexes
from events.retention import records as purge_records
from events.types import EventType as T
from projections.snapshots import SNAPSHOTS, SnapshotStore
from services.deps import Deps

FORMAT = 1
BATCH = 1000
JSON = JSONOptions(json_mode=JSONMode.RELAXED, tz_aware=True, tzinfo=UTC)
# kind -> collection, in the order they are written and restored
KINDS = {"event": "events", "checkpoint": "checkpoints", "purge": PURGES, "head": HEADS, "snapshot": SNAPSHOTS}


class BackupInvalid(Exception):
    """The file is truncated, corrupted, or does not verify; the message says which."""


@dataclass(frozen=True)
class Manifest:
    counts: dict[str, int]
    head_position: int
    allocated: int
    last_root: str | None
    sha256: str


def _line(kind: str, doc: dict[str, Any]) -> bytes:
    return (json_util.dumps({"kind": kind, "doc": doc}, json_options=JSON) + "\n").encode()


def export(deps: Deps, path: str | Path, progress: Callable[[int, int], None] | None = None) -> Manifest:
    db = deps.db
    digest = hashlib.sha256()
    counts = dict.fromkeys(KINDS, 0)
    total = db["events"].estimated_document_count()
    with open(path, "wb") as out:

        def write(kind: str, doc: dict[str, Any]) -> None:
            line = _line(kind, doc)
            digest.update(line)
            out.write(line)

        write("header", {"format": FORMAT, "created_at": deps.clock.now(), "database": db.name})
        for kind, collection in KINDS.items():
            for doc in db[collection].find({}).sort("_id", 1).batch_size(BATCH):
                write(kind, doc)
                counts[kind] += 1
                if progress and kind == "event" and counts[kind] % 5000 == 0:
                    progress(counts[kind], total)
        latest = deps.checkpoints.latest()
        counter = db["counters"].find_one({"_id": "events"})
        manifest = Manifest(
            counts=counts,
            head_position=deps.store.head_position(),
            allocated=counter["position"] if counter else 0,
            last_root=latest.root if latest else None,
            sha256=digest.hexdigest(),
        )
        out.write(_line("manifest", manifest.__dict__))
    if progress:
        progress(counts["event"], counts["event"])
    return manifest


def _parse(handle: IO[bytes]) -> Iterator[tuple[int, str, dict[str, Any], bytes]]:
    for number, raw in enumerate(handle, start=1):
        if not raw.endswith(b"\n"):
            raise BackupInvalid(f"truncated: line {number} is cut short")
        try:
            item = json_util.loads(raw, json_options=JSON)
            kind, doc = item["kind"], item["doc"]
        except (ValueError, KeyError, TypeError) as ex:
            raise BackupInvalid(f"corrupted: line {number} is not a backup record ({type(ex).__name__})") from ex
        yield number, kind, doc, raw


def read_manifest(path: str | Path) -> Manifest:
    """Check the file's structure and digest without touching any database."""
    digest = hashlib.sha256()
    counts = dict.fromkeys(KINDS, 0)
    manifest: dict[str, Any] | None = None
    with open(path, "rb") as handle:
        for number, kind, doc, raw in _parse(handle):
            if manifest is not None:
                raise BackupInvalid(f"corrupted: line {number} follows the manifest")
            if number == 1 and (kind != "header" or doc.get("format") != FORMAT):
                raise BackupInvalid("corrupted: the first line is not a Warden backup header")
            if kind == "manifest":
                manifest = doc
                continue
            if kind in counts:
                counts[kind] += 1
            elif kind != "header":
                raise BackupInvalid(f"corrupted: line {number} has unknown kind {kind!r}")
            digest.update(raw)
    if manifest is None:
        raise BackupInvalid("truncated: the manifest line is missing")
    found = Manifest(**manifest)
    if found.sha256 != digest.hexdigest():
        raise BackupInvalid("corrupted: the file's content does not match the manifest's SHA-256")
    if found.counts != counts:
        raise BackupInvalid(f"corrupted: the manifest counts {found.counts} but the file holds {counts}")
    return found


def restore(
    path: str | Path,
    db: Database,
    progress: Callable[[int, int], None] | None = None,
    *,
    indexes: bool = True,
) -> Manifest:
    """Load a verified-readable backup into an empty database (refuses a non-empty one).

    Secondary indexes are built after the load (a bulk load into indexed
    collections is several times slower); a scratch restore that is only
    verified, by ``_id`` order, skips them.
    """
    manifest = read_manifest(path)
    used = [name for name in db.list_collection_names() if db[name].estimated_document_count()]
    if used:
        raise BackupInvalid(f"target database {db.name!r} is not empty ({', '.join(sorted(used)[:5])})")
    pending: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    done = 0
    with open(path, "rb") as handle:
        for _, kind, doc, _ in _parse(handle):
            if kind not in KINDS:
                continue
            pending[kind].append(doc)
            if len(pending[kind]) == BATCH:
                db[KINDS[kind]].insert_many(pending[kind], ordered=False)
                done += len(pending[kind]) if kind == "event" else 0
                pending[kind] = []
                if progress and kind == "event":
                    progress(done, manifest.counts["event"])
    for kind, docs in pending.items():
        if docs:
            db[KINDS[kind]].insert_many(docs, ordered=False)
    if manifest.allocated:
        db["counters"].insert_one({"_id": "events", "position": manifest.allocated})
    if indexes:
        event_indexes(db)  # the (stream, version) unique index also re-checks the restored log
        CheckpointStore(db["checkpoints"]).ensure_indexes()
        retention_indexes(db)
        SnapshotStore(db).ensure_indexes()
    if progress:
        progress(manifest.counts["event"], manifest.counts["event"])
    return manifest


def verify_restored(db: Database, deps: Deps, manifest: Manifest) -> Report:
    store = MongoEventStore(db.client, db.name)
    found = purge_records(db)
    retention = Retention(tuple(found), heads_at(db, found[-1].seq)) if found else Retention()
    report = verify_log(
        store.read_all(retention.horizon + 1),
        CheckpointStore(db["checkpoints"]).all(),
        deps.signer,
        allocated=manifest.allocated,
        retention=retention,
    )
    if report.ok and report.events_checked != manifest.counts["event"] - _leftover(db, retention):
        raise BackupInvalid(f"restored {report.events_checked} events, the manifest says {manifest.counts['event']}")
    return report


def _leftover(db: Database, retention: Retention) -> int:
    """Events at or below the horizon that an interrupted purge had not deleted yet."""
    return db["events"].count_documents({"_id": {"$lte": retention.horizon}}) if retention.horizon else 0


def verify(deps: Deps, path: str | Path) -> dict[str, Any]:
    """Restore into a scratch database, verify it, drop it, record the outcome as an event."""
    client: MongoClient = deps.client if deps.client is not None else deps.db.client
    scratch = client[f"{deps.db.name}_verify_{uuid.uuid4().hex[:8]}"]
    started = time.perf_counter()
    result: dict[str, Any] = {"file": Path(path).name}
    try:
        manifest = restore(path, scratch, indexes=False)
        result["restore_ms"] = round((time.perf_counter() - started) * 1000)
        report = verify_restored(scratch, deps, manifest)
        if not report.ok:
            assert report.first_failure is not None
            failure = report.first_failure
            raise BackupInvalid(f"does not verify: position {failure.position}: {failure.reason}")
        result.update(
            ok=True,
            events=manifest.counts["event"],
            checkpoints=manifest.counts["checkpoint"],
            purged_by_retention=report.purged,
            last_root=manifest.last_root,
            sha256=manifest.sha256,
        )
    except BackupInvalid as ex:
        result.update(ok=False, reason=str(ex))
    finally:
        client.drop_database(scratch.name)
    result["total_ms"] = round((time.perf_counter() - started) * 1000)
    event_type = T.BACKUP_VERIFIED if result["ok"] else T.BACKUP_VERIFICATION_FAILED
    deps.commit(
        [StreamAppend(f"backup-{uuid.uuid4().hex}", 0, (NewEvent(event_type, result),))], Context(actor="system")
    )
    return result
