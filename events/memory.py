"""In-memory event store: the fast twin for unit tests, same invariants as Mongo's."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from core.clock import Clock, SystemClock
from core.errors import ConcurrencyError
from events.model import Context, RecordedEvent, StreamAppend
from events.store import EventFilter, check_appends, record


class InMemoryEventStore:
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._log: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}

    def append(self, appends: Sequence[StreamAppend], ctx: Context) -> list[RecordedEvent]:
        check_appends(appends)
        with self._lock:
            heads: dict[str, tuple[int, str]] = {}
            for append in appends:
                events = self._streams.get(append.stream, [])
                current = events[-1].version if events else 0
                if current != append.expected_version:
                    raise ConcurrencyError(
                        f"stream {append.stream} is at version {current}, expected {append.expected_version}",
                        stream=append.stream,
                    )
                if events:
                    heads[append.stream] = (events[-1].version, events[-1].hash)
            recorded = record(appends, heads, len(self._log) + 1, ctx, self._clock)
            for event in recorded:
                self._log.append(event)
                self._streams.setdefault(event.stream, []).append(event)
            return recorded

    def read_stream(self, stream: str, from_version: int = 1) -> list[RecordedEvent]:
        with self._lock:
            return [e for e in self._streams.get(stream, []) if e.version >= from_version]

    def read_all(self, from_position: int = 1, to_position: int | None = None) -> Iterator[RecordedEvent]:
        with self._lock:
            snapshot = list(self._log[max(from_position, 1) - 1 : to_position])
        yield from snapshot

    def head_position(self) -> int:
        with self._lock:
            return len(self._log)

    def query(self, flt: EventFilter, after_position: int, limit: int) -> list[RecordedEvent]:
        out = []
        for event in self.read_all(after_position + 1):
            if _matches(event, flt):
                out.append(event)
                if len(out) == limit:
                    break
        return out


def _matches(event: RecordedEvent, flt: EventFilter) -> bool:
    return (
        (not flt.types or event.type in flt.types)
        and (flt.actor is None or event.actor == flt.actor)
        and (flt.stream is None or event.stream == flt.stream)
        and (flt.subject is None or event.data.get("subject") == flt.subject)
        and (flt.since is None or event.occurred_at >= flt.since)
        and (flt.until is None or event.occurred_at < flt.until)
    )
