"""The DSR trail: a subject's own requests, every request for admins, and the SLA report."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from core.clock import isoformat, utc
from core.errors import ConcurrencyError, ValidationFailed
from core.permissions import Role
from events.keys import ERASED
from events.model import SYSTEM, Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services.deps import Deps
from services.dsr import request_view, resume_erasures
from services.paging import Page, decode_key_cursor, encode_key_cursor

logger = logging.getLogger(__name__)

REMIND_BEFORE = timedelta(days=7)
REMINDER_DAYS = (7, 1)
STATUSES = frozenset({"in_progress", "completed", "overdue"})
MAX_LISTED = 200
_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def encode_cursor(request_id: str) -> str:
    return encode_key_cursor("r", request_id)


def decode_cursor(cursor: str | None) -> str | None:
    return decode_key_cursor(cursor, "r", _REQUEST_ID)


def own_requests(deps: Deps, subject_id: str) -> list[dict[str, Any]]:
    docs = deps.db["dsr_requests"].find({"subject": subject_id}).sort([("requested_at", -1), ("_id", 1)])
    return [request_view(deps, d) for d in docs.limit(MAX_LISTED)]


def all_requests(deps: Deps, status: str | None, after: str | None, limit: int) -> Page:
    query: dict[str, Any] = {}
    if status is not None:
        if status not in STATUSES:
            raise ValidationFailed("Unknown status.", errors=[{"field": "status", "code": "invalid_status"}])
        if status == "overdue":
            query = {"status": "in_progress", "deadline": {"$lt": deps.clock.now()}}
        else:
            query = {"status": status}
    if after is not None:
        query["_id"] = {"$gt": after}
    docs = list(deps.db["dsr_requests"].find(query).sort("_id", 1).limit(limit + 1))
    more = len(docs) > limit
    docs = docs[:limit]
    return Page([request_view(deps, d) for d in docs], encode_cursor(docs[-1]["_id"]) if more else None)


def report(deps: Deps) -> dict[str, Any]:
    """Requests, outcomes, time to completion and overdue, from the dsr_requests view."""
    now = deps.clock.now()
    views = [request_view(deps, d) for d in deps.db["dsr_requests"].find({})]
    by_kind: dict[str, dict[str, int]] = {}
    outcomes: dict[str, int] = {}
    durations: list[float] = []
    late = 0
    for v in views:
        counts = by_kind.setdefault(v["kind"], {"requested": 0, "completed": 0, "in_progress": 0, "overdue": 0})
        counts["requested"] += 1
        counts["completed" if v["completed_at"] else "in_progress"] += 1
        counts["overdue"] += int(v["overdue"])
        if v["completed_at"]:
            outcomes[v["outcome"]] = outcomes.get(v["outcome"], 0) + 1
            durations.append((v["completed_at"] - v["requested_at"]).total_seconds())
            late += int(v["completed_at"] > v["deadline"])
    overdue = sorted((v for v in views if v["overdue"]), key=lambda v: v["deadline"])
    return {
        "generated_at": now,
        "total": len(views),
        "by_kind": by_kind,
        "outcomes": outcomes,
        "time_to_completion_seconds": {
            "count": len(durations),
            "mean": sum(durations) / len(durations) if durations else None,
            "median": median(durations) if durations else None,
            "max": max(durations) if durations else None,
        },
        "completed_late": late,
        "overdue": len(overdue),
        "overdue_requests": [
            {k: v[k] for k in ("id", "kind", "requested_at", "deadline")}
            | {"days_overdue": (now - utc(v["deadline"])).days}
            for v in overdue
        ],
    }


def housekeeping(deps: Deps) -> dict[str, Any]:
    """The worker's DSR job: finish interrupted erasures, remind of deadlines (SPEC §7)."""
    resumed = resume_erasures(deps)["resumed"]
    now = deps.clock.now()
    open_requests = list(
        deps.db["dsr_requests"].find({"status": "in_progress", "deadline": {"$lt": now + REMIND_BEFORE}})
    )
    overdue = [d["_id"] for d in open_requests if utc(d["deadline"]) < now]
    due_soon = [d["_id"] for d in open_requests if utc(d["deadline"]) >= now]
    reminded = sum(_remind(deps, doc, now) for doc in open_requests)
    if overdue or due_soon:
        # Ids only: which person a request is about stays in the DSR trail.
        logger.warning("dsr deadlines", extra={"fields": {"overdue": overdue, "due_within_7_days": due_soon}})
    return {"resumed": resumed, "overdue": len(overdue), "due_soon": len(due_soon), "reminded": reminded}


def _remind(deps: Deps, doc: dict[str, Any], now: datetime) -> int:
    """Send each reminder (7 days, then 1 day before the deadline) once: an event, and mail to admins."""
    left = utc(doc["deadline"]) - now
    due = [days for days in REMINDER_DAYS if left <= timedelta(days=days) and days not in doc.get("reminders_sent", [])]
    if not due:
        return 0
    days = min(due)  # a job that was down past both marks sends the nearer one only
    event = NewEvent(T.DSR_DEADLINE_REMINDER, {"subject": doc["subject"], "days_before": days})
    try:
        deps.commit([StreamAppend(stream_id("dsr", doc["_id"]), doc["version"], (event,))], Context(actor=SYSTEM))
    except ConcurrencyError:
        return 0  # another worker reminded (or the request moved on) first
    for admin in deps.db["users"].find({"roles": Role.ADMIN.value, "status": "active"}):
        email = deps.vault.open(admin["_id"], "email", admin["email"])
        if email and email != ERASED:
            deps.mailer.send(
                subject_id=admin["_id"],
                to=email,
                subject=f"Data-subject request due in {days} day(s)",
                text=f"The {doc['kind']} request {doc['_id']} is due by {isoformat(doc['deadline'])} "
                "and is still open. See GET /api/admin/dsr.\n",
                kind="dsr_reminder",
            )
    return 1
