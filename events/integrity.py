"""Integrity verification of the log: positions, stream versions and hash chains.

Walks the log in position order and names the first position that fails:
an edited field (hash mismatch), a deleted event (missing position or stream
version), a reordered pair (hash or chain mismatch), or a truncated tail
(fewer events than positions ever allocated).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from events.canonical import GENESIS_HASH, chain_hash
from events.model import RecordedEvent

PROGRESS_EVERY = 5000


@dataclass(frozen=True)
class Failure:
    position: int
    reason: str


@dataclass(frozen=True)
class Report:
    events_checked: int
    first_failure: Failure | None

    @property
    def ok(self) -> bool:
        return self.first_failure is None


def check_event(event: RecordedEvent, expected_position: int, heads: dict[str, tuple[int, str]]) -> str | None:
    if event.position != expected_position:
        return f"position {expected_position} is missing (next found is {event.position})"
    version, prev = heads.get(event.stream, (0, GENESIS_HASH))
    if event.version != version + 1:
        return f"{event.stream} jumps from version {version} to {event.version}"
    if event.prev_hash != prev:
        return "prev_hash does not match the previous event of its stream"
    try:
        recomputed = chain_hash(prev, event.content())
    except TypeError:
        return "content is not canonically encodable"
    if recomputed != event.hash:
        return "hash does not match the event's content"
    return None


def verify_chains(
    events: Iterable[RecordedEvent],
    progress: Callable[[int, int], None] | None = None,
    *,
    total: int = 0,
    allocated: int | None = None,
) -> Report:
    heads: dict[str, tuple[int, str]] = {}
    expected = 1
    checked = 0
    for event in events:
        reason = check_event(event, expected, heads)
        if reason:
            return Report(checked, Failure(expected if event.position > expected else event.position, reason))
        heads[event.stream] = (event.version, event.hash)
        expected += 1
        checked += 1
        if progress and checked % PROGRESS_EVERY == 0:
            progress(checked, total)
    if progress:
        progress(checked, max(total, checked))
    if allocated is not None and allocated > checked:
        return Report(checked, Failure(checked + 1, f"log ends at {checked} but {allocated} positions were written"))
    return Report(checked, None)
