"""Rate limits shared by every worker and instance: fixed-window counters in MongoDB.

``check(deps, name, key)`` admits a request or raises ``RateLimited(retry_after)``.
One document per (limit, window, key) holds a counter that ``$inc`` bumps
atomically (one round trip once the window's counter exists), so 30 concurrent requests on 4 workers see
the values 1…30 exactly once each: the first ``max`` are admitted, whatever the
worker. Windows come from the injected clock; a new window is a new document, so
correctness never waits for a sweep. Housekeeping is MongoDB's: ``touched_at`` is
set by the server (``$currentDate``) and a TTL index drops a counter a day after
its last hit, which is after its window ended (windows are at most a day). Using
the server's clock for the TTL is deliberate: it is the clock the TTL monitor
compares with, so a test clock (or a skewed app host) can never make a live
counter vanish.

Why not the ``limits`` library's MongoDB storage: it opens its own MongoClient
from a URI and reads the wall clock itself, so it could neither share the
request's client nor run on mongomock, and its windows could not be tested with
an injected clock. A fixed window may admit up to 2×max across a boundary; for
login the per-account lockout still bounds guessing.

Keys are never stored raw: an HMAC (a key derived from ``SECRET_KEY``) of the
limit name and the normalized key names the counter and the violation event.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import TYPE_CHECKING

from pymongo import ASCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from core.crypto import derive_key
from core.emails import normalize_email
from core.errors import ConcurrencyError, RateLimited, StoreUnavailable
from core.ratelimits import MAX_WINDOW_SECONDS, Limit, Window, policy, retry_after, window_at
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T

if TYPE_CHECKING:
    from services.deps import Deps

logger = logging.getLogger(__name__)

COLLECTION = "rate_limits"
_KEY = "ratelimit.key"
_POLICY = "ratelimit.policy"


def ensure_indexes(db: Database) -> None:
    # TTL: MongoDB deletes a counter a day after its last hit (housekeeping only).
    db[COLLECTION].create_index(
        [("touched_at", ASCENDING)], name="touched_at_ttl", expireAfterSeconds=MAX_WINDOW_SECONDS
    )


def limits(deps: Deps) -> dict[str, Limit]:
    table = deps.extras.get(_POLICY)
    if table is None:
        table = deps.extras[_POLICY] = policy(deps.settings.rate_limits)
    return table


def key_hash(deps: Deps, limit: Limit, key: str) -> str:
    """A keyed hash of the normalized key: counters and events never hold a raw email or IP."""
    secret = deps.extras.get(_KEY)
    if secret is None:
        secret = deps.extras[_KEY] = derive_key(deps.settings.secret_key.reveal(), "rate-limit-key")
    # Case and Unicode variants of one address are one key (SPEC §5 normalization).
    normalized = normalize_email(key) if limit.keyed_by == "email" else key
    return hmac.new(secret, f"{limit.name}\0{normalized}".encode(), hashlib.sha256).hexdigest()[:32]


def check(deps: Deps, name: str, key: str, ctx: Context | None = None) -> None:
    """Count one request against ``name`` for ``key``; raise RateLimited past the limit."""
    limit = limits(deps)[name]
    if not limit.enabled:
        return
    now = deps.clock.now()
    window = window_at(limit, now)
    hashed = key_hash(deps, limit, key)
    counter_id = f"{name}:{window.index}:{hashed}"
    count = _increment(deps.db[COLLECTION], counter_id, limit, window)
    if count <= limit.max:
        return
    wait = retry_after(window, now)
    if count == limit.max + 1:
        # The first refusal in a window is the violation we record; later ones in the
        # same window are logged only, so a flood cannot turn into a flood of events.
        _record(deps, limit, hashed, window, counter_id, ctx or Context())
    logger.warning(
        "rate limited", extra={"fields": {"limit": name, "key": hashed, "count": count, "retry_after": wait}}
    )
    raise RateLimited(wait, name)


def _increment(counters: Collection, counter_id: str, limit: Limit, window: Window) -> int:
    """This request's ticket in its window: 1, 2, 3 … exactly once each, on any worker.

    Not one upsert: a MongoDB-wire server may apply a racing upsert's ``$inc`` yet
    return no document (SecantusDB does), leaving the ticket unknown. So the
    counter is incremented only once it exists, and created (count 0) when the
    increment found nothing; the create that loses its race is a no-op.
    """
    bump = {"$inc": {"count": 1}, "$currentDate": {"touched_at": True}}
    try:
        for _ in range(2):
            doc = counters.find_one_and_update({"_id": counter_id}, bump, return_document=ReturnDocument.AFTER)
            if doc is not None:
                return int(doc["count"])
            try:
                counters.update_one(
                    {"_id": counter_id},
                    {
                        "$setOnInsert": {"count": 0, "limit": limit.name, "window_end": window.end},
                        "$currentDate": {"touched_at": True},  # so the TTL reaps it even if never bumped
                    },
                    upsert=True,
                )
            except DuplicateKeyError:
                pass  # another request created it first
    except PyMongoError as ex:
        raise StoreUnavailable() from ex
    raise StoreUnavailable("rate-limit counter could not be created")


def _record(deps: Deps, limit: Limit, hashed: str, window: Window, counter_id: str, ctx: Context) -> None:
    event = NewEvent(
        T.RATE_LIMIT_EXCEEDED,
        {
            "limit": limit.name,
            "key": hashed,
            "max": limit.max,
            "window_seconds": limit.window_seconds,
            "window_start": window.start,
        },
    )
    try:
        deps.commit([StreamAppend(stream_id("ratelimit", counter_id), 0, (event,))], ctx)
    except ConcurrencyError:
        pass  # already recorded for this window (a counter swept and recreated): once is enough
