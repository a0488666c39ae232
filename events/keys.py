"""Per-subject data keys and the vault that seals and opens PII with them.

Keys live in the ``subject_keys`` collection, wrapped by the KEK. It is the only
mutable store of secrets: destroying a subject's key is erasure.
"""

from __future__ import annotations

import threading
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from core.clock import Clock
from core.crypto import DecryptionFailed, KeyEncryptionKeys, new_data_key, open_field, seal_field

ERASED = "[erased]"


class KeyStore:
    def __init__(self, collection: Collection, keks: KeyEncryptionKeys, clock: Clock) -> None:
        self._keys = collection
        self._keks = keks
        self._clock = clock
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

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
                raise
            return found
        return data_key

    def get(self, subject_id: str) -> bytes | None:
        with self._lock:
            cached = self._cache.get(subject_id)
        if cached is not None:
            return cached
        doc = self._keys.find_one({"_id": subject_id, "wrapped": {"$exists": True}})
        if doc is None:
            return None
        data_key = self._keks.unwrap(doc, subject_id)
        with self._lock:
            self._cache[subject_id] = data_key
        return data_key

    def forget_cache(self) -> None:
        with self._lock:
            self._cache.clear()


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
