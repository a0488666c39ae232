"""``warden worker``: one APScheduler process running Warden's jobs.

Jobs are functions ``(deps) -> dict`` with explicit scheduler ids. This first
version runs projection catch-up, checkpoint sealing and email delivery; retention
purge, scheduled verification, backups and the single-runner lease are tracked separately.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler

from services.deps import Deps
from services.dsr_trail import housekeeping as dsr_housekeeping
from services.integrity import seal_now
from services.outbox import SendGridSender, deliver_due

logger = logging.getLogger(__name__)

Job = Callable[[Deps], dict[str, Any]]


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
    return {"checkpoints": len(made)}


JOBS: dict[str, tuple[Job, int]] = {
    "projection-catch-up": (catch_up, 5),
    "seal-checkpoints": (seal_checkpoints, 10),
    "email-delivery": (deliver_email, 15),
    "dsr-housekeeping": (dsr_housekeeping, 3600),  # finish interrupted erasures, deadline warnings
}


def run_job(name: str, job: Job, deps: Deps) -> None:
    started = time.perf_counter()
    try:
        result = job(deps)
    except Exception:  # a failing job is logged and retried on its next run
        logger.exception("job failed", extra={"fields": {"job": name}})
        return
    logger.info(
        "job ran", extra={"fields": {"job": name, "ms": round((time.perf_counter() - started) * 1000), **result}}
    )


def run(deps: Deps) -> None:
    scheduler = BlockingScheduler(timezone="UTC")
    for name, (job, seconds) in JOBS.items():
        scheduler.add_job(
            run_job, "interval", seconds=seconds, id=name, args=(name, job, deps), max_instances=1, coalesce=True
        )
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    logger.info("worker started", extra={"fields": {"jobs": sorted(JOBS)}})
    scheduler.start()
