"""Sealing and verifying the log: shared by the API, the CLI and the worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.checkpoints import Checkpoint, proof, seal
from events.integrity import Report, verify_log
from events.retention import load as load_retention
from services.deps import Deps


def seal_now(deps: Deps) -> list[Checkpoint]:
    return seal(deps.store, deps.checkpoints, deps.signer, deps.clock)


def allocated_positions(deps: Deps) -> int | None:
    """Positions ever handed out (the counter), to detect a truncated tail."""
    doc = deps.db["counters"].find_one({"_id": "events"})
    return doc["position"] if doc else None


def verify_all(deps: Deps, progress: Callable[[int, int], None] | None = None) -> Report:
    retention = load_retention(deps.db)
    return verify_log(
        deps.store.read_all(retention.horizon + 1),
        deps.checkpoints.all(),
        deps.signer,
        allocated=allocated_positions(deps),
        total=deps.store.head_position() - retention.horizon,
        progress=progress,
        retention=retention,
    )


def report_view(report: Report) -> dict[str, Any]:
    failure = report.first_failure
    return {
        "ok": report.ok,
        "events_checked": report.events_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "purged_by_retention": report.purged,
        "first_failure": None if failure is None else {"position": failure.position, "reason": failure.reason},
    }


def checkpoint_view(cp: Checkpoint) -> dict[str, Any]:
    return {
        "seq": cp.seq,
        "first_position": cp.first_position,
        "last_position": cp.last_position,
        "root": cp.root,
        "prev_root": cp.prev_root,
        "key_id": cp.key_id,
        "signature": cp.signature,
        "created_at": cp.created_at,
    }


def proof_view(deps: Deps, position: int) -> dict[str, Any] | None:
    found = proof(deps.store, deps.checkpoints, position)
    if found is None:
        return None
    return {
        **found,
        "checkpoint": checkpoint_view(found["checkpoint"]),
        "public_key": deps.signer.public_key.hex(),
        "algorithm": "RFC 9162 inclusion proof over SHA-256 event hashes (leaf = bytes.fromhex(event hash)); "
        "checkpoint signature is Ed25519 over the canonical JSON of seq, first_position, last_position, "
        "root, prev_root, key_id",
    }
