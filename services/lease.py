"""A MongoDB lease: at most one live owner per name, taken over only after expiry.

One document per lease, ``{_id: name, owner, expires_at}``. Acquiring is a single
``find_one_and_update`` with ``upsert``: it matches only when the lease is free
(absent, expired, or already ours). When another owner holds it, the filter
matches nothing, the upsert tries to insert a second document with the same
``_id`` and the unique ``_id`` index refuses (DuplicateKeyError): we lost.
So the database arbitrates every race, whatever the number of instances.

A holder keeps its lease by renewing before ``expires_at``; a holder that dies
simply stops renewing, and the next acquirer after expiry takes over. Time comes
from the injected clock, so tests can expire a lease without sleeping.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from core.clock import Clock, utc

LEASES = "leases"


def new_owner_id() -> str:
    """Unique per process start: host and pid for humans, a random suffix for uniqueness."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, collection: Collection, owner: str, clock: Clock, ttl: timedelta) -> None:
        self._leases = collection
        self.owner = owner
        self._clock = clock
        self.ttl = ttl

    def acquire(self, name: str) -> bool:
        """Take or renew the lease if it is free, expired or ours; False if someone else holds it."""
        now = self._clock.now()
        free = {"$or": [{"owner": self.owner}, {"expires_at": {"$lte": now}}]}
        try:
            doc = self._leases.find_one_and_update(
                {"_id": name, **free},
                {"$set": {"owner": self.owner, "expires_at": now + self.ttl, "renewed_at": now}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # held by a live owner: its document exists but did not match
        return doc is not None and doc["owner"] == self.owner

    def renew(self, name: str) -> bool:
        """Extend a lease we hold; False if it expired and someone else took it."""
        now = self._clock.now()
        doc = self._leases.find_one_and_update(
            {"_id": name, "owner": self.owner},
            {"$set": {"expires_at": now + self.ttl, "renewed_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return doc is not None

    def release(self, name: str) -> None:
        """Expire our lease now so another instance need not wait (clean shutdown)."""
        self._leases.update_one({"_id": name, "owner": self.owner}, {"$set": {"expires_at": self._clock.now()}})

    def holder(self, name: str) -> tuple[str, datetime] | None:
        doc = self._leases.find_one({"_id": name})
        return (doc["owner"], utc(doc["expires_at"])) if doc else None
