"""The dependencies every use case needs, built once per process (after fork).

``Deps.build(settings)`` is the production wiring; tests build a ``Deps`` over
mongomock or a SecantusDB server with cheap argon2 parameters and a FixedClock.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo import MongoClient
from pymongo.database import Database

from core.clock import Clock, SystemClock
from core.crypto import KeyEncryptionKeys, blind_index, derive_key
from core.emails import normalize_email
from core.errors import ConcurrencyError
from core.passwords import PasswordHasher
from core.settings import Settings, decode_encryption_key
from core.tokens import TokenService
from events.checkpoints import CheckpointSigner, CheckpointStore
from events.keys import KeyStore, Vault
from events.model import Context, RecordedEvent, StreamAppend
from events.mongo import MongoEventStore
from events.store import EventStore
from projections.applications import ApplicationsView
from projections.ip_blocks import IpBlocksView
from projections.privacy import ConsentsView, DsrRequestsView
from projections.reports import report_views
from projections.runner import Projector
from projections.sessions import SessionsView
from projections.users import UsersView

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ATTEMPTS = 16
# Upper bound of the random pause before retry n is n times this (seconds).
RETRY_JITTER_SECONDS = 0.005


@dataclass
class Deps:
    settings: Settings
    db: Database
    store: EventStore
    clock: Clock
    projector: Projector
    keys: KeyStore
    vault: Vault
    hasher: PasswordHasher
    tokens: TokenService
    blind_key: bytes
    checkpoints: CheckpointStore
    signer: CheckpointSigner
    mailer: Any = None
    client: MongoClient | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        settings: Settings,
        db: Database,
        store: EventStore,
        clock: Clock | None = None,
        client: MongoClient | None = None,
    ) -> "Deps":
        from services.outbox import Outbox

        clock = clock or SystemClock()
        keks = KeyEncryptionKeys(
            decode_encryption_key(settings.encryption_key.reveal()),
            tuple(decode_encryption_key(k.reveal()) for k in settings.encryption_previous_keys),
        )
        keys = KeyStore(db["subject_keys"], keks, clock)
        views = [UsersView(db), SessionsView(db), ApplicationsView(db), *report_views(db)]
        views.append(IpBlocksView(db))
        views += [ConsentsView(db), DsrRequestsView(db)]
        projector = Projector(store, db, views)
        deps = cls(
            settings=settings,
            db=db,
            store=store,
            clock=clock,
            projector=projector,
            keys=keys,
            vault=Vault(keys),
            hasher=PasswordHasher(settings.argon2),
            tokens=TokenService(
                settings.jwt_secret_key.reveal(),
                tuple(k.reveal() for k in settings.jwt_previous_secret_keys),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                ttl_seconds=settings.access_token_ttl_seconds,
            ),
            blind_key=derive_key(settings.secret_key.reveal(), "email-blind-index"),
            checkpoints=CheckpointStore(db["checkpoints"]),
            signer=CheckpointSigner(settings.secret_key.reveal()),
            client=client,
        )
        deps.mailer = Outbox(deps)
        return deps

    @classmethod
    def connect(cls, settings: Settings, clock: Clock | None = None) -> "Deps":
        """Production wiring over ``MONGODB_URI``. Call after fork, never at import."""
        if not settings.mongodb_uri:
            raise RuntimeError("MONGODB_URI is not set")
        client: MongoClient = MongoClient(settings.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5000)
        db = client[settings.mongodb_db]
        store = MongoEventStore(client, settings.mongodb_db, clock)
        return cls.build(settings, db, store, clock, client)

    def email_index(self, email: str) -> str:
        return blind_index(self.blind_key, normalize_email(email))

    def ensure_schema(self) -> None:
        """Create every index, idempotently (start-up and tests)."""
        ensure = getattr(self.store, "ensure_indexes", None)
        if ensure:
            ensure()
        self.projector.ensure_indexes()
        self.checkpoints.ensure_indexes()
        self.db["outbox"].create_index("to_index", name="to_index")
        self.db["outbox"].create_index([("status", 1), ("next_attempt_at", 1)], name="due")
        from services import attachments, ratelimit

        ratelimit.ensure_indexes(self.db)
        attachments.ensure_indexes(self)

    def commit(self, appends: Sequence[StreamAppend], ctx: Context) -> list[RecordedEvent]:
        """Append, then bring the views up to date so the next request sees the write."""
        recorded = self.store.append(appends, ctx)
        self.projector.catch_up()
        return recorded

    def retrying(self, decide: Callable[[], T]) -> T:
        """Run a read-decide-append step again when a concurrent write won the race."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                return decide()
            except ConcurrencyError:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                # Many requests racing on one stream (20 guesses at one account across the
                # workers' threads) would collide again in lock step; a random pause lets
                # each win in turn instead of exhausting its attempts.
                time.sleep(random.uniform(0, RETRY_JITTER_SECONDS * (attempt + 1)))  # noqa: S311 (not crypto)
                self.projector.catch_up()
        raise AssertionError("unreachable")
