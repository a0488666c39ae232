"""The job lease over the wire: one holder at a time, takeover only after expiry,
and two real worker processes running a job: each run once, failover on SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from pymongo import MongoClient

from core.clock import FixedClock, SystemClock, utc
from services.lease import LEASES, Lease

pytestmark = pytest.mark.integration

TTL = timedelta(seconds=30)


def leases(client: MongoClient, db_name: str, clock: Any, owners: list[str], ttl: timedelta = TTL) -> list[Lease]:
    return [Lease(client[db_name][LEASES], owner, clock, ttl) for owner in owners]


def test_racing_acquirers_exactly_one_wins(wire_uri: str, wire_db_name: str, clock: FixedClock) -> None:
    clients = [MongoClient(wire_uri, tz_aware=True) for _ in range(8)]
    try:
        contenders = [leases(c, wire_db_name, clock, [f"w{n}"])[0] for n, c in enumerate(clients)]
        barrier = threading.Barrier(len(contenders))
        won: list[str] = []

        def contend(lease: Lease) -> None:
            barrier.wait()
            if lease.acquire("job"):
                won.append(lease.owner)

        threads = [threading.Thread(target=contend, args=(lease,)) for lease in contenders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1
        holder = contenders[0].holder("job")
        assert holder is not None and holder[0] == won[0]
    finally:
        for client in clients:
            client.drop_database(wire_db_name)
            client.close()


def test_expired_lease_is_taken_over_and_old_holder_cannot_renew(
    wire_client: MongoClient, wire_db_name: str, clock: FixedClock
) -> None:
    a, b = leases(wire_client, wire_db_name, clock, ["a", "b"])
    assert a.acquire("job")
    assert not b.acquire("job")
    clock.advance(seconds=29)
    assert a.renew("job")  # renewed: 30 s from now
    clock.advance(seconds=29)
    assert not b.acquire("job")
    clock.advance(seconds=2)  # a stopped renewing and its lease ran out
    assert b.acquire("job")
    assert not a.renew("job")
    assert not a.acquire("job")
    b.release("job")
    assert a.acquire("job")  # a clean release hands over at once


# --- two worker processes ----------------------------------------------------------


def worker_process(uri: str, db_name: str, lease_seconds: float) -> None:
    """A real Worker (scheduler, lease, heartbeat) running one job that logs its runs."""
    from core.clock import SystemClock
    from events.mongo import MongoEventStore
    from jobs.main import Worker
    from jobs.runner import JobSpec
    from services.deps import Deps
    from tests.conftest import make_settings

    client: MongoClient = MongoClient(uri, tz_aware=True)
    deps = Deps.build(make_settings(), client[db_name], MongoEventStore(client, db_name), SystemClock(), client)
    pid = os.getpid()

    def tick(d: Deps) -> dict[str, Any]:
        started = d.clock.now()
        time.sleep(0.05)  # a run takes a little time: overlapping runs would show
        d.db["runs"].insert_one({"pid": pid, "started": started, "ended": d.clock.now()})
        return {"ticks": 1}

    spec = JobSpec("tick", tick, "interval", {"seconds": 0.2}, frequent=True)
    Worker(deps, (spec,), lease_ttl=timedelta(seconds=lease_seconds)).start()


def test_two_workers_run_each_job_once_and_fail_over(
    wire_uri: str, wire_client: MongoClient, wire_db_name: str
) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=worker_process, args=(wire_uri, wire_db_name, 1.5)) for _ in range(2)]
    for process in workers:
        process.start()
    runs = wire_client[wire_db_name]["runs"]
    try:
        deadline = time.monotonic() + 60
        while runs.count_documents({}) < 10:
            assert time.monotonic() < deadline, "the workers never ran the job"
            time.sleep(0.1)
        time.sleep(1.0)  # both schedulers have fired several times by now
        before = list(runs.find({}).sort("started", 1))
        assert len({r["pid"] for r in before}) == 1, "two workers ran the same job"
        for earlier, later in zip(before, before[1:], strict=False):
            assert utc(later["started"]) >= utc(earlier["ended"]), "runs overlapped"

        holder = before[0]["pid"]
        os.kill(holder, signal.SIGKILL)
        killed_at = SystemClock().now()
        lease = wire_client[wire_db_name][LEASES].find_one({"_id": "tick"})
        expires = utc(lease["expires_at"])
        survivor = next(p for p in workers if p.pid != holder)
        while runs.count_documents({"pid": survivor.pid}) < 3:
            assert time.monotonic() < deadline + 30, "the other worker never took over"
            time.sleep(0.1)
        taken = list(runs.find({"pid": survivor.pid}).sort("started", 1))
        # It waited for the dead holder's lease to run out, then took the job over.
        assert utc(taken[0]["started"]) >= expires
        assert utc(taken[0]["started"]) - killed_at < timedelta(seconds=5)
        assert runs.count_documents({"pid": holder, "started": {"$gt": killed_at}}) == 0
    finally:
        for process in workers:
            if process.is_alive():
                os.kill(process.pid, signal.SIGKILL)
            process.join(timeout=10)
