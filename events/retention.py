"""Retention purge records: what verification needs to account for purged positions.

A purge (``services/purge.py``, the only delete path on events) removes positions
``1..horizon``, where ``horizon`` is always the last position of a checkpoint.
Before it deletes anything it commits a **purge record**, signed with the
checkpoint key, naming the horizon, the checkpoint that ends there (seq and
root), the previous record's horizon, and a digest of the **stream heads** at
the horizon (each stream's last purged version and hash). With those,
verification checks the kept checkpoints' signatures and chain, starts each
stream's hash chain from its signed head, and walks the events from
``horizon + 1``. A deletion that no signed record covers is still a missing
position; forging a record takes the signing key.

Heads are stored per purge generation (``_id = "<seq>:<stream>"``); the heads at
generation N are, per stream, the entry of the highest generation <= N.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pymongo.database import Database

from core.clock import isoformat, utc
from events.checkpoints import CheckpointSigner

PURGES = "retention_purges"
HEADS = "retention_heads"
DELETING = "deleting"
COMPLETE = "complete"


@dataclass(frozen=True)
class PurgeRecord:
    seq: int
    from_position: int  # the previous record's horizon (0 for the first)
    horizon: int  # positions 1..horizon are purged
    checkpoint_seq: int  # the checkpoint that ends at horizon
    checkpoint_root: str
    cutoff: datetime  # events older than this were due
    heads_digest: str
    key_id: str
    signature: str = ""
    status: str = DELETING  # not signed: progress
    deleted_through: int = 0  # not signed: progress
    created_at: datetime | None = None

    SIGNED = (
        "seq",
        "from_position",
        "horizon",
        "checkpoint_seq",
        "checkpoint_root",
        "cutoff",
        "heads_digest",
        "key_id",
    )

    def signed_bytes(self) -> bytes:
        fields = {k: getattr(self, k) for k in self.SIGNED}
        fields["cutoff"] = isoformat(self.cutoff)
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["_id"] = doc.pop("seq")
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "PurgeRecord":
        values = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        values["seq"] = doc["_id"]
        values["cutoff"] = utc(doc["cutoff"])
        return cls(**values)


def sign(record: PurgeRecord, signer: CheckpointSigner) -> PurgeRecord:
    from dataclasses import replace

    keyed = replace(record, key_id=signer.key_id)
    return replace(keyed, signature=signer.sign(keyed.signed_bytes()))


def signature_valid(record: PurgeRecord, signer: CheckpointSigner) -> bool:
    if record.key_id != signer.key_id:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(signer.public_key).verify(
            bytes.fromhex(record.signature), record.signed_bytes()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def heads_digest(heads: dict[str, tuple[int, str]]) -> str:
    digest = hashlib.sha256()
    for stream in sorted(heads):
        version, head_hash = heads[stream]
        digest.update(f"{stream}\t{version}\t{head_hash}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Retention:
    """Everything committed purges tell verification and rebuild."""

    records: tuple[PurgeRecord, ...] = ()
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        return self.records[-1].horizon if self.records else 0

    @property
    def seq(self) -> int:
        return self.records[-1].seq if self.records else 0


def records(db: Database) -> list[PurgeRecord]:
    return [PurgeRecord.from_doc(d) for d in db[PURGES].find({}).sort("_id", 1)]


def heads_at(db: Database, seq: int) -> dict[str, tuple[int, str]]:
    """Per stream, the head from the highest generation <= seq."""
    heads: dict[str, tuple[int, str]] = {}
    cursor = db[HEADS].find({"purge": {"$lte": seq}}).sort([("stream", 1), ("purge", -1)])
    for doc in cursor:
        heads.setdefault(doc["stream"], (doc["version"], doc["hash"]))
    return heads


def load(db: Database) -> Retention:
    found = records(db)
    if not found:
        return Retention()
    return Retention(tuple(found), heads_at(db, found[-1].seq))


def head_hash(db: Database, stream: str, version: int) -> str | None:
    """The hash of a purged stream head, for appending after a stream's old events went."""
    doc = db[HEADS].find_one({"stream": stream, "version": version}, {"hash": 1})
    return doc["hash"] if doc else None


def ensure_indexes(db: Database) -> None:
    db[HEADS].create_index([("stream", 1), ("purge", -1)], name="stream_purge")
    db[HEADS].create_index([("purge", 1)], name="purge")


def record_failure(retention: Retention, signer: CheckpointSigner) -> str | None:
    """Why the purge records cannot be trusted, or None: signatures, chain, heads digest."""
    previous = 0
    for record in retention.records:
        if not signature_valid(record, signer):
            return f"purge record {record.seq} has an invalid signature"
        if record.from_position != previous or record.horizon <= previous:
            return f"purge record {record.seq} does not continue from the previous purge"
        previous = record.horizon
    last = retention.records[-1] if retention.records else None
    if last is not None and heads_digest(retention.heads) != last.heads_digest:
        return f"stream heads of purge {last.seq} do not match its signed digest"
    return None
