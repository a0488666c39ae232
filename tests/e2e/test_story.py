"""End to end: ``warden serve`` (gunicorn + embedded SecantusDB) driven over real HTTP.

One server per module. The story test walks the application workflow with three
users and then reads it back from the audit log as an auditor; the others check
that bad input over the wire is refused without touching the log, and that
``warden verify`` finds the log intact. Only the standard library speaks HTTP;
all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

pytestmark = pytest.mark.e2e

HOST = "127.0.0.1"
PASSWORD = "correct horse battery staple"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
HTTP_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0
ZERO_HASH = "0" * 64
STORY_TYPES = ("user.registered", "auth.login_succeeded", "application.created", "application.status_changed")


# --- helpers -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _warden_command() -> list[str]:
    script = Path(sys.executable).with_name("warden")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "cli.main"]


@dataclass
class Server:
    port: int
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except OSError as ex:
            return f"(no output: {ex})"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """One request on a fresh connection: (status, lower-cased headers, decoded JSON or None)."""
        send = dict(headers or {})
        payload: bytes | None = raw
        if body is not None:
            payload = json.dumps(body).encode()
        if payload is not None:
            send.setdefault("Content-Type", "application/json")
        if token:
            send["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPConnection(HOST, self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body=payload, headers=send)
            response = conn.getresponse()
            data = response.read()
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
            status = response.status
        finally:
            conn.close()
        decoded: Any = None
        if data:
            try:
                decoded = json.loads(data)
            except ValueError:
                decoded = data.decode(errors="replace")
        return status, answer_headers, decoded

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_warden_command(), *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )


def _server_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "SENDGRID_", "SENTRY_"))}
    for name in ("PORT", "WEB_CONCURRENCY", "WARDEN_BIND", "REQUIRE_EMAIL_VERIFICATION", "TRUSTED_PROXY_COUNT"):
        env.pop(name, None)
    env.update(
        WARDEN_VAR_DIR=str(var_dir),
        APP_ENV="development",
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_COST="8192",
        ARGON2_PARALLELISM="1",
        PYTHONUNBUFFERED="1",
        # Every test here signs people in from 127.0.0.1 within minutes, near SPEC §6's 5;
        # tests/e2e/test_ratelimit_gunicorn.py runs the production limits.
        RATE_LIMITS="login=1000/900,registration=1000/3600,password_reset=1000/3600",
    )
    return env


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    for path in ("/healthz", "/readyz"):
        while True:
            if server.process.poll() is not None:
                pytest.fail(f"warden serve exited with {server.process.returncode}:\n{server.output()}")
            try:
                status, _, _ = server.request("GET", path)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"warden serve: {path} not 200 within {READY_TIMEOUT:.0f} s:\n{server.output()}")
            time.sleep(0.1)  # the readiness poll: the only sleep in this module


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def module_timer(request: pytest.FixtureRequest) -> Iterator[None]:
    """Times the whole module, server start and stop included, and prints it."""
    started = time.monotonic()
    yield
    line = f"e2e module {request.module.__name__}: {time.monotonic() - started:.2f} s (server start to stop)"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{line}")


@contextlib.contextmanager
def serving(root: Path, *, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`warden serve` on a free port with data under ``root``, ready, stopped on exit.

    Every e2e module starts its server through this; ``env`` defaults to ``_server_env``.
    """
    env = env if env is not None else _server_env(root / "var")
    port = _free_port()
    log_path = root / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*_warden_command(), "serve", "--bind", f"{HOST}:{port}", "--workers", str(workers)],
            env=env,
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    srv = Server(port=port, env=env, cwd=root, process=process, log_path=log_path)
    try:
        _wait_ready(srv)
        yield srv
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("warden-e2e")) as srv:
        yield srv


def _register_verified(server: Server, email: str, name: str) -> None:
    status, _, body = server.request(
        "POST", "/api/auth/register", {"email": email, "password": PASSWORD, "full_name": name}
    )
    assert status == 202, body
    assert body == {"status": "verification_sent"}
    result = server.cli("outbox", "--json", "--to", email)
    assert result.returncode == 0, result.stderr
    mails = json.loads(result.stdout)
    links = [
        word for mail in mails if mail["to"] == email for word in mail["text"].split() if "/verify-email?token=" in word
    ]
    assert len(links) == 1, mails
    token = parse_qs(urlparse(links[0]).query)["token"][0]
    status, _, body = server.request("POST", "/api/auth/verify-email", {"token": token})
    assert status == 204, body


def _set_roles(server: Server, email: str, *roles: str) -> None:
    result = server.cli("set-roles", "--email", email, *roles)
    assert result.returncode == 0, (result.stdout, result.stderr)


