"""The event store port. Every adapter enforces the same invariants, checked by
one contract suite (``tests/contract``) run against each of them:

- append is all-or-nothing across every stream in the call, and only if each
  stream is at its expected version (else :class:`ConcurrencyError`);
- versions within a stream are 1, 2, 3 … and positions are global, strictly
  increasing, without duplicates, and become visible in position order, so a
  reader by position never skips an event that commits late;
- each event's hash chains to the previous event of its stream;
- there is no update path and no delete path (the retention purge lives in jobs/).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.clock import Clock
from events.canonical import GENESIS_HASH, chain_hash
from events.model import Context, RecordedEvent, StreamAppend


@dataclass(frozen=True)
class EventFilter:
    """Filters of the audit query; every field optional, all combined with AND."""

    types: tuple[str, ...] = ()
    actor: str | None = None
    stream: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class EventStore(Protocol):
    def append(self, appends: Sequence[StreamAppend], ctx: Context) -> list[RecordedEvent]: ...

    def read_stream(self, stream: str, from_version: int = 1) -> list[RecordedEvent]: ...

    def read_all(self, from_position: int = 1, to_position: int | None = None) -> Iterator[RecordedEvent]: ...

    def head_position(self) -> int: ...

    def query(self, flt: EventFilter, after_position: int, limit: int) -> list[RecordedEvent]: ...


def record(
    appends: Sequence[StreamAppend],
    heads: dict[str, tuple[int, str]],
    first_position: int,
    ctx: Context,
    clock: Clock,
) -> list[RecordedEvent]:
    """Turn appends into recorded events: versions, positions, timestamps, hash chain.

    ``heads`` maps each stream to its current (version, hash); the caller has
    already checked expected versions against it. Shared by every adapter so
    they cannot disagree on what a recorded event is.
    """
    recorded: list[RecordedEvent] = []
    position = first_position
    occurred_at = clock.now()
    for append in appends:
        version, prev_hash = heads.get(append.stream, (0, GENESIS_HASH))
        for new in append.events:
            version += 1
            draft = RecordedEvent(
                event_id=new.event_id,
                stream=append.stream,
                version=version,
                position=position,
                type=new.type,
                schema=new.schema,
                occurred_at=occurred_at,
                actor=ctx.actor,
                ip=ctx.ip,
                request_id=ctx.request_id,
                data=new.data,
                prev_hash=prev_hash,
                hash="",
            )
            prev_hash = chain_hash(prev_hash, draft.content())
            recorded.append(_with_hash(draft, prev_hash))
            position += 1
        heads[append.stream] = (version, prev_hash)
    return recorded


def _with_hash(event: RecordedEvent, digest: str) -> RecordedEvent:
    from dataclasses import replace

    return replace(event, hash=digest)


def check_appends(appends: Sequence[StreamAppend]) -> None:
    streams = [a.stream for a in appends]
    if len(set(streams)) != len(streams):
        raise ValueError("one StreamAppend per stream in a call")
    if not any(a.events for a in appends):
        raise ValueError("nothing to append")
