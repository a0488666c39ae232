"""schemathesis against ``warden serve``'s own /api/openapi.json, bounded in examples and time.

Property-based requests to every operation (examples, coverage and fuzzing
phases) as a signed-in applicant: no answer may be a 5xx, and every status and
content type must be one the spec documents, every JSON body must match it.
Operations that end the session (logout, password change, erasure, 2FA) are left
out so the token lives through the run. Admin and audit operations answer 403
to an applicant, which is documented and checked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_story import HOST, PASSWORD, Server, _server_env, serving

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MAX_EXAMPLES = 5
MAX_SECONDS = 45
SESSION_ENDING = r"/logout|/password/change|/dsr/delete|/2fa/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("warden-schemathesis")
    env = _server_env(root / "var")
    env["REQUIRE_EMAIL_VERIFICATION"] = "false"
    # Thousands of requests from one address and one user: lift the limits for this run only.
    env["RATE_LIMITS"] = "login=100000/900,registration=100000/3600,password_reset=100000/3600,api=100000/60"
    with serving(root, workers=2, env=env) as srv:
        yield srv


def test_schemathesis_finds_no_5xx_and_no_nonconformance(server: Server) -> None:
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        pytest.skip("schemathesis not installed: pip install -e '.[test]'")
    email = "fuzzer@example.com"
    status, _, body = server.request(
        "POST", "/api/auth/register", {"email": email, "password": PASSWORD, "full_name": "F"}
    )
    assert status == 201, body
    status, _, body = server.request("POST", "/api/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, body
    result = subprocess.run(
        [
            str(st),
            "run",
            f"http://{HOST}:{server.port}/api/openapi.json",
            "-H",
            f"Authorization: Bearer {body['access_token']}",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--max-time",
            str(MAX_SECONDS),
            "--phases",
            "examples,coverage,fuzzing",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--exclude-path-regex",
            SESSION_ENDING,
            "--seed",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS + 60,
        check=False,
    )
    output = result.stdout + result.stderr
    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    print(summary.group(0) if summary else output[-3000:])
    assert result.returncode == 0, output[-6000:]
    assert summary is not None and int(summary.group(1)) >= 500, output[-3000:]
    assert summary.group(1) == summary.group(2), output[-6000:]
    assert not re.search(r'"status": 5\d\d', server.log_path.read_text(errors="replace")), "a 5xx in the access log"
