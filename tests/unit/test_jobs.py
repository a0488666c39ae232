"""Job runs as events, failure alerts (error log + one Sentry message), cleanup jobs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from core.clock import FixedClock
from events.memory import InMemoryEventStore
from events.model import RecordedEvent
from jobs.main import JOBS
from jobs.runner import JobSpec, JobState, run_job
from jobs.tasks import end_sessions, seal_checkpoints, verify
from services.deps import Deps
from tests.conftest import Api

DSN = "https://0123456789abcdef0123456789abcdef@sentry.invalid/42"


def job_events(deps: Deps) -> list[RecordedEvent]:
    return [e for e in deps.store.read_all() if e.type.startswith(("job.", "integrity."))]


class Transport_(Transport):
    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[bytes] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope.serialize())


@pytest.fixture
def sentry() -> Iterator[Transport_]:
    transport = Transport_()
    sentry_sdk.init(dsn=DSN, transport=transport, default_integrations=False)
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def test_a_rare_job_records_start_and_outcome_with_counts(deps: Deps) -> None:
    spec = JobSpec("cleanup", lambda d: {"removed": 3}, "interval", {"hours": 1})
    run_job(deps, spec)
    events = job_events(deps)
    assert [e.type for e in events] == ["job.started", "job.succeeded"]
    assert events[0].stream == events[1].stream
    outcome = events[1].data
    assert outcome["job"] == "cleanup" and outcome["result"] == {"removed": 3}
    assert isinstance(outcome["duration_ms"], int) and outcome["started_at"] == deps.clock.now()


def test_a_rare_job_records_even_a_run_that_did_nothing(deps: Deps) -> None:
    run_job(deps, JobSpec("cleanup", lambda d: {"removed": 0}, "interval", {"hours": 1}))
    assert [e.type for e in job_events(deps)] == ["job.started", "job.succeeded"]


def test_frequent_jobs_record_only_runs_that_did_something(deps: Deps) -> None:
    work = iter([0, 0, 2, 0])
    spec = JobSpec("catch-up", lambda d: {"events": next(work)}, "interval", {"seconds": 5}, frequent=True)
    for _ in range(4):
        run_job(deps, spec)
    events = job_events(deps)
    assert [(e.type, e.data["result"]) for e in events] == [("job.succeeded", {"events": 2})]


def test_sealing_absorbs_its_own_run_event(api: Api) -> None:
    """Otherwise each run would seal the previous run's event and record itself, forever."""
    deps = api.deps
    api.user("someone@example.com")
    spec = next(j for j in JOBS if j.name == "seal-checkpoints")
    for _ in range(3):
        run_job(deps, spec)
    runs = [e for e in job_events(deps) if e.data.get("job") == "seal-checkpoints"]
    assert len(runs) == 1
    assert deps.checkpoints.latest().last_position == deps.store.head_position()  # type: ignore[union-attr]
    assert seal_checkpoints(deps)["checkpoints"] == 0


def boom(deps: Deps) -> dict[str, Any]:
    raise RuntimeError("database on fire")


def test_a_failing_job_logs_error_records_and_alerts_once(
    deps: Deps, sentry: Transport_, caplog: pytest.LogCaptureFixture
) -> None:
    spec = JobSpec("seal-checkpoints", boom, "interval", {"seconds": 10}, frequent=True)
    state = JobState()
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            run_job(deps, spec, state=state)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3  # every failure is in the logs...
    assert [e.type for e in job_events(deps)] == ["job.failed"]  # ...recorded once...
    assert job_events(deps)[0].data["error"] == "RuntimeError"
    sentry_sdk.flush()
    messages = [b for b in sentry.envelopes if b"job failed" in b]
    assert len(messages) == 1  # ...and alerted once, until it recovers
    run_job(deps, JobSpec("seal-checkpoints", lambda d: {"checkpoints": 1}, "interval", {}, frequent=True), state=state)
    run_job(deps, spec, state=state)
    assert [e.type for e in job_events(deps)] == ["job.failed", "job.succeeded", "job.failed"]


def test_failed_verification_alerts_and_is_recorded(
    api: Api, sentry: Transport_, caplog: pytest.LogCaptureFixture
) -> None:
    deps = api.deps
    api.user("victim@example.com")
    store = deps.store  # the in-memory twin: tamper with its log as an attacker with db access would
    assert isinstance(store, InMemoryEventStore)
    from dataclasses import replace

    store._log[1] = replace(store._log[1], actor="mallory")  # noqa: SLF001
    with caplog.at_level(logging.ERROR):
        result = verify(deps)
    assert result["ok"] is False and result["position"] == 2
    assert any(r.levelno == logging.ERROR and "integrity" in r.getMessage() for r in caplog.records)
    failed = [e for e in deps.store.read_all() if e.type == "integrity.verification_failed"]
    assert len(failed) == 1 and failed[0].data["position"] == 2
    sentry_sdk.flush()
    assert any(b"integrity verification failed" in b for b in sentry.envelopes)


def test_an_intact_log_verifies_without_alert(api: Api, sentry: Transport_) -> None:
    api.user("fine@example.com")
    assert verify(api.deps)["ok"] is True
    sentry_sdk.flush()
    assert sentry.envelopes == []


def test_session_cleanup_ends_idle_and_too_old_sessions_only(api: Api, clock: FixedClock) -> None:
    deps = api.deps
    api.user("idle@example.com")
    clock.advance(minutes=31)
    api.user("busy@example.com")
    assert end_sessions(deps) == {"sessions_ended": 1, "sessions_raced": 0}
    statuses = {d["status"] for d in deps.db["sessions"].find({})}
    assert statuses == {"ended", "active"}
    ended = deps.db["sessions"].find_one({"status": "ended"})
    assert ended["end_reason"] == "expired"
    assert end_sessions(deps)["sessions_ended"] == 0
    clock.advance(hours=13)
    assert end_sessions(deps)["sessions_ended"] == 1
    live = sorted(map(repr, deps.db["sessions"].find({})))
    deps.projector.rebuild()
    assert sorted(map(repr, deps.db["sessions"].find({}))) == live


def test_every_job_has_a_unique_scheduler_id() -> None:
    names = [j.name for j in JOBS]
    assert len(names) == len(set(names))
    assert {"retention-purge", "integrity-verification", "seal-checkpoints", "session-cleanup"} <= set(names)
