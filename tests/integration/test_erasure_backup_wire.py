"""A backup taken before an erasure and restored after it brings nobody back.

Backups carry the log, never ``subject_keys``; the restored database is given the
live key store (which holds the erasure's tombstone), so the erased person's
sealed data opens nowhere: not in the restored views, not through the API, and
neither the file nor the restored database holds it in any spelling.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from core.clock import FixedClock
from events.mongo import MongoEventStore
from services.deps import Deps
from tests.conftest import Api
from tests.integration.test_erasure_wire import BODY, EMAIL, NAME, PASSWORD, REASON, TITLE, forms, leaks, run_cli, story


def test_backup_before_erasure_restored_after_opens_nothing(
    wire_deps: Deps, wire_uri: str, tmp_path: Path, clock: FixedClock
) -> None:
    api = Api(wire_deps)
    ada = story(api)
    backup = tmp_path / "before.ndjson"
    exported = run_cli(wire_uri, wire_deps, tmp_path, "backup", "export", str(backup))
    assert exported.returncode == 0, exported.stderr
    assert (
        api.call("POST", "/api/dsr/delete", {"password": PASSWORD, "confirm": "DELETE"}, token=ada["token"]).status_code
        == 202
    )

    target = "t_" + uuid.uuid4().hex[:12]
    restored = run_cli(
        wire_uri, wire_deps, tmp_path, "backup", "restore", str(backup), "--uri", wire_uri, "--db", target
    )
    assert restored.returncode == 0, restored.stderr
    client = wire_deps.client
    assert client is not None
    try:
        db = client[target]
        assert db["subject_keys"].count_documents({}) == 0  # keys never travel in a backup
        # The operator hands the restored database the live key store, tombstones included.
        db["subject_keys"].insert_many(list(wire_deps.db["subject_keys"].find({})))
        other = Api(Deps.build(wire_deps.settings, db, MongoEventStore(client, target, clock), clock, client))

        secrets = [EMAIL, NAME, TITLE, BODY, REASON]
        assert leaks(other.deps, secrets) == []
        data = backup.read_bytes()
        assert [s for s in secrets for needle in forms(s) if needle in data] == []

        failed = other.call("POST", "/api/auth/login", {"email": EMAIL, "password": PASSWORD})
        assert (failed.status_code, failed.json["code"]) == (401, "invalid_credentials")
        reviewer = other.login("reviewer@example.com")["access_token"]
        app = other.call("GET", f"/api/applications/{ada['app_id']}", token=reviewer).json
        assert (app["title"], app["body"], app["reason"]) == ("[erased]", "[erased]", "[erased]")
        for doc in db["users"].find({}):
            assert other.deps.vault.open(doc["_id"], "full_name", doc["full_name"]) != NAME
    finally:
        client.drop_database(target)
