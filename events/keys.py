"""Per-subject data keys and the vault that seals and opens PII with them.

Keys live in the ``subject_keys`` collection, wrapped by the KEK. It is the only
mutable store of secrets: destroying a subject's key is erasure. A destroyed key
leaves a tombstone (the subject id and when, no key material) so that nothing
can ever create a fresh key for an erased subject and seal new PII under it.

Each process caches unwrapped keys for at most ``CACHE_SECONDS`` (by the injected
clock): after an erasure on one gunicorn worker, the others stop opening the
subject's data within that bound, without a database read on every open.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from core.clock import Clock
from core.crypto import DecryptionFailed, KeyEncryptionKeys, new_data_key, open_field, seal_field
from core.errors import NotFound

ERASED = "[erased]"
CACHE_SECONDS = 5
ROTATE_BATCH = 200


class SubjectErased(NotFound):
    """The person this data is about has been erased."""


@dataclass(frozen=True)
class Rotation:
    rewrapped: int
    already_current: int
    kek_id: str


class KeyStore:
    def __init__(self, collection: Collection, keks: KeyEncryptionKeys, clock: Clock) -> None:
        self._keys = collection
        self._keks = keks
        self._clock = clock
        self._cache: dict[str, tuple[bytes, datetime]] = {}
        self._lock = threading.Lock()
        self.cache_ttl = timedelta(seconds=CACHE_SECONDS)

    def create(self, subject_id: str) -> bytes:
        data_key = new_data_key()
        doc: dict[str, Any] = {
            "_id": subject_id,
            **self._keks.wrap(data_key, subject_id),
            "created_at": self._clock.now(),
        }
        try:
            self._keys.insert_one(doc)
        except DuplicateKeyError:
            found = self.get(subject_id)
            if found is None:
                # A tombstone: the subject was erased. Never mint a new key for them.
                raise SubjectErased(subject_id) from None
            return found
        return data_key

    def get(self, subject_id: str) -> bytes | None:
        now = self._clock.now()
        with self._lock:
            cached = self._cache.get(subject_id)
        # Bounded by time: another worker may have destroyed the key since we read it.
        if cached is not None and now < cached[1]:
            return cached[0]
        doc = self._keys.find_one({"_id": subject_id, "wrapped": {"$exists": True}})
        if doc is None:
            self.evict(subject_id)
            return None
        data_key = self._keks.unwrap(doc, subject_id)
        with self._lock:
            self._cache[subject_id] = (data_key, now + self.cache_ttl)
        return data_key

    def evict(self, subject_id: str) -> None:
        with self._lock:
            self._cache.pop(subject_id, None)

    def forget_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def destroy(self, subject_id: str) -> None:
        """Crypto-shredding: replace the wrapped key with a tombstone and drop our copy.

        ``replace_one`` with upsert, not a delete: the tombstone keeps ``create`` from
        ever minting a new key for this subject (a late write would otherwise seal
        fresh PII that the erasure never covered). Idempotent.
        """
        self._keys.replace_one({"_id": subject_id}, {"_id": subject_id, "destroyed_at": self._clock.now()}, upsert=True)
        self.evict(subject_id)

    def rotate(self, progress: Callable[[int, int], None] | None = None, batch: int = ROTATE_BATCH) -> Rotation:
        """Re-wrap every data key not yet under the current KEK; keys already done are skipped.

        Only the wrapping changes: the data key, and so every sealed value in events
        and views, stays as it is. Each update is conditional on the wrapping it read,
        so a concurrent erasure (tombstone) is never overwritten with a key.
        """
        current = self._keks.current_id
        pending = {"wrapped": {"$exists": True}, "kek_id": {"$ne": current}}
        total = self._keys.count_documents(pending)
        already = self._keys.count_documents({"wrapped": {"$exists": True}, "kek_id": current})
        done = 0
        if progress:
            progress(0, total)
        while True:
            docs = list(self._keys.find(pending).sort("_id", 1).limit(batch))
            if not docs:
                break
            for doc in docs:
                data_key = self._keks.unwrap(doc, doc["_id"])
                self._keys.update_one(
                    {"_id": doc["_id"], "kek_id": doc["kek_id"], "wrapped": doc["wrapped"]},
                    {"$set": {**self._keks.wrap(data_key, doc["_id"]), "rewrapped_at": self._clock.now()}},
                )
                done += 1
            if progress:
                progress(done, max(total, done))
        return Rotation(rewrapped=done, already_current=already, kek_id=current)


class Vault:
    """Seal and open PII fields for a subject. Opening after erasure yields ``[erased]``."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    def seal(self, subject_id: str, field: str, value: str) -> str:
        data_key = self._keys.get(subject_id) or self._keys.create(subject_id)
        return seal_field(data_key, subject_id, field, value)

    def open(self, subject_id: str, field: str, sealed: str | None) -> str | None:
        if sealed is None:
            return None
        data_key = self._keys.get(subject_id)
        if data_key is None:
            return ERASED
        try:
            return open_field(data_key, subject_id, field, sealed)
        except DecryptionFailed:
            return ERASED
