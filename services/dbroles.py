"""Least-privilege MongoDB roles (``warden db-roles``).

- ``wardenApi`` (web processes): on ``events`` and ``checkpoints`` only ``find``
  and ``insert`` — the API cannot change or delete history even if compromised;
  read/write on the views and working collections it owns; nothing else.
- ``wardenPurge`` (the worker): everything ``wardenApi`` has, plus ``remove`` on
  ``events`` for the retention purge (the one sanctioned delete path), ``update``
  on ``checkpoints`` to mark purged ranges, and writes to the purge's own records.

MongoDB cannot grant "every collection but events", so collections are listed.
``tests/integration/test_dbroles_wire.py`` fails when a collection the app
creates is missing here.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database
from pymongo.errors import OperationFailure

from services.deps import Deps

API_ROLE = "wardenApi"
PURGE_ROLE = "wardenPurge"

APPEND_ONLY = ("events", "checkpoints")
# Written only by the retention purge (worker); the API reads them to verify and rebuild.
PURGE_STATE = ("retention_purges", "retention_heads", "projection_snapshots")
# Working state that is not a projection view: counters, keys, mail, leases, limits …
WORKING_COLLECTIONS = (
    "counters",
    "subject_keys",
    "outbox",
    "projection_checkpoints",
    "rate_limits",
    "attachments",
    "leases",
)
READ_WRITE = ["find", "insert", "update", "remove", "createIndex"]
READ_APPEND = ["find", "insert", "createIndex"]
READ_ONLY = ["find", "createIndex"]


def managed_collections(deps: Deps) -> list[str]:
    views = [name for view in deps.projector.views for name in view.collections]
    return sorted(set(views) | set(WORKING_COLLECTIONS))


def _grant(db_name: str, collection: str, actions: list[str]) -> dict[str, Any]:
    return {"resource": {"db": db_name, "collection": collection}, "actions": list(actions)}


def _privileges(db_name: str, deps: Deps, *, purge: bool) -> list[dict[str, Any]]:
    history = {
        "events": [*READ_APPEND, "remove"] if purge else READ_APPEND,
        # The purge marks the checkpoints of purged ranges (purged_by); nothing else changes them.
        "checkpoints": [*READ_APPEND, "update"] if purge else READ_APPEND,
    }
    privileges = [_grant(db_name, name, actions) for name, actions in history.items()]
    privileges += [_grant(db_name, name, READ_WRITE if purge else READ_ONLY) for name in PURGE_STATE]
    privileges += [_grant(db_name, name, READ_WRITE) for name in managed_collections(deps)]
    return privileges


def roles(db_name: str, deps: Deps) -> dict[str, list[dict[str, Any]]]:
    return {
        API_ROLE: _privileges(db_name, deps, purge=False),
        PURGE_ROLE: _privileges(db_name, deps, purge=True),
    }


def apply_roles(db: Database, deps: Deps) -> list[str]:
    """Create each role, or update it if it exists; return what was done, one line each."""
    done = []
    for name, privileges in roles(db.name, deps).items():
        try:
            db.command("createRole", name, privileges=privileges, roles=[])
            verb = "created"
        except OperationFailure as ex:
            if ex.code != 51002:  # RoleAlreadyExists
                raise
            db.command("updateRole", name, privileges=privileges, roles=[])
            verb = "updated"
        events = next(p["actions"] for p in privileges if p["resource"]["collection"] == "events")
        done.append(f"{verb} role {name} on {db.name}: events {','.join(events)}; {len(privileges)} collections")
    return done
