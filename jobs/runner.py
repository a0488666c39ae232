"""Running one job: the lease, the timing, the run events, the alert on failure.

What gets recorded (each run an event on its own ``job-<run id>`` stream):

- **Rare jobs** (hourly, daily: purge, verification, cleanup) record
  ``job.started`` before the work and ``job.succeeded``/``job.failed`` after,
  always. A start without an outcome is itself evidence: the worker died mid-run.
- **Frequent jobs** (every few seconds: catch-up, sealing, email delivery) record
  one ``job.succeeded`` only when the run did something, and ``job.failed`` only
  on the first failure after a success. A no-op run every 5 s would add ~17k
  events a day that say nothing, and a database hiccup would repeat the same
  failure every few seconds; the log is for facts worth auditing. Their no-op
  runs still log at debug, and their failures always log at error.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from events.model import Context, NewEvent, StreamAppend
from events.types import EventType as T
from services.deps import Deps
from services.lease import Lease

logger = logging.getLogger(__name__)

Job = Callable[[Deps], dict[str, Any]]
WORKER = Context(actor="system")


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Job
    trigger: str  # "interval" or "cron"
    schedule: dict[str, Any]
    frequent: bool = False
    # Run again after the run's own event is recorded, so a job whose work is the
    # log itself (sealing) absorbs its own event now instead of on its next run,
    # which would then record a run, which the next would seal, forever.
    settle: Job | None = None


@dataclass
class JobState:
    failing: set[str] = field(default_factory=set)


def did_work(result: dict[str, Any]) -> bool:
    return any(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in result.values())


def record(deps: Deps, run_id: str, version: int, event_type: str, data: dict[str, Any]) -> None:
    event = NewEvent(event_type, data)
    deps.commit([StreamAppend(f"job-{run_id}", version, (event,))], WORKER)


ALERTS = "warden.alerts"
alerts = logging.getLogger(ALERTS)


def alert(message: str, exc_info: bool = False, **fields: Any) -> None:
    """Error-level log and, if Sentry was initialised, exactly one Sentry message.

    Alerts log through their own logger, which Sentry's logging integration is
    told to ignore, so an alert is not reported twice (once as a log event).
    """
    import sentry_sdk
    from sentry_sdk.integrations.logging import ignore_logger

    ignore_logger(ALERTS)
    alerts.error(message, exc_info=exc_info, extra={"fields": fields})
    if sentry_sdk.is_initialized():
        with sentry_sdk.new_scope() as scope:
            for key, value in fields.items():
                scope.set_extra(key, value)
            sentry_sdk.capture_message(message, level="error")


def log_only(message: str, **fields: Any) -> None:
    """Error level in the logs, not another Sentry event (the first one was sent)."""
    from sentry_sdk.integrations.logging import ignore_logger

    ignore_logger(ALERTS)
    alerts.error(message, exc_info=True, extra={"fields": fields})


def run_job(deps: Deps, spec: JobSpec, lease: Lease | None = None, state: JobState | None = None) -> dict | None:
    """Run ``spec`` if this instance holds (or takes) its lease; None when another holds it."""
    if lease is not None and not lease.acquire(spec.name):
        return None
    state = state or JobState()
    run_id = uuid.uuid4().hex
    started_at = deps.clock.now()
    began = time.perf_counter()
    version = 0
    if not spec.frequent:
        record(deps, run_id, 0, T.JOB_STARTED, {"job": spec.name})
        version = 1
    try:
        result = spec.func(deps)
    except Exception as ex:  # a failing job is recorded and retried on its next run
        ms = round((time.perf_counter() - began) * 1000)
        first = spec.name not in state.failing
        if first or not spec.frequent:
            alert("job failed", exc_info=True, job=spec.name, error=type(ex).__name__, ms=ms)
        else:  # the same failure every few seconds: logged, not re-alerted
            log_only("job failed again", job=spec.name, ms=ms)
        if not spec.frequent or first:
            outcome = {"job": spec.name, "error": type(ex).__name__, "duration_ms": ms, "started_at": started_at}
            _record_quietly(deps, run_id, version, T.JOB_FAILED, outcome)
        state.failing.add(spec.name)
        return {"error": type(ex).__name__}
    state.failing.discard(spec.name)
    ms = round((time.perf_counter() - began) * 1000)
    logger.log(
        logging.INFO if did_work(result) or not spec.frequent else logging.DEBUG,
        "job ran",
        extra={"fields": {"job": spec.name, "ms": ms, **result}},
    )
    if not spec.frequent or did_work(result):
        outcome = {"job": spec.name, "duration_ms": ms, "started_at": started_at, "result": _plain(result)}
        record(deps, run_id, version, T.JOB_SUCCEEDED, outcome)
        if spec.settle is not None:
            spec.settle(deps)
    return result


def _record_quietly(deps: Deps, run_id: str, version: int, event_type: str, data: dict[str, Any]) -> None:
    try:
        record(deps, run_id, version, event_type, data)
    except Exception:  # the database may be what failed; the error log above stands
        log_only("could not record the job failure", job=data.get("job"))


def _plain(result: dict[str, Any]) -> dict[str, Any]:
    """Keep what the canonical encoding accepts (no floats): counts and short strings."""
    return {k: v for k, v in result.items() if isinstance(v, (int, str, bool)) or v is None}
