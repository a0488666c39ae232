"""Helpers for the edge checks: an Api whose settings the test chooses (limits on by default)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import mongomock

from core.clock import FixedClock
from events.memory import InMemoryEventStore
from services.deps import Deps
from tests.conftest import Api, make_settings


def future_clock() -> FixedClock:
    """A FixedClock on an hour boundary: a window boundary of every limit, so Retry-After is exact."""
    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    return FixedClock(start)


def edge_api(clock: FixedClock, **overrides: Any) -> Api:
    """An Api over mongomock with ``make_settings(**overrides)``; SPEC §6 rate limits unless overridden."""
    overrides.setdefault("rate_limits", ())
    deps = Deps.build(
        make_settings(**overrides),
        mongomock.MongoClient(tz_aware=True)["warden_edge"],
        InMemoryEventStore(clock),
        clock,
    )
    deps.ensure_schema()
    return Api(deps)


def events_of(api: Api, event_type: str) -> list[Any]:
    return [e for e in api.deps.store.read_all() if e.type == event_type]
