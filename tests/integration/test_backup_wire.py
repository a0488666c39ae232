"""`warden backup export | restore | verify` and `warden purge` over the wire, as an operator runs them."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from core.clock import FixedClock
from events.keys import ERASED
from events.mongo import MongoEventStore
from services.deps import Deps
from services.integrity import seal_now, verify_all
from services.purge import purge
from tests.conftest import Api

pytestmark = pytest.mark.integration

RETENTION_DAYS = 30


def warden(deps: Deps, uri: str, tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    settings = deps.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "SENDGRID_", "SENTRY_"))}
    env.update(
        MONGODB_URI=uri,
        MONGODB_DB=deps.db.name,
        WARDEN_VAR_DIR=str(tmp_path / "var"),
        APP_ENV="development",
        JWT_SECRET_KEY=settings.jwt_secret_key.reveal(),
        SECRET_KEY=settings.secret_key.reveal(),
        ENCRYPTION_KEY=settings.encryption_key.reveal(),
        **extra,
    )
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], env=env, capture_output=True, text=True, timeout=180
    )


def views(db: Any, deps: Deps) -> dict[str, list[str]]:
    names = [name for view in deps.projector.views for name in view.collections]
    return {name: sorted(map(repr, db[name].find({}))) for name in names}


@pytest.fixture
def deps(wire_deps: Deps, clock: FixedClock) -> Deps:
    """A log with a purged prefix, so backups carry retention records too."""
    wire_deps.settings = dataclasses.replace(wire_deps.settings, data_retention_days=RETENTION_DAYS)
    api = Api(wire_deps)
    reviewer = api.user("reviewer@example.com", roles=["reviewer"])
    for n in range(3):
        token = api.user(f"owner{n}@example.com")
        made = api.call("POST", "/api/applications", {"title": f"t{n}", "body": "b"}, token=token)
        api.call("POST", f"/api/applications/{made.json['id']}/status", {"status": "submitted"}, token=token)
    seal_now(wire_deps)
    clock.advance(days=RETENTION_DAYS + 1)
    api.login("owner0@example.com")
    api.login("reviewer@example.com")
    assert reviewer
    seal_now(wire_deps)
    assert purge(wire_deps)["events"] > 0
    return wire_deps


@pytest.fixture
def exported(deps: Deps, wire_uri: str, tmp_path: Path) -> Path:
    path = tmp_path / "backup.ndjson"
    done = warden(deps, wire_uri, tmp_path, "backup", "export", str(path))
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    assert manifest["counts"]["event"] == deps.db["events"].count_documents({})
    assert manifest["last_root"] == deps.checkpoints.latest().root  # type: ignore[union-attr]
    return path


def backup_events(deps: Deps, kind: str) -> list[dict[str, Any]]:
    return [e.data for e in deps.store.read_all() if e.type == kind]


def scratch_databases(client: MongoClient, deps: Deps) -> list[str]:
    return [n for n in client.list_database_names() if n.startswith(deps.db.name + "_verify_")]


def test_export_carries_hashes_and_no_subject_keys(deps: Deps, exported: Path) -> None:
    lines = exported.read_bytes().splitlines()
    kinds = [json.loads(line)["kind"] for line in lines]
    assert kinds[0] == "header" and kinds[-1] == "manifest"
    assert {"event", "checkpoint", "purge", "head", "snapshot"} <= set(kinds)
    event = json.loads(lines[1])["doc"]
    assert len(event["hash"]) == 64 and len(event["prev_hash"]) == 64
    assert b"subject_keys" not in exported.read_bytes()
    assert b"wrapped" not in exported.read_bytes()


def test_verify_restores_checks_and_records_the_restore_time(
    deps: Deps, exported: Path, wire_uri: str, wire_client: MongoClient, tmp_path: Path
) -> None:
    done = warden(deps, wire_uri, tmp_path, "backup", "verify", str(exported))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: ")
    recorded = backup_events(deps, "backup.verified")
    assert len(recorded) == 1
    assert recorded[0]["ok"] is True and isinstance(recorded[0]["restore_ms"], int)
    assert recorded[0]["events"] == json.loads(exported.read_bytes().splitlines()[-1])["doc"]["counts"]["event"]
    assert scratch_databases(wire_client, deps) == []


def test_restore_into_another_database_verifies_and_rebuilds_the_same_views(
    deps: Deps, exported: Path, wire_uri: str, wire_client: MongoClient, tmp_path: Path
) -> None:
    target_name = deps.db.name + "_restored"
    try:
        done = warden(
            deps, wire_uri, tmp_path, "backup", "restore", str(exported), "--uri", wire_uri, "--db", target_name
        )
        assert done.returncode == 0, done.stderr
        target = Deps.build(
            deps.settings, wire_client[target_name], MongoEventStore(wire_client, target_name), deps.clock, wire_client
        )
        report = verify_all(target)
        assert report.ok and report.purged == verify_all(deps).purged > 0
        assert views(wire_client[target_name], deps) == views(deps.db, deps)
        # Crypto-shredding holds: no data keys travelled, so nothing personal opens.
        assert wire_client[target_name]["subject_keys"].count_documents({}) == 0
        user = wire_client[target_name]["users"].find_one({})
        assert target.vault.open(user["_id"], "email", user["email"]) == ERASED

        again = warden(
            deps, wire_uri, tmp_path, "backup", "restore", str(exported), "--uri", wire_uri, "--db", target_name
        )
        assert again.returncode == 1 and "not empty" in again.stderr
    finally:
        wire_client.drop_database(target_name)


def rewrite(path: Path, edit: Any) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(edit(lines)))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (
            lambda ls: [*ls[:3], ls[3].replace(b"owner", b"0wner", 1) if b"owner" in ls[3] else ls[3] + b" ", *ls[4:]],
            "corrupted",
        ),
        (lambda ls: [*ls[: len(ls) // 2], ls[len(ls) // 2][:20]], "truncated"),
        (lambda ls: ls[:-1], "truncated: the manifest line is missing"),
        (lambda ls: [b"not json\n", *ls[1:]], "corrupted: line 1"),
    ],
)
def test_damaged_backup_fails_verify_with_the_reason(
    deps: Deps, exported: Path, wire_uri: str, wire_client: MongoClient, tmp_path: Path, damage: Any, reason: str
) -> None:
    rewrite(exported, damage)
    done = warden(deps, wire_uri, tmp_path, "backup", "verify", str(exported))
    assert done.returncode == 1
    assert reason in done.stderr, done.stderr
    failed = backup_events(deps, "backup.verification_failed")
    assert len(failed) == 1 and reason in failed[0]["reason"]
    assert scratch_databases(wire_client, deps) == []


def test_a_consistently_forged_backup_fails_on_the_log_itself(
    deps: Deps, exported: Path, wire_uri: str, tmp_path: Path
) -> None:
    """Someone who edits an event and recomputes the file digest is caught by the hash chain."""
    import hashlib

    lines = exported.read_bytes().splitlines(keepends=True)
    body = lines[:-1]
    index = next(i for i, line in enumerate(body) if b'"kind": "event"' in line and b'"actor": "system"' not in line)
    record = json.loads(body[index])
    record["doc"]["actor"] = "someone-else"
    body[index] = (json.dumps(record) + "\n").encode()
    manifest = json.loads(lines[-1])
    manifest["doc"]["sha256"] = hashlib.sha256(b"".join(body)).hexdigest()
    exported.write_bytes(b"".join(body) + (json.dumps(manifest) + "\n").encode())
    position = record["doc"]["_id"]
    done = warden(deps, wire_uri, tmp_path, "backup", "verify", str(exported))
    assert done.returncode == 1
    assert f"does not verify: position {position}" in done.stderr, done.stderr


def test_purge_command_dry_run_then_purge_then_verify(wire_deps: Deps, wire_uri: str, tmp_path: Path) -> None:
    """The CLI uses the real clock; the log was written at the FixedClock's 2026-01-01, long past 1 day."""
    api = Api(wire_deps)
    api.user("cli@example.com")
    seal_now(wire_deps)
    before = api.db_snapshot()
    dry = warden(wire_deps, wire_uri, tmp_path, "purge", "--dry-run", DATA_RETENTION_DAYS="1")
    assert dry.returncode == 0, dry.stderr
    head = wire_deps.store.head_position()
    assert f"would delete {head} events" in dry.stdout
    assert api.db_snapshot() == before
    done = warden(wire_deps, wire_uri, tmp_path, "purge", DATA_RETENTION_DAYS="1")
    assert done.returncode == 0, done.stderr
    assert f"deleted {head} events" in done.stdout
    verified = warden(wire_deps, wire_uri, tmp_path, "verify")
    assert verified.returncode == 0, verified.stderr
    assert f"positions 1..{head} were purged by retention" in verified.stdout
    runs = [e.type for e in wire_deps.store.read_all() if e.type.startswith("job.")]
    assert runs == ["job.started", "job.succeeded"]
