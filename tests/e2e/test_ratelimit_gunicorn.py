"""Rate limits across gunicorn workers: ``warden serve --workers 4`` over real HTTP.

30 logins fired at once from one address must admit exactly 5 (SPEC §6: 5 per
15 minutes per IP) whichever worker takes each one, and a spoofed
X-Forwarded-For (TRUSTED_PROXY_COUNT=0) must not buy a fresh budget.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_story import Server, _server_env, serving

pytestmark = pytest.mark.e2e

ATTEMPTS = 30
WORKERS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("warden-ratelimit")
    env = _server_env(root / "var")
    env.pop("RATE_LIMITS", None)  # the production defaults
    with serving(root, workers=WORKERS, env=env) as srv:
        yield srv


def _login(server: Server, results: list[tuple[int, dict[str, str]]], barrier: threading.Barrier, n: int) -> None:
    body = {"email": f"guess{n}@example.com", "password": "correct horse battery staple"}
    barrier.wait()
    status, headers, _ = server.request("POST", "/api/auth/login", body)
    results.append((status, headers))


def test_thirty_concurrent_logins_from_one_ip_admit_exactly_five(server: Server) -> None:
    results: list[tuple[int, dict[str, str]]] = []
    barrier = threading.Barrier(ATTEMPTS)
    threads = [threading.Thread(target=_login, args=(server, results, barrier, n)) for n in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(status for status, _ in results)
    assert len(statuses) == ATTEMPTS, server.output()
    admitted = [s for s in statuses if s != 429]
    assert admitted == [401] * 5, statuses  # unknown emails: admitted, then refused by the password check
    refused = [headers for status, headers in results if status == 429]
    assert len(refused) == 25
    for headers in refused:
        assert headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(headers["retry-after"]) <= 900
    # Four worker processes were serving (each with its own MongoClient): the count is shared.
    assert server.log_path.read_text(errors="replace").count("Booting worker") == WORKERS


def test_spoofed_forwarded_for_does_not_reset_the_limit(server: Server) -> None:
    for n in range(5):
        status, headers, body = server.request(
            "POST",
            "/api/auth/login",
            {"email": "guess@example.com", "password": "correct horse battery staple"},
            headers={"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"203.0.113.{n}"},
        )
        assert status == 429, body
        assert body["code"] == "rate_limited"
        assert int(headers["retry-after"]) >= 1
