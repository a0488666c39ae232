"""Signed checkpoints: Merkle roots over ranges of positions, chained and signed.

Sealing groups the events after the last checkpoint (at most ``MAX_EVENTS`` a
checkpoint) into a new one holding the RFC 6962 root of their hashes, the
previous checkpoint's root, and an Ed25519 signature by a key derived from
``SECRET_KEY``. The public key is published, so anyone can check a signature.
Checkpoints are insert-only (``_id`` is the sequence number, so two sealers
racing cannot both write seq n).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pymongo import DESCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from core.clock import Clock, utc
from core.crypto import derive_key, key_id
from events import merkle
from events.store import EventStore

MAX_EVENTS = 10_000
GENESIS_ROOT = "0" * 64


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    first_position: int
    last_position: int
    root: str
    prev_root: str
    key_id: str
    signature: str
    created_at: datetime

    def signed_bytes(self) -> bytes:
        fields = {k: v for k, v in asdict(self).items() if k not in ("signature", "created_at")}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


class CheckpointSigner:
    def __init__(self, secret_key: str) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(derive_key(secret_key, "checkpoint-signing"))
        self.public_key = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(self.public_key)

    def sign(self, data: bytes) -> str:
        return self._private.sign(data).hex()

    def verify(self, checkpoint: Checkpoint) -> bool:
        if checkpoint.key_id != self.key_id:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                bytes.fromhex(checkpoint.signature), checkpoint.signed_bytes()
            )
        except (InvalidSignature, ValueError):
            return False
        return True


def leaves_root(hashes: list[str]) -> str:
    return merkle.root([bytes.fromhex(h) for h in hashes]).hex()


class CheckpointStore:
    def __init__(self, collection: Collection) -> None:
        self._docs = collection

    def latest(self) -> Checkpoint | None:
        doc = self._docs.find_one({}, sort=[("_id", DESCENDING)])
        return _from_doc(doc) if doc else None

    def page(self, after_seq: int, limit: int) -> list[Checkpoint]:
        return [_from_doc(d) for d in self._docs.find({"_id": {"$gt": int(after_seq)}}).sort("_id", 1).limit(limit)]

    def all(self) -> list[Checkpoint]:
        return [_from_doc(d) for d in self._docs.find({}).sort("_id", 1)]

    def covering(self, position: int) -> Checkpoint | None:
        doc = self._docs.find_one({"first_position": {"$lte": int(position)}, "last_position": {"$gte": int(position)}})
        return _from_doc(doc) if doc else None

    def insert(self, checkpoint: Checkpoint) -> bool:
        doc = asdict(checkpoint)
        doc["_id"] = doc.pop("seq")
        try:
            self._docs.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def ensure_indexes(self) -> None:
        self._docs.create_index("first_position", name="first_position")


def _from_doc(doc: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        seq=doc["_id"],
        first_position=doc["first_position"],
        last_position=doc["last_position"],
        root=doc["root"],
        prev_root=doc["prev_root"],
        key_id=doc["key_id"],
        signature=doc["signature"],
        created_at=utc(doc["created_at"]),
    )


def seal(
    store: EventStore,
    checkpoints: CheckpointStore,
    signer: CheckpointSigner,
    clock: Clock,
    max_events: int = MAX_EVENTS,
) -> list[Checkpoint]:
    """Seal everything appended since the last checkpoint; return the new checkpoints."""
    made: list[Checkpoint] = []
    while True:
        last = checkpoints.latest()
        start = last.last_position + 1 if last else 1
        hashes = [e.hash for e in store.read_all(start, start + max_events - 1)]
        if not hashes:
            return made
        draft = Checkpoint(
            seq=(last.seq + 1) if last else 1,
            first_position=start,
            last_position=start + len(hashes) - 1,
            root=leaves_root(hashes),
            prev_root=last.root if last else GENESIS_ROOT,
            key_id=signer.key_id,
            signature="",
            created_at=clock.now(),
        )
        checkpoint = Checkpoint(**{**asdict(draft), "signature": signer.sign(draft.signed_bytes())})
        if checkpoints.insert(checkpoint):
            made.append(checkpoint)
        # Lost a race to another sealer: loop and seal after its checkpoint.


def proof(store: EventStore, checkpoints: CheckpointStore, position: int) -> dict[str, Any] | None:
    """An inclusion proof of the event at ``position`` in its checkpoint, or None if unsealed."""
    checkpoint = checkpoints.covering(position)
    if checkpoint is None:
        return None
    hashes = [e.hash for e in store.read_all(checkpoint.first_position, checkpoint.last_position)]
    index = position - checkpoint.first_position
    if index >= len(hashes):
        return None
    path = merkle.inclusion_path([bytes.fromhex(h) for h in hashes], index)
    return {
        "position": position,
        "leaf": hashes[index],
        "leaf_index": index,
        "tree_size": len(hashes),
        "audit_path": [p.hex() for p in path],
        "checkpoint": checkpoint,
    }
