"""The jobs themselves: functions ``(deps) -> dict`` of counts, run by ``jobs/runner.py``."""

from __future__ import annotations

import uuid
from typing import Any

from events.model import Context, NewEvent, StreamAppend
from events.types import EventType as T
from jobs.runner import alert
from services.cleanup import end_expired_sessions
from services.deps import Deps
from services.dsr_trail import housekeeping as dsr_housekeeping
from services.integrity import seal_now, verify_all
from services.outbox import SendGridSender, deliver_due
from services.purge import purge as retention_purge

__all__ = ["catch_up", "deliver_email", "dsr_housekeeping", "end_sessions", "purge", "seal_checkpoints", "verify"]


def catch_up(deps: Deps) -> dict[str, Any]:
    return {"events": deps.projector.catch_up()}


def deliver_email(deps: Deps) -> dict[str, Any]:
    settings = deps.settings
    if not settings.sendgrid_api_key:
        return {"skipped": "no SENDGRID_API_KEY: mail stays in the local outbox"}
    sender = SendGridSender(settings.sendgrid_api_key.reveal(), settings.sendgrid_from_email)
    return deliver_due(deps, sender)


def seal_checkpoints(deps: Deps) -> dict[str, Any]:
    made = seal_now(deps)
    return {"checkpoints": len(made), "events": sum(c.last_position - c.first_position + 1 for c in made)}


def end_sessions(deps: Deps) -> dict[str, Any]:
    return end_expired_sessions(deps)


def purge(deps: Deps) -> dict[str, Any]:
    result = retention_purge(deps)
    return {k: v for k, v in result.items() if k != "cutoff"} | {"cutoff": str(result["cutoff"])}


def verify(deps: Deps) -> dict[str, Any]:
    """Daily full verification; a failure alerts (error log, Sentry) and is recorded."""
    report = verify_all(deps)
    counts = {
        "events_checked": report.events_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "purged_by_retention": report.purged,
    }
    failure = report.first_failure
    if failure is None:
        return {**counts, "ok": True}
    alert("integrity verification failed", position=failure.position, reason=failure.reason)
    event = NewEvent(
        T.INTEGRITY_VERIFICATION_FAILED, {**counts, "position": failure.position, "reason": failure.reason}
    )
    deps.commit([StreamAppend(f"integrity-{uuid.uuid4().hex}", 0, (event,))], Context(actor="system"))
    return {**counts, "ok": False, "position": failure.position}
