"""`warden db-roles` over the wire, on a SecantusDB started with --auth.

What SecantusDB 0.7.0b3 can and cannot show (checked 2026-12-03): it enforces
authentication and actions no role grants (a role with only find/insert on one
collection cannot update or remove anything), but it takes the union of a
role's actions across collections — `update` granted on `users` also lets
`events` be updated — where MongoDB checks each collection. So these tests:
run the whole app as the API user (the role grants every action it needs),
check the role documents per collection with rolesInfo (what MongoDB enforces),
enforce what SecantusDB can (no drop), and check every collection is listed.
Per-collection enforcement needs a real MongoDB.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from core.clock import FixedClock
from events.model import Context
from events.mongo import MongoEventStore
from services import applications, auth
from services.dbroles import APPEND_ONLY, PURGE_STATE, managed_collections
from services.deps import Deps
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

DB = "warden_roles"
UNAUTHORIZED = 13


def _start(path: Path, auth_on: bool) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(path)]
    process = subprocess.Popen(argv + (["--auth"] if auth_on else []), stdout=subprocess.DEVNULL)
    uri = f"mongodb://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            MongoClient(uri, serverSelectionTimeoutMS=300).admin.command("ping")
            return process, uri
        except Exception:  # not up yet
            time.sleep(0.1)
    process.kill()
    raise AssertionError("secantus did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run `warden db-roles`, create one user per role, restart the server with --auth."""
    pytest.importorskip("secantus")
    path = tmp_path_factory.mktemp("roles-db")
    process, uri = _start(path, auth_on=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "SENDGRID_", "SENTRY_"))}
    env.update(MONGODB_URI=uri, MONGODB_DB=DB, WARDEN_VAR_DIR=str(path / "var"), APP_ENV="development")
    warden = Path(sys.executable).with_name("warden")
    done = subprocess.run([str(warden), "db-roles"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "role wardenApi" in done.stdout and "events find,insert,createIndex;" in done.stdout
    assert "events find,insert,createIndex,remove;" in done.stdout
    admin = MongoClient(uri)
    admin.admin.command("createUser", "root", pwd="root-pw", roles=["root"])
    admin[DB].command("createUser", "api", pwd="api-pw", roles=["wardenApi"])
    admin[DB].command("createUser", "purge", pwd="purge-pw", roles=["wardenPurge"])
    admin.close()
    _stop(process)
    process, uri = _start(path, auth_on=True)
    yield uri
    _stop(process)


def _deps(client: MongoClient) -> Deps:
    clock = FixedClock()
    return Deps.build(make_settings(mongodb_db=DB), client[DB], MongoEventStore(client, DB, clock), clock, client)


def _client(uri: str, user: str) -> MongoClient:
    return MongoClient(uri, username=user, password=f"{user}-pw", authSource=DB, tz_aware=True)


def test_api_role_runs_the_app_but_cannot_rewrite_history(secured: str) -> None:
    client = _client(secured, "api")
    deps = _deps(client)
    deps.ensure_schema()
    ctx = Context(ip="127.0.0.1")
    auth.register(deps, "roles@example.com", "correct horse battery staple", "Role Test", "", ctx)
    token = deps.mailer.list(to="roles@example.com")[0]["text"].split("token=")[1].split()[0]
    auth.verify_email(deps, token, ctx)
    issued = auth.login(deps, "roles@example.com", "correct horse battery staple", ctx)
    principal = auth.authenticate(deps, issued.access_token)
    applications.create(deps, principal, "A title", "A body", ctx)
    with pytest.raises(OperationFailure) as denied:
        client[DB]["events"].drop()
    assert denied.value.code == UNAUTHORIZED
    client.close()


def _privileges(uri: str, role: str) -> dict[str, set[str]]:
    root = MongoClient(uri, username="root", password="root-pw")
    info = root[DB].command("rolesInfo", role, showPrivileges=True)["roles"][0]
    root.close()
    return {p["resource"]["collection"]: set(p["actions"]) for p in info["privileges"]}


def test_api_role_may_only_find_and_insert_history(secured: str) -> None:
    granted = _privileges(secured, "wardenApi")
    assert granted["events"] == {"find", "insert", "createIndex"}
    assert granted["checkpoints"] == {"find", "insert", "createIndex"}
    assert "" not in granted, "no database-wide grant"
    assert all("dropCollection" not in actions for actions in granted.values())


def test_purge_role_adds_only_what_the_retention_purge_needs(secured: str) -> None:
    api, purge = _privileges(secured, "wardenApi"), _privileges(secured, "wardenPurge")
    assert purge["events"] == api["events"] | {"remove"}
    assert purge["checkpoints"] == api["checkpoints"] | {"update"}
    for name in PURGE_STATE:
        assert api[name] == {"find", "createIndex"}
        assert purge[name] >= {"insert", "update", "remove"}
    same = set(api) - {"events", "checkpoints", *PURGE_STATE}
    assert {k: purge[k] for k in same} == {k: api[k] for k in same}


def test_purge_role_may_remove_events(secured: str) -> None:
    client = _client(secured, "purge")
    events = client[DB]["events"]
    events.insert_one({"_id": 10**9, "probe": True})
    assert events.delete_one({"_id": 10**9}).deleted_count == 1
    client.close()


def test_roles_cover_every_collection_the_app_creates(secured: str) -> None:
    root = MongoClient(secured, username="root", password="root-pw")
    created = set(root[DB].list_collection_names())
    root.close()
    client = _client(secured, "api")
    covered = set(APPEND_ONLY) | set(PURGE_STATE) | set(managed_collections(_deps(client)))
    client.close()
    assert created, "the first test should have created collections"
    assert created <= covered, f"not granted by db-roles: {sorted(created - covered)}"
