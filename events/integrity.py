"""Integrity verification of the log: positions, stream chains and checkpoints.

Walks the log in position order and names the first position that fails:
an edited field (hash mismatch), a deleted event (missing position or stream
version), a reordered pair (hash or chain mismatch), an event re-hashed to hide
an edit (its checkpoint's Merkle root no longer matches), a forged or re-signed
checkpoint (signature), or a truncated tail (a checkpoint or the position
counter reaches beyond the last event).

After a retention purge, positions ``1..horizon`` are accounted for by signed
purge records (``events/retention.py``): the purged checkpoints' signatures and
chain are still checked (their roots cannot be, their events are gone), each
stream's chain starts from its signed head, and the walk starts at
``horizon + 1``. Events at or below the horizon that an interrupted purge has
not deleted yet are skipped. Any other missing position still fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from events.canonical import GENESIS_HASH, chain_hash
from events.checkpoints import GENESIS_ROOT, Checkpoint, CheckpointSigner, leaves_root
from events.model import RecordedEvent
from events.retention import Retention, record_failure

PROGRESS_EVERY = 5000


@dataclass(frozen=True)
class Failure:
    position: int
    reason: str


@dataclass(frozen=True)
class Report:
    events_checked: int
    first_failure: Failure | None
    checkpoints_checked: int = 0
    purged: int = 0  # positions accounted for by retention purge records

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


class _Checkpoints:
    """Checks checkpoints in order as the event walk reaches the end of each."""

    def __init__(self, checkpoints: list[Checkpoint], signer: CheckpointSigner) -> None:
        self._pending = list(checkpoints)
        self._signer = signer
        self._prev_root = GENESIS_ROOT
        self._next_first = 1
        self._hashes: list[str] = []
        self.checked = 0

    def header_failure(self) -> Failure | None:
        """Check the next checkpoint's own fields before its range is walked."""
        if not self._pending:
            return None
        cp = self._pending[0]
        if cp.first_position != self._next_first or cp.last_position < cp.first_position:
            return Failure(self._next_first, f"checkpoint {cp.seq} does not start where the previous one ended")
        if cp.prev_root != self._prev_root:
            return Failure(cp.first_position, f"checkpoint {cp.seq} does not chain to the previous checkpoint")
        if not self._signer.verify(cp):
            return Failure(cp.first_position, f"checkpoint {cp.seq} has an invalid signature")
        return None

    def skip_purged(self, retention: Retention) -> Failure | None:
        """Check the checkpoints of purged ranges by header only; the last must end at the horizon."""
        horizon = retention.horizon
        while self._pending and self._pending[0].last_position <= horizon:
            failure = self.header_failure()
            if failure is not None:
                return failure
            cp = self._pending.pop(0)
            self._prev_root, self._next_first = cp.root, cp.last_position + 1
            self.checked += 1
        last = retention.records[-1]
        if self._next_first != horizon + 1 or self._prev_root != last.checkpoint_root:
            return Failure(horizon + 1, f"no kept checkpoint ends at the purge horizon {horizon} with the signed root")
        return self.header_failure()

    def add(self, event: RecordedEvent) -> Failure | None:
        if not self._pending:
            return None
        self._hashes.append(event.hash)
        cp = self._pending[0]
        if event.position < cp.last_position:
            return None
        if leaves_root(self._hashes) != cp.root:
            return Failure(cp.first_position, f"checkpoint {cp.seq} root does not match its events")
        self._pending.pop(0)
        self._prev_root, self._next_first, self._hashes = cp.root, cp.last_position + 1, []
        self.checked += 1
        return self.header_failure()

    def unfinished(self, checked: int) -> Failure | None:
        if self._pending:
            cp = self._pending[0]
            return Failure(
                checked + 1, f"log ends at {checked} but checkpoint {cp.seq} covers up to {cp.last_position}"
            )
        return None


def verify_log(
    events: Iterable[RecordedEvent],
    checkpoints: list[Checkpoint],
    signer: CheckpointSigner,
    *,
    allocated: int | None = None,
    total: int = 0,
    progress: Callable[[int, int], None] | None = None,
    retention: Retention | None = None,
) -> Report:
    """Chains and checkpoints together; the first failure by position wins."""
    retention = retention or Retention()
    base = retention.horizon
    sealed = _Checkpoints(checkpoints, signer)
    heads: dict[str, tuple[int, str]] = dict(retention.heads)
    checked = 0
    if retention.records:
        reason = record_failure(retention, signer)
        failure = Failure(1, reason) if reason else sealed.skip_purged(retention)
    else:
        failure = sealed.header_failure()
    for event in events:
        if event.position <= base:
            continue  # purged by retention; an interrupted purge may not have deleted it yet
        if failure is not None and failure.position <= base + checked + 1:
            break
        reason = check_event(event, base + checked + 1, heads)
        if reason:
            failure = Failure(base + checked + 1, reason)
            break
        heads[event.stream] = (event.version, event.hash)
        checked += 1
        failure = failure or sealed.add(event)
        if progress and checked % PROGRESS_EVERY == 0:
            progress(checked, total)
    if progress:
        progress(checked, max(total, checked))
    failure = failure or sealed.unfinished(base + checked)
    if failure is None and allocated is not None and allocated > base + checked:
        failure = Failure(base + checked + 1, f"log ends at {base + checked} but {allocated} positions were written")
    return Report(checked, failure, sealed.checked, purged=base)
