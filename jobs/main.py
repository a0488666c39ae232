"""``warden worker``: one APScheduler process running Warden's jobs.

Jobs are functions ``(deps) -> dict`` of counts, each with an explicit scheduler
id. Several workers may run (one per instance): a MongoDB lease per job
(``services/lease.py``) lets one instance run it at a time. The instance that
takes a job's lease keeps it, renewing it on every run and from a heartbeat, so
every scheduled run happens on exactly one instance; if that instance dies its
leases expire and another instance's next attempt takes over. A clean shutdown
releases the leases at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler

from jobs.runner import JobSpec, JobState, alert, run_job
from jobs.tasks import catch_up, deliver_email, dsr_housekeeping, end_sessions, purge, seal_checkpoints, verify
from services.deps import Deps
from services.lease import LEASES, Lease, new_owner_id

logger = logging.getLogger(__name__)

LEASE_TTL = timedelta(seconds=60)

JOBS: tuple[JobSpec, ...] = (
    JobSpec("projection-catch-up", catch_up, "interval", {"seconds": 5}, frequent=True),
    JobSpec("seal-checkpoints", seal_checkpoints, "interval", {"seconds": 10}, frequent=True, settle=seal_checkpoints),
    JobSpec("email-delivery", deliver_email, "interval", {"seconds": 15}, frequent=True),
    JobSpec("session-cleanup", end_sessions, "interval", {"hours": 1}),
    # Finish interrupted erasures, warn about DSR deadlines (services/dsr_trail.py).
    JobSpec("dsr-housekeeping", dsr_housekeeping, "interval", {"hours": 1}),
    JobSpec("integrity-verification", verify, "cron", {"hour": 3, "minute": 0}),
    JobSpec("retention-purge", purge, "cron", {"hour": 4, "minute": 0}),
)


class Worker:
    def __init__(self, deps: Deps, jobs: tuple[JobSpec, ...] = JOBS, lease_ttl: timedelta = LEASE_TTL) -> None:
        self.deps = deps
        self.jobs = jobs
        self.lease = Lease(deps.db[LEASES], new_owner_id(), deps.clock, lease_ttl)
        self.state = JobState()
        self.scheduler = BlockingScheduler(timezone="UTC")
        self._lock = threading.Lock()

    def run_once(self, spec: JobSpec) -> dict[str, Any] | None:
        try:
            return run_job(self.deps, spec, self.lease, self.state)
        except Exception as ex:  # the lease store itself failed (database away): try next time
            alert("job could not run", job=spec.name, error=type(ex).__name__)
            return None

    def heartbeat(self) -> None:
        """Renew the leases we hold, so a long run (a purge) keeps its lease."""
        for spec in self.jobs:
            self.lease.renew(spec.name)  # matches only leases we hold

    def start(self) -> None:
        for spec in self.jobs:
            self.scheduler.add_job(
                self.run_once,
                spec.trigger,
                args=(spec,),
                id=spec.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=60,
                **spec.schedule,
            )
        beat = max(self.lease.ttl.total_seconds() / 3, 0.05)
        self.scheduler.add_job(self.heartbeat, "interval", seconds=beat, id="lease-heartbeat", max_instances=1)
        signal.signal(signal.SIGTERM, lambda *_: self.scheduler.shutdown(wait=False))
        logger.info(
            "worker started", extra={"fields": {"owner": self.lease.owner, "jobs": [j.name for j in self.jobs]}}
        )
        try:
            self.scheduler.start()
        finally:
            for spec in self.jobs:
                self.lease.release(spec.name)


def run(deps: Deps) -> None:
    Worker(deps).start()
