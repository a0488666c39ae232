"""Audit reports: daily counters for security events, admin actions and status changes.

Each counter document is keyed by its day and dimensions and remembers the
position of the last event it counted. An update matches only while that
position is lower than the event's, so re-applying an event (a second runner,
a checkpoint that did not move, a replay) changes nothing; the projector hands
each view events in position order, so a lower position can only be a replay.
When the guard fails on an existing document the upsert turns into an insert
that hits the unique ``_id``: that duplicate is the "already counted" answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from core.clock import utc
from events.model import RecordedEvent
from events.types import EventType as T

SECURITY = "report_security"
SECURITY_BY_IP = "report_security_ip"
ADMIN_ACTIONS = "report_admin_actions"
STATUS_CHANGES = "report_status_changes"

# Event type -> counter name in the security report.
SECURITY_KINDS = {
    T.LOGIN_FAILED.value: "failed_logins",
    T.ACCOUNT_LOCKED.value: "lockouts",
    T.RATE_LIMIT_EXCEEDED.value: "rate_limit_violations",
}
NO_IP = "unknown"

Key = tuple[str, dict[str, str]]  # (collection, dimensions)


def day_of(event: RecordedEvent) -> str:
    return utc(event.occurred_at).date().isoformat()


def is_admin_action(event: RecordedEvent) -> bool:
    """Events an admin caused on purpose: marked so by the use case (``admin_action``),
    any ``admin.*`` type (IP blocks), or a role change, which the CLI records as an
    admin action by ``system``. The roster bookkeeping event duplicates a demotion
    or a disable already counted, so it is not one."""
    if event.type == T.ADMIN_ROSTER_CHANGED:
        return False
    return (
        event.data.get("admin_action") is True or event.type == T.USER_ROLES_CHANGED or event.type.startswith("admin.")
    )


def count(docs: Collection, dims: dict[str, str], position: int) -> None:
    key = "|".join(f"{name}={value}" for name, value in sorted(dims.items()))
    try:
        docs.update_one(
            {"_id": key, "last_position": {"$lt": position}},
            {"$inc": {"count": 1}, "$set": {"last_position": position}, "$setOnInsert": dims},
            upsert=True,
        )
    except DuplicateKeyError:
        pass  # this document already counted this event (or a later one): a replay


class CounterView:
    """A projection whose only effect is guarded counting (see the module docstring)."""

    name = ""
    collections: tuple[str, ...] = ()

    def __init__(self, db: Database) -> None:
        self.db = db

    def keys(self, event: RecordedEvent) -> Iterator[Key]:
        raise NotImplementedError

    def apply(self, event: RecordedEvent) -> None:
        for collection, dims in self.keys(event):
            count(self.db[collection], dims, event.position)

    def ensure_indexes(self) -> None:
        for name in self.collections:
            self.db[name].create_index([("day", ASCENDING)], name="day")


class SecurityReportView(CounterView):
    name = "report_security"
    collections = (SECURITY, SECURITY_BY_IP)

    def keys(self, event: RecordedEvent) -> Iterator[Key]:
        kind = SECURITY_KINDS.get(event.type)
        if kind is None:
            return
        day = day_of(event)
        yield SECURITY, {"day": day, "kind": kind}
        yield SECURITY_BY_IP, {"day": day, "kind": kind, "ip": event.ip or NO_IP}


class AdminActionsReportView(CounterView):
    name = "report_admin_actions"
    collections = (ADMIN_ACTIONS,)

    def keys(self, event: RecordedEvent) -> Iterator[Key]:
        if is_admin_action(event):
            yield ADMIN_ACTIONS, {"day": day_of(event), "admin": event.actor, "type": event.type}


class StatusChangesReportView(CounterView):
    name = "report_status_changes"
    collections = (STATUS_CHANGES,)

    def keys(self, event: RecordedEvent) -> Iterator[Key]:
        if event.type == T.APPLICATION_STATUS_CHANGED:
            yield STATUS_CHANGES, {"day": day_of(event), "status": str(event.data.get("to"))}


def report_views(db: Database) -> list[Any]:
    return [SecurityReportView(db), AdminActionsReportView(db), StatusChangesReportView(db)]
