"""Schema evolution: stored bytes are never rewritten; old shapes are upcast on read.

Register ``(type, from_schema) -> function(data) -> data`` and bump the event's
schema in its producer. Verification always hashes the stored shape, never the
upcast one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from events.model import RecordedEvent

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_REGISTRY: dict[tuple[str, int], Upcaster] = {}


def register(event_type: str, from_schema: int) -> Callable[[Upcaster], Upcaster]:
    def decorate(func: Upcaster) -> Upcaster:
        _REGISTRY[(event_type, from_schema)] = func
        return func

    return decorate


def upcast(event: RecordedEvent, registry: dict[tuple[str, int], Upcaster] | None = None) -> RecordedEvent:
    table = _REGISTRY if registry is None else registry
    while (event.type, event.schema) in table:
        event = replace(event, data=table[(event.type, event.schema)](dict(event.data)), schema=event.schema + 1)
    return event
