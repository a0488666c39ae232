"""The auditor's view of the log: filtered pages, PII opened or redacted per caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from core.clock import utc
from core.crypto import is_sealed
from core.permissions import Permission
from events.model import RecordedEvent
from events.store import EventFilter
from events.upcasting import upcast
from services.deps import Deps
from services.paging import Page, encode_cursor
from services.principal import Principal

REDACTED = "[redacted]"
# Secrets are never shown to anyone, sealed or not, whatever the caller's role.
NEVER_SHOWN = frozenset({"password_hash", "verification_hash", "refresh_hash", "spent_hash", "token_hash"})


def _open_data(deps: Deps, data: dict[str, Any], reveal_pii: bool) -> dict[str, Any]:
    subject = data.get("subject")
    shown: dict[str, Any] = {}
    for key, value in data.items():
        if key in NEVER_SHOWN:
            shown[key] = REDACTED if value is not None else None
        elif is_sealed(value):
            shown[key] = deps.vault.open(str(subject), key, value) if reveal_pii and subject else REDACTED
        else:
            shown[key] = value
    return shown


def event_view(deps: Deps, event: RecordedEvent, *, reveal_pii: bool) -> dict[str, Any]:
    event = upcast(event)
    return {
        "position": event.position,
        "event_id": event.event_id,
        "stream": event.stream,
        "version": event.version,
        "type": event.type,
        "schema": event.schema,
        "occurred_at": utc(event.occurred_at),
        "actor": event.actor,
        "ip": event.ip,
        "request_id": event.request_id,
        "data": _open_data(deps, event.data, reveal_pii),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def query_events(deps: Deps, principal: Principal, flt: EventFilter, after: int | None, limit: int) -> Page:
    events = deps.store.query(flt, after or 0, limit + 1)
    more = len(events) > limit
    events = events[:limit]
    reveal = principal.can(Permission.AUDIT_READ_PII)
    items = [event_view(deps, e, reveal_pii=reveal) for e in events]
    return Page(items, encode_cursor(events[-1].position) if more else None)


EXPORT_BATCH = 500


def export_events(
    deps: Deps, principal: Principal, flt: EventFilter, after: int | None, encode: Callable[[dict[str, Any]], str]
) -> Iterator[bytes]:
    """Matching events as NDJSON lines, read in batches by position: memory stays flat.

    The export ends at the head position seen when it starts, so it is a stable
    snapshot however long the client takes: events appended meanwhile are left
    for the next export.
    """
    reveal = principal.can(Permission.AUDIT_READ_PII)
    # Read now, not when the first byte is pulled: the snapshot is the request's moment.
    return _export_lines(deps, flt, after or 0, deps.store.head_position(), reveal, encode)


def _export_lines(
    deps: Deps, flt: EventFilter, position: int, head: int, reveal: bool, encode: Callable[[dict[str, Any]], str]
) -> Iterator[bytes]:
    while position < head:
        batch = deps.store.query(flt, position, EXPORT_BATCH)
        for event in batch:
            if event.position > head:
                return
            yield (encode(event_view(deps, event, reveal_pii=reveal)) + "\n").encode()
        if len(batch) < EXPORT_BATCH:
            return
        position = batch[-1].position
