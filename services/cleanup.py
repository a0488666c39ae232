"""Housekeeping the worker runs hourly: end sessions whose time is up.

A session past its idle (30 min) or absolute (12 h) limit is already refused on
use; ending it here also retires its refresh-token family in the view, so the
sessions view says what is true ("ended", reason "expired") rather than
"active" forever. It is an event like any other session end, so a rebuild
reproduces it. Rate-limit counters need no job: a TTL index drops them
(``services/ratelimit.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from core.errors import ConcurrencyError
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services.auth import SESSION_ABSOLUTE, SESSION_IDLE
from services.deps import Deps

logger = logging.getLogger(__name__)

BATCH = 500
WORKER = Context(actor="system")


def end_expired_sessions(deps: Deps) -> dict[str, Any]:
    now = deps.clock.now()
    query = {
        "status": "active",
        "$or": [{"last_used_at": {"$lt": now - SESSION_IDLE}}, {"started_at": {"$lt": now - SESSION_ABSOLUTE}}],
    }
    ended = raced = 0
    for session in list(deps.db["sessions"].find(query, {"user_id": 1, "version": 1}).limit(BATCH)):
        event = NewEvent(T.SESSION_ENDED, {"subject": session["user_id"], "reason": "expired"})
        try:
            deps.store.append(
                [StreamAppend(stream_id("session", session["_id"]), session["version"], (event,))], WORKER
            )
        except ConcurrencyError:
            raced += 1  # used or ended meanwhile: the next run looks again
            continue
        ended += 1
    if ended:
        deps.projector.catch_up()
    return {"sessions_ended": ended, "sessions_raced": raced}
