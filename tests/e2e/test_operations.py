"""Operations, as a deployment sees them: start-up refuses bad production
configuration with one line naming the variable (no traceback), and the Docker
image's own CMD and HEALTHCHECK — read from the Dockerfile, run here without a
Docker engine — serve /healthz over a real MongoDB-wire server.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import new_encryption_key, new_secret
from tests.e2e.test_story import _free_port, _warden_command

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
RUN_TIMEOUT = 60.0


def dockerfile_instruction(name: str) -> list[str]:
    """The exec-form argv of the final stage's CMD or HEALTHCHECK ... CMD."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    final_stage = re.split(r"(?m)^FROM ", text)[-1]
    found = [line for line in final_stage.splitlines() if line.startswith(name + " ")]
    assert found, f"no {name} in the Dockerfile's final stage"
    argv = found[-1].split(" CMD ", 1)[1] if name == "HEALTHCHECK" else found[-1][len(name) :]
    return json.loads(argv.strip())


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """What render.yaml gives the service: production with strong secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "SENDGRID_", "SENTRY_", "WARDEN_"))}
    for name in ("PORT", "WEB_CONCURRENCY", "ALLOWED_ORIGINS", "JWT_PREVIOUS_SECRET_KEYS", "ENCRYPTION_PREVIOUS_KEYS"):
        env.pop(name, None)
    env.update(
        APP_ENV="production",
        JWT_SECRET_KEY=new_secret(),
        SECRET_KEY=new_secret(),
        ENCRYPTION_KEY=new_encryption_key(),
        MONGODB_URI="mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500",
        MONGODB_DB="warden_ops",
        PUBLIC_BASE_URL="https://warden.example.org",
        ALLOWED_ORIGINS="https://app.example.org",
        TRUSTED_PROXY_COUNT="1",
        WARDEN_VAR_DIR=str(tmp_path / "var"),
        WEB_CONCURRENCY="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


BAD_CONFIG = {
    "weak JWT_SECRET_KEY": ("JWT_SECRET_KEY", {"JWT_SECRET_KEY": "changeme-" * 6}),
    "short SECRET_KEY": ("SECRET_KEY", {"SECRET_KEY": "Kx81mQ-zP0a"}),
    "missing SECRET_KEY": ("SECRET_KEY", {"SECRET_KEY": ""}),
    "16-byte ENCRYPTION_KEY": (
        "ENCRYPTION_KEY",
        {"ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(16)).decode()},
    ),
    "ALLOWED_ORIGINS *": ("ALLOWED_ORIGINS", {"ALLOWED_ORIGINS": "*"}),
    "http PUBLIC_BASE_URL": ("PUBLIC_BASE_URL", {"PUBLIC_BASE_URL": "http://warden.example.org"}),
}


def _assert_refused(result: subprocess.CompletedProcess[str], variable: str) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if variable in line]
    assert lines, f"{variable} not named on stderr:\n{result.stderr}"


@pytest.mark.parametrize("case", sorted(BAD_CONFIG))
def test_warden_serve_refuses_bad_production_config(case: str, tmp_path: Path) -> None:
    variable, overrides = BAD_CONFIG[case]
    result = subprocess.run(
        [*_warden_command(), "serve", "--bind", f"{HOST}:{_free_port()}"],
        env=production_env(tmp_path, **overrides),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    _assert_refused(result, variable)


@pytest.mark.parametrize("case", ["weak JWT_SECRET_KEY", "ALLOWED_ORIGINS *"])
def test_image_cmd_refuses_bad_production_config(case: str, tmp_path: Path) -> None:
    variable, overrides = BAD_CONFIG[case]
    env = production_env(tmp_path, **overrides, WARDEN_BIND=f"{HOST}:{_free_port()}")
    cmd = dockerfile_instruction("CMD")
    result = subprocess.run(
        [sys.executable, "-m", *cmd] if cmd[0] == "gunicorn" else cmd,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    _assert_refused(result, variable)


@pytest.fixture
def image_server(tmp_path: Path, wire_uri: str) -> Iterator[tuple[int, dict[str, str], Path]]:
    port = _free_port()
    env = production_env(tmp_path, MONGODB_URI=wire_uri, PORT=str(port))
    cmd = dockerfile_instruction("CMD")
    assert cmd[:3] == ["gunicorn", "-c", "python:api.gunicorn_conf"], cmd
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", *cmd], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield port, env, log_path
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def test_image_cmd_and_healthcheck_serve_healthz(image_server: tuple[int, dict[str, str], Path]) -> None:
    port, env, log_path = image_server
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            status, body = _get(port, "/healthz")
            if status == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-5000:]
        time.sleep(0.1)  # readiness poll
    assert json.loads(body) == {"status": "ok"}
    assert _get(port, "/readyz")[0] == 200

    healthcheck = dockerfile_instruction("HEALTHCHECK")
    argv = [sys.executable, *healthcheck[1:]] if healthcheck[0] == "python" else healthcheck
    probe = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    assert probe.returncode == 0, probe.stderr

    # Everything the process wrote is JSON lines: gunicorn's own lines and the app's.
    logged = [line for line in log_path.read_text().splitlines() if line.strip()]
    assert logged
    entries = [json.loads(line) for line in logged]
    assert any(e.get("logger") == "warden.access" and e.get("route") == "/healthz" for e in entries)
    assert any(e.get("logger") == "gunicorn.error" for e in entries)
