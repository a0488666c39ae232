"""Lockout counters are exact under concurrency: ``warden serve --workers 2`` over real HTTP.

20 wrong-password logins against one account, fired at once, land on both
workers. Every attempt must be recorded, the account locked exactly once (one
``auth.account_locked``, one email), and the five counted failures numbered 1…5
with no number lost or repeated — the optimistic-concurrency retry at work.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.e2e.test_story import (
    PASSWORD,
    Server,
    _login,
    _login_with_totp,
    _register_verified,
    _server_env,
    _set_roles,
    serving,
)

pytestmark = pytest.mark.e2e

ATTEMPTS = 20
WORKERS = 2
VICTIM = "victim@example.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("warden-lockout")
    env = _server_env(root / "var")
    with serving(root, workers=WORKERS, env=env) as srv:
        yield srv


def _wrong_login(server: Server, results: list[int], barrier: threading.Barrier) -> None:
    barrier.wait()
    status, _, _ = server.request("POST", "/api/auth/login", {"email": VICTIM, "password": "not " + PASSWORD})
    results.append(status)


def _events_of(server: Server, token: str, stream: str) -> list[dict[str, Any]]:
    query = urlencode({"stream": stream, "limit": "200"})
    status, _, page = server.request("GET", f"/api/audit/events?{query}", token=token)
    assert status == 200, page
    assert page["next_cursor"] is None
    return list(page["items"])


def test_twenty_parallel_wrong_passwords_lock_once_and_record_every_attempt(server: Server) -> None:
    _register_verified(server, VICTIM, "Victim")
    _, victim_id = _login(server, VICTIM)  # a success first: the counters start from zero
    _register_verified(server, "watcher@example.com", "Watcher")
    _set_roles(server, "watcher@example.com", "auditor")
    auditor, _ = _login_with_totp(server, "watcher@example.com")

    results: list[int] = []
    barrier = threading.Barrier(ATTEMPTS)
    threads = [threading.Thread(target=_wrong_login, args=(server, results, barrier)) for _ in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) == [401] * ATTEMPTS, server.output()

    events = _events_of(server, auditor, f"user-{victim_id}")
    failed = [e for e in events if e["type"] == "auth.login_failed"]
    assert len(failed) == ATTEMPTS, [e["type"] for e in events]
    reasons = Counter(e["data"]["reason"] for e in failed)
    assert reasons == {"wrong_password": 5, "locked": ATTEMPTS - 5}, reasons
    counted = sorted(e["data"]["failures_in_window"] for e in failed if e["data"]["reason"] == "wrong_password")
    assert counted == [1, 2, 3, 4, 5]
    assert [e["type"] for e in events].count("auth.account_locked") == 1
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))  # one stream, no gap

    # Both workers served, and the owner got exactly one lockout email.
    assert server.log_path.read_text(errors="replace").count("Booting worker") == WORKERS
    mail = server.cli("outbox", "--json", "--to", VICTIM)
    assert mail.returncode == 0, mail.stderr
    subjects = Counter(m["subject"] for m in json.loads(mail.stdout))
    assert subjects["Your Warden account was locked"] == 1, subjects
    # Locked: the right password answers exactly as a wrong one.
    status, _, body = server.request("POST", "/api/auth/login", {"email": VICTIM, "password": PASSWORD})
    assert (status, body["code"]) == (401, "invalid_credentials")
