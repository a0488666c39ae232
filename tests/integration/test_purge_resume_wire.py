"""A purge killed with SIGKILL (before its commit point, or half-way through deleting)
resumes on the next run and ends in exactly the state an uninterrupted purge reaches."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from core.clock import FixedClock
from core.settings import Settings
from events.mongo import MongoEventStore
from services.deps import Deps
from services.integrity import seal_now, verify_all
from services.purge import purge
from tests.conftest import Api, make_settings

pytestmark = pytest.mark.integration

RETENTION_DAYS = 30


def build(settings: Settings, client: MongoClient, name: str, clock: FixedClock) -> Deps:
    deps = Deps.build(settings, client[name], MongoEventStore(client, name, clock), clock, client)
    deps.ensure_schema()
    return deps


def purge_until_killed(uri: str, name: str, settings: Settings, now: datetime, stop_at: str, marker: str) -> None:
    """Child process: purge in tiny batches and freeze at ``stop_at`` until killed."""
    import services.purge as module
    from projections.snapshots import SnapshotStore

    def freeze() -> None:
        Path(marker).write_text("frozen")
        time.sleep(120)

    module.BATCH = 3
    if stop_at == "snapshots":
        original = SnapshotStore.save_stream

        def save_then_freeze(self: Any, *args: Any) -> None:
            original(self, *args)
            freeze()

        SnapshotStore.save_stream = save_then_freeze  # type: ignore[method-assign]
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if stop_at == "deleting" and len(calls) == 2:
            freeze()

    client: MongoClient = MongoClient(uri, tz_aware=True)
    deps = build(settings, client, name, FixedClock(now))
    purge(deps, progress=progress)


def state(db: Any) -> dict[str, list[str]]:
    skip = {"system.indexes"}
    return {n: sorted(map(repr, db[n].find({}))) for n in sorted(db.list_collection_names()) if n not in skip}


def copy_database(client: MongoClient, source: str, target: str) -> None:
    for name in client[source].list_collection_names():
        docs = list(client[source][name].find({}))
        if docs:
            client[target][name].insert_many(docs)


@pytest.mark.parametrize("stop_at", ["snapshots", "deleting"])
def test_killed_purge_resumes_to_the_same_end_state(
    stop_at: str, wire_uri: str, wire_client: MongoClient, wire_db_name: str, clock: FixedClock, tmp_path: Path
) -> None:
    settings = dataclasses.replace(make_settings(), data_retention_days=RETENTION_DAYS)
    deps = build(settings, wire_client, wire_db_name, clock)
    api = Api(deps)
    for n in range(4):
        api.user(f"old{n}@example.com")
    seal_now(deps)
    clock.advance(days=RETENTION_DAYS + 1)
    api.user("new@example.com")
    seal_now(deps)

    twin_name = wire_db_name + "_twin"
    copy_database(wire_client, wire_db_name, twin_name)
    twin = build(settings, wire_client, twin_name, clock)
    try:
        purge(twin)

        marker = tmp_path / "frozen"
        ctx = multiprocessing.get_context("spawn")
        child = ctx.Process(
            target=purge_until_killed, args=(wire_uri, wire_db_name, settings, clock.now(), stop_at, str(marker))
        )
        child.start()
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.is_alive() and time.monotonic() < deadline, "child never reached the kill point"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=10)
        assert child.exitcode == -signal.SIGKILL
        interrupted = wire_client[wire_db_name]["retention_purges"].find_one({})
        if stop_at == "snapshots":
            assert interrupted is None  # killed before the commit point
        else:
            assert interrupted["status"] == "deleting"
            assert 0 < interrupted["deleted_through"] < interrupted["horizon"]

        purge(deps)

        assert state(wire_client[wire_db_name]) == state(wire_client[twin_name])
        assert verify_all(deps).ok
    finally:
        wire_client.drop_database(twin_name)