def _login(server: Server, email: str) -> tuple[str, str]:
    status, _, body = server.request("POST", "/api/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, body
    assert body["token_type"] == "Bearer"
    return body["access_token"], body["user"]["id"]


def _totp_code(secret: str, offset: int = 0) -> str:
    from core.totp import STEP_SECONDS, code_at

    return code_at(secret, int(time.time()) // STEP_SECONDS + offset)


def _login_with_totp(server: Server, email: str) -> tuple[str, str]:
    """Auditors and admins: enrol TOTP, then log in with a code (the /api/audit gate needs amr otp)."""
    token, user_id = _login(server, email)
    status, _, body = server.request("POST", "/api/auth/2fa/setup", token=token)
    assert status == 200, body
    secret = body["secret"]
    status, _, body = server.request("POST", "/api/auth/2fa/enable", {"code": _totp_code(secret)}, token=token)
    assert status == 204, body
    # The next step's code: the one used to enable is spent, and one step of drift is allowed.
    login = {"email": email, "password": PASSWORD, "totp": _totp_code(secret, 1)}
    status, _, body = server.request("POST", "/api/auth/login", login)
    assert status == 200, body
    return body["access_token"], user_id


def _audit_events(server: Server, token: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):  # bounded: 200 000 events is far more than this module writes
        query = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        status, _, page = server.request("GET", "/api/audit/events?" + urlencode(query), token=token)
        assert status == 200, page
        events.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return events
    raise AssertionError("audit pagination did not end")


@pytest.fixture(scope="module")
def auditor_token(server: Server) -> str:
    email = "auditor-probe@example.com"
    _register_verified(server, email, "Probe Auditor")
    _set_roles(server, email, "auditor")
    return _login_with_totp(server, email)[0]


# --- tests ---------------------------------------------------------------------------


def test_story_is_in_the_audit_log_in_order_and_chained(server: Server) -> None:
    people = {
        "applicant": ("applicant@example.com", "Ada Applicant"),
        "reviewer": ("reviewer@example.com", "Rex Reviewer"),
        "auditor": ("auditor@example.com", "Aud Auditor"),
    }
    for email, name in people.values():
        _register_verified(server, email, name)
    _set_roles(server, people["reviewer"][0], "reviewer")
    _set_roles(server, people["auditor"][0], "auditor")
    tokens: dict[str, str] = {}
    ids: dict[str, str] = {}
    for role, (email, _) in people.items():
        sign_in = _login_with_totp if role == "auditor" else _login
        tokens[role], ids[role] = sign_in(server, email)

    status, headers, app = server.request(
        "POST", "/api/applications", {"title": "Access to the archive", "body": "Please."}, token=tokens["applicant"]
    )
    assert status == 201, app
    assert headers.get("etag") == '"1"'
    assert app["status"] == "draft" and app["version"] == 1 and app["owner_id"] == ids["applicant"]
    app_id = app["id"]
    path = f"/api/applications/{app_id}"

    steps = [
        ("applicant", {"status": "submitted"}, '"1"'),
        ("reviewer", {"status": "under_review"}, '"2"'),
        ("reviewer", {"status": "approved", "reason": "Meets every criterion."}, '"3"'),
    ]
    for role, change, etag in steps:
        status, _, body = server.request(
            "POST", f"{path}/status", change, token=tokens[role], headers={"If-Match": etag}
        )
        assert status == 200, (role, change, body)
        assert body["status"] == change["status"]

    status, headers, app = server.request("GET", path, token=tokens["applicant"])
    assert status == 200, app
    assert app["status"] == "approved"
    assert app["version"] == 4
    assert headers.get("etag") == '"4"'

    events = _audit_events(server, tokens["auditor"])

    positions = [e["position"] for e in events]
    assert all(a < b for a, b in zip(positions, positions[1:], strict=False)), positions

    story = [
        (e["type"], e["actor"], e["data"].get("subject"), e["data"].get("from"), e["data"].get("to"))
        for e in events
        if e["type"] in STORY_TYPES
    ]
    a, r, u = ids["applicant"], ids["reviewer"], ids["auditor"]
    expected_start = [
        ("user.registered", "anonymous", a, None, None),
        ("user.registered", "anonymous", r, None, None),
        ("user.registered", "anonymous", u, None, None),
    ]
    assert story[:3] == expected_start, story
    logins = story[3:7]  # the auditor logs in twice: with the password, then with a TOTP code
    assert [(t, s) for t, _, s, _, _ in logins] == [("auth.login_succeeded", x) for x in (a, r, u, u)], story
    assert story[7:] == [
        ("application.created", a, a, None, None),
        ("application.status_changed", a, a, "draft", "submitted"),
        ("application.status_changed", r, a, "submitted", "under_review"),
        ("application.status_changed", r, a, "under_review", "approved"),
    ], story
    app_events = [e for e in events if e["stream"] == f"application-{app_id}"]
    assert [e["version"] for e in app_events] == [1, 2, 3, 4]
    assert app_events[-1]["data"]["reason"] == "Meets every criterion."

    last_hash: dict[str, str] = {}
    last_version: dict[str, int] = {}
    for event in events:
        stream = event["stream"]
        assert event["prev_hash"] == last_hash.get(stream, ZERO_HASH), event
        assert event["version"] == last_version.get(stream, 0) + 1, event
        assert len(event["hash"]) == 64 and event["hash"] != event["prev_hash"]
        last_hash[stream] = event["hash"]
        last_version[stream] = event["version"]


def test_bad_input_over_http_is_refused_and_not_logged(server: Server, auditor_token: str) -> None:
    email = "mallory@example.com"
    _register_verified(server, email, "Mallory")
    token, _ = _login(server, email)
    before = len(_audit_events(server, auditor_token))

    status, headers, body = server.request("POST", "/api/applications", {"title": "x", "$where": "1"}, token=token)
    assert status == 422, body
    assert headers["content-type"].startswith("application/problem+json"), headers
    assert body["status"] == 422 and isinstance(body.get("code"), str), body

    big = json.dumps({"title": "big", "body": "A" * (2 * 1024 * 1024)}).encode()
    status, headers, body = server.request("POST", "/api/applications", token=token, raw=big)
    assert status == 413, body
    assert headers["content-type"].startswith("application/problem+json"), headers

    assert len(_audit_events(server, auditor_token)) == before


def test_warden_verify_says_ok(server: Server) -> None:
    result = server.cli("verify")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout.startswith("ok"), result.stdout
