"""Crypto-shredding over a real MongoDB-wire server.

After an erasure, a raw dump of every collection (every document's BSON bytes, as
the server sends them) holds the subject's email, name and application text in no
form: not as given, lowercased, casefolded, upper-cased, UTF-16, hex or base64
(at every alignment, standard and URL-safe alphabets). The log still verifies
(``warden verify`` and the API), and a rebuild resurrects nothing. Key rotation
re-wraps every data key through ``warden rotate-keys``; the old key can then go.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
import pytest
from falcon import testing

from api.app import create_app
from core.clock import FixedClock
from core.settings import Secret, Settings, new_encryption_key
from events.keys import CACHE_SECONDS, KeyStore, Vault
from events.mongo import MongoEventStore
from services import integrity
from services.deps import Deps
from tests.conftest import Api

PASSWORD = "correct horse battery staple"
EMAIL = "Zenobia.Quartermaine@Example.org"
NAME = "Zenobia Quartermaine-Oyelaran"
TITLE = "Quixotic zeppelin survey"
BODY = "Bathymetry of Lake Vostok by zeppelin, second draft"
REASON = "Zeppelins are not submarines"


def forms(text: str) -> set[bytes]:
    """Every spelling of ``text`` a careless copy could leave behind."""
    variants = {text, text.lower(), text.casefold(), text.upper()}
    out: set[bytes] = set()
    for variant in variants:
        raw = variant.encode()
        out |= {raw, variant.encode("utf-16-le"), raw.hex().encode()}
        for pad in range(3):
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                encoded = encode(b"\0" * pad + raw)
                # Drop the characters that mix in the padding or what follows in a larger value.
                out.add(encoded[(pad * 4 + 2) // 3 + 1 : -3])
    return out


def raw_dump(deps: Deps) -> Iterator[tuple[str, bytes]]:
    for name in deps.db.list_collection_names():
        for doc in deps.db[name].find({}):
            yield name, bson.encode(doc)


def leaks(deps: Deps, secrets: list[str]) -> list[tuple[str, str]]:
    needles = {needle: secret for secret in secrets for needle in forms(secret)}
    found = []
    for collection, data in raw_dump(deps):
        for needle, secret in needles.items():
            if needle in data:
                found.append((collection, secret))
    return found


@pytest.fixture
def api(wire_deps: Deps) -> Api:
    return Api(wire_deps)


def story(api: Api) -> dict[str, Any]:
    """Zenobia registers, writes an application that is reviewed, consents, fails a login."""
    api.register(EMAIL, name=NAME)
    token = api.login(EMAIL)["access_token"]
    reviewer = api.user("reviewer@example.com", roles=["reviewer"])
    app = api.call("POST", "/api/applications", {"title": TITLE, "body": BODY}, token=token).json
    for status, who, extra in (
        ("submitted", token, {}),
        ("under_review", reviewer, {}),
        ("rejected", reviewer, {"reason": REASON}),
    ):
        moved = api.call("POST", f"/api/applications/{app['id']}/status", {"status": status, **extra}, token=who)
        assert moved.status_code == 200, moved.text
    api.call("PUT", "/api/consents/research", {"granted": True}, token=token)
    api.call("POST", "/api/auth/login", {"email": EMAIL, "password": "a wrong password, surely"})
    return {"token": token, "app_id": app["id"], "reviewer": reviewer}


def test_scanner_finds_what_is_there(api: Api) -> None:
    """The oracle works: sealed data is not found, a hidden copy in another spelling is."""
    story(api)
    assert leaks(api.deps, [EMAIL, NAME, TITLE, BODY, REASON]) == []
    api.deps.db["canary"].insert_one({"a": "x" + base64.b64encode(b"yz" + NAME.lower().encode()).decode()})
    api.deps.db["canary"].insert_one({"b": EMAIL.casefold().encode("utf-16-le")})
    assert set(leaks(api.deps, [EMAIL, NAME])) == {("canary", EMAIL), ("canary", NAME)}


def test_erasure_leaves_no_trace_and_the_log_still_verifies(api: Api, wire_uri: str, tmp_path: Path) -> None:
    ada = story(api)
    integrity.seal_now(api.deps)
    # The plaintext really is recoverable before erasure: the key opens it.
    user = api.deps.db["users"].find_one({"status": "active", "full_name": {"$ne": None}, "roles": "applicant"})
    assert api.deps.vault.open(user["_id"], "full_name", user["full_name"]) == NAME

    erased = api.call("POST", "/api/dsr/delete", {"password": PASSWORD, "confirm": "DELETE"}, token=ada["token"])
    assert erased.status_code == 202, erased.text
    integrity.seal_now(api.deps)

    secrets = [EMAIL, NAME, TITLE, BODY, REASON]
    assert leaks(api.deps, secrets) == []
    failed = api.call("POST", "/api/auth/login", {"email": EMAIL, "password": PASSWORD})
    assert (failed.status_code, failed.json["code"]) == (401, "invalid_credentials")

    auditor = api.user("auditor@example.com", roles=["auditor"])
    verified = api.call("GET", "/api/audit/verify", token=auditor)
    assert verified.json["ok"] is True and verified.json["first_failure"] is None
    events = api.call("GET", "/api/audit/events", token=auditor, params={"subject": user["_id"], "limit": 200}).json
    assert any(e["data"].get("full_name") == "[erased]" for e in events["items"])

    cli = run_cli(wire_uri, api.deps, tmp_path, "verify")
    assert cli.returncode == 0, cli.stderr
    cli = run_cli(wire_uri, api.deps, tmp_path, "rebuild")
    assert cli.returncode == 0, cli.stderr
    assert leaks(api.deps, secrets) == []
    after = api.deps.db["users"].find_one({"_id": user["_id"]})
    assert after["status"] == "erased" and after["email"] is None and after["full_name"] is None
    app = api.call("GET", f"/api/applications/{ada['app_id']}", token=ada["reviewer"]).json
    assert (app["status"], app["title"], app["body"]) == ("rejected", "[erased]", "[erased]")
    assert api.call("POST", "/api/auth/login", {"email": EMAIL, "password": PASSWORD}).status_code == 401


def test_a_second_workers_cache_stops_opening_over_the_wire(api: Api, clock: FixedClock) -> None:
    api.register(EMAIL, name=NAME)
    token = api.login(EMAIL)["access_token"]
    doc = api.deps.db["users"].find_one({"full_name": {"$ne": None}})
    # Another gunicorn worker: its own connection, its own key cache, the same database.
    other = Deps.build(api.deps.settings, api.deps.db, MongoEventStore(api.deps.client, api.deps.db.name, clock), clock)
    assert other.vault.open(doc["_id"], "full_name", doc["full_name"]) == NAME
    assert (
        api.call("POST", "/api/dsr/delete", {"password": PASSWORD, "confirm": "DELETE"}, token=token).status_code == 202
    )
    clock.advance(seconds=CACHE_SECONDS - 1)
    assert other.vault.open(doc["_id"], "full_name", doc["full_name"]) == NAME  # the documented bound
    clock.advance(seconds=2)
    assert other.vault.open(doc["_id"], "full_name", doc["full_name"]) == "[erased]"
    fresh = Vault(KeyStore(api.deps.db["subject_keys"], api.deps.keys._keks, clock))
    assert fresh.open(doc["_id"], "full_name", doc["full_name"]) == "[erased]"


# --- key rotation ----------------------------------------------------------------------


def run_cli(uri: str, deps: Deps, tmp_path: Path, *args: str, settings: Settings | None = None) -> Any:
    settings = settings or deps.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "ENCRYPTION_"))}
    env.update(
        APP_ENV="test",
        MONGODB_URI=uri,
        MONGODB_DB=deps.db.name,
        WARDEN_VAR_DIR=str(tmp_path / "var"),
        JWT_SECRET_KEY=settings.jwt_secret_key.reveal(),
        SECRET_KEY=settings.secret_key.reveal(),
        ENCRYPTION_KEY=settings.encryption_key.reveal(),
        ENCRYPTION_PREVIOUS_KEYS=",".join(k.reveal() for k in settings.encryption_previous_keys),
    )
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rebuilt(deps: Deps, settings: Settings, clock: FixedClock) -> Api:
    return Api(Deps.build(settings, deps.db, MongoEventStore(deps.client, deps.db.name, clock), clock, deps.client))


def test_rotate_keys_then_drop_the_old_key(api: Api, wire_uri: str, tmp_path: Path, clock: FixedClock) -> None:
    people = [f"person{i}@example.com" for i in range(5)]
    for email in people:
        api.register(email, name=f"Name of {email}")
    token = api.login(people[0])["access_token"]
    app = api.call("POST", "/api/applications", {"title": TITLE, "body": BODY}, token=token).json
    old = api.deps.settings
    new = dataclasses.replace(
        old, encryption_key=Secret(new_encryption_key()), encryption_previous_keys=(old.encryption_key,)
    )

    # Resumable: a first run interrupted after one batch of two keys leaves the rest for the next.
    def interrupt(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rebuilt(api.deps, new, clock).deps.keys.rotate(interrupt, batch=2)

    result = run_cli(wire_uri, api.deps, tmp_path, "rotate-keys", settings=new)
    assert result.returncode == 0, result.stderr
    total = api.deps.db["subject_keys"].count_documents({})
    assert f"re-wrapped {total - 2} data key(s)" in result.stdout and "2 already were" in result.stdout
    assert "rotate-keys [" in result.stderr  # the progress bar
    again = run_cli(wire_uri, api.deps, tmp_path, "rotate-keys", settings=new)
    assert "re-wrapped 0 data key(s)" in again.stdout

    # Without the old key, everything still opens; events were not rewritten.
    only_new = dataclasses.replace(new, encryption_previous_keys=())
    events_before = [e.hash for e in api.deps.store.read_all()]
    fresh = rebuilt(api.deps, only_new, clock)
    fresh.client = testing.TestClient(create_app(only_new, fresh.deps))
    me = fresh.login(people[0])
    assert me["user"]["full_name"] == f"Name of {people[0]}"
    got = fresh.call("GET", f"/api/applications/{app['id']}", token=me["access_token"]).json
    assert (got["title"], got["body"]) == (TITLE, BODY)
    for email in people[1:]:
        assert fresh.login(email)["user"]["email"] == email
    assert [e.hash for e in api.deps.store.read_all()][: len(events_before)] == events_before
    # ...and the old key alone no longer opens anything.
    stale = rebuilt(api.deps, dataclasses.replace(old, encryption_previous_keys=()), clock)
    with pytest.raises(Exception, match="key-encryption key"):
        stale.deps.keys.get(me["user"]["id"])
