"""Strict production configuration, secret strength, the scrubber, and the README's
configuration table against the variables the code actually reads."""

from __future__ import annotations

import base64
import io
import re
import secrets
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from cli.main import main as warden
from core.entropy import entropy_bits, secret_problem
from core.scrubbing import FILTERED, Scrubber
from core.settings import ConfigError, Settings, new_encryption_key, new_secret

ROOT = Path(__file__).resolve().parents[2]


def production(**overrides: str) -> dict[str, str]:
    env = {
        "APP_ENV": "production",
        "JWT_SECRET_KEY": new_secret(),
        "SECRET_KEY": new_secret(),
        "ENCRYPTION_KEY": new_encryption_key(),
        "MONGODB_URI": "mongodb://db.internal:27017",
        "PUBLIC_BASE_URL": "https://warden.example.org",
        "ALLOWED_ORIGINS": "https://app.example.org",
    }
    env.update(overrides)
    return env


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_strong_production_config_starts() -> None:
    settings = Settings.from_env(production())
    assert settings.production


def test_gen_secrets_output_passes_the_production_check() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert warden(["gen-secrets"]) == 0
    pairs = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert set(pairs) == {"JWT_SECRET_KEY", "SECRET_KEY", "ENCRYPTION_KEY"}
    Settings.from_env(production(**pairs))


def test_render_generated_values_pass() -> None:
    """Render's generateValue: a base64-encoded 256-bit value."""
    for _ in range(200):
        value = base64.b64encode(secrets.token_bytes(32)).decode()
        assert secret_problem(value, 32) is None, value
    assert secret_problem(secrets.token_hex(32), 32) is None


ZERO_KEY = base64.urlsafe_b64encode(bytes(32)).decode()
COUNTING_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JWT_SECRET_KEY", ""),
        ("JWT_SECRET_KEY", "changeme" * 6),
        ("JWT_SECRET_KEY", "x" * 64),
        ("JWT_SECRET_KEY", "Abc123" * 10),
        ("JWT_SECRET_KEY", secrets.token_urlsafe(24)),  # 32 characters but 24 random bytes
        ("SECRET_KEY", "my-super-secret-production-key-that-is-long-enough"),
        ("SECRET_KEY", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"),
        ("SECRET_KEY", secrets.token_hex(16)),
        ("ENCRYPTION_KEY", ""),
        ("ENCRYPTION_KEY", "not base64 at all!"),
        ("ENCRYPTION_KEY", base64.urlsafe_b64encode(secrets.token_bytes(16)).decode()),
        ("ENCRYPTION_KEY", ZERO_KEY),
        ("ENCRYPTION_KEY", COUNTING_KEY),
        ("ENCRYPTION_PREVIOUS_KEYS", ZERO_KEY),
        ("JWT_PREVIOUS_SECRET_KEYS", "password-password-password-password-password"),
        ("ALLOWED_ORIGINS", "*"),
        ("ALLOWED_ORIGINS", "https://app.example.org,https://*.example.org"),
        ("PUBLIC_BASE_URL", "http://warden.example.org"),
        ("MONGODB_URI", ""),
    ],
)
def test_production_refuses_with_one_line_naming_the_variable(variable: str, value: str) -> None:
    message = refusal(production(**{variable: value}))
    assert message.startswith(variable), message
    for secret in (value,) if len(value) > 8 and "SECRET" in variable else ():
        assert secret not in message  # the refusal never echoes the secret


def test_one_key_for_two_jobs_is_refused() -> None:
    shared = new_secret()
    assert "SECRET_KEY" in refusal(production(JWT_SECRET_KEY=shared, SECRET_KEY=shared))


def test_development_accepts_what_production_refuses(tmp_path: Path) -> None:
    env = {"APP_ENV": "development", "WARDEN_VAR_DIR": str(tmp_path), "JWT_SECRET_KEY": "dev", "SECRET_KEY": "dev2"}
    assert Settings.from_env(env).jwt_secret_key.reveal() == "dev"


def test_entropy_estimate() -> None:
    assert entropy_bits(secrets.token_hex(32)) == 256
    assert entropy_bits(secrets.token_urlsafe(48)) == 64 * 6
    assert entropy_bits("a" * 10) == 10 * 4  # hex alphabet


def test_scrubber_masks_by_key_and_by_value() -> None:
    scrub = Scrubber(["our-own-signing-key-0123456789"])
    event = {
        "request": {
            "headers": {"Authorization": "Bearer abc", "Cookie": "access_token=x", "User-Agent": "curl"},
            "query_string": "token=t0k3n&page=2",
            "url": "https://w.example/api?email=a%40b.co",
        },
        "extra": {"fields": {"user_id": "u-1", "new_password": "hunter2hunter2", "status": 500}},
        "exception": {"values": [{"type": "E", "value": "for ada@example.com using our-own-signing-key-0123456789"}]},
        "breadcrumbs": {"values": [{"message": 'login {"password": "correct horse battery"}'}]},
    }
    out = scrub(event)
    flat = repr(out)
    for leaked in ("Bearer abc", "access_token=x", "t0k3n", "hunter2", "ada@example.com", "signing-key", "horse"):
        assert leaked not in flat, leaked
    assert out["request"]["headers"]["User-Agent"] == "curl"
    assert out["extra"]["fields"]["user_id"] == "u-1"
    assert out["extra"]["fields"]["status"] == 500
    assert out["request"]["headers"]["Authorization"] == FILTERED
    assert "page=2" in out["request"]["query_string"]
    assert event["extra"]["fields"]["new_password"] == "hunter2hunter2"  # input untouched


# --- README configuration table -------------------------------------------------------

CONFIG_SOURCES = ("core/settings.py", "api/gunicorn_conf.py")
ENV_NAME = re.compile(r"[\"']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)[\"']")


def variables_read() -> set[str]:
    names: set[str] = set()
    for path in CONFIG_SOURCES:
        names |= set(ENV_NAME.findall((ROOT / path).read_text()))
    return names


def documented() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_readme_documents_every_variable_the_code_reads() -> None:
    missing = variables_read() - documented()
    assert not missing, f"add to the README configuration table: {sorted(missing)}"


def test_readme_documents_no_variable_the_code_ignores() -> None:
    code = "\n".join(p.read_text() for p in ROOT.glob("*/**/*.py") if ".venv" not in p.parts)
    code += (ROOT / "Dockerfile").read_text()
    ghosts = {name for name in documented() if f'"{name}"' not in code and f"{name}=" not in code}
    assert not ghosts, f"documented but read nowhere: {sorted(ghosts)}"
