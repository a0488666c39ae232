"""The deployment files say what SPEC §8 and the README promise: render.yaml's
structure, the Dockerfile's final stage, gunicorn's settings from the environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
USER_SUPPLIED = ("MONGODB_URI", "SENDGRID_API_KEY", "SENTRY_DSN", "ENCRYPTION_KEY")
GENERATED = ("JWT_SECRET_KEY", "SECRET_KEY")


@pytest.fixture(scope="module")
def blueprint() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "render.yaml").read_text())


def service(blueprint: dict[str, Any], kind: str) -> dict[str, Any]:
    [found] = [s for s in blueprint["services"] if s["type"] == kind]
    return found


def env_of(blueprint: dict[str, Any], svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every variable a service ends up with, its group's entries included."""
    groups = {g["name"]: g["envVars"] for g in blueprint.get("envVarGroups", [])}
    found: dict[str, dict[str, Any]] = {}
    for entry in svc["envVars"]:
        for var in groups[entry["fromGroup"]] if "fromGroup" in entry else [entry]:
            assert var["key"] not in found, f"{var['key']} defined twice for {svc['name']}"
            found[var["key"]] = var
    return found


def test_web_and_worker_from_the_same_dockerfile(blueprint: dict[str, Any]) -> None:
    web, worker = service(blueprint, "web"), service(blueprint, "worker")
    for svc in (web, worker):
        assert svc["runtime"] == "docker"
        assert svc["dockerfilePath"] == "./Dockerfile"
        assert (ROOT / svc["dockerfilePath"]).is_file()
    assert web["healthCheckPath"] == "/healthz"
    assert "dockerCommand" not in web  # the image's CMD: gunicorn with its config file
    assert worker["dockerCommand"] == "warden worker"


def test_generated_secrets_are_shared_through_one_group(blueprint: dict[str, Any]) -> None:
    web, worker = service(blueprint, "web"), service(blueprint, "worker")
    web_env, worker_env = env_of(blueprint, web), env_of(blueprint, worker)
    groups = {g["name"]: {v["key"] for v in g["envVars"]} for g in blueprint["envVarGroups"]}
    for name in GENERATED:
        assert web_env[name].get("generateValue") is True
        # The same group entry on both services: one generated value, not two.
        assert web_env[name] is worker_env[name]
        assert any(name in keys for keys in groups.values())


def test_user_supplied_secrets_are_never_in_the_file(blueprint: dict[str, Any]) -> None:
    groups = blueprint["envVarGroups"]
    for group in groups:
        for var in group["envVars"]:
            # Render refuses sync: false inside an environment group.
            assert "sync" not in var, f"{var['key']}: sync is not allowed in envVarGroups"
    for kind in ("web", "worker"):
        env = env_of(blueprint, service(blueprint, kind))
        for name in USER_SUPPLIED:
            assert env[name] == {"key": name, "sync": False}, f"{kind}: {name}"


def test_configuration_values(blueprint: dict[str, Any]) -> None:
    for kind in ("web", "worker"):
        env = env_of(blueprint, service(blueprint, kind))
        assert env["DATA_RETENTION_DAYS"]["value"] == "2555"
        assert env["APP_ENV"]["value"] == "production"
        assert "ALLOWED_ORIGINS" in env
        assert "value" not in env["ALLOWED_ORIGINS"] or "*" not in env["ALLOWED_ORIGINS"]["value"]
        assert "PUBLIC_BASE_URL" in env
        # Nothing secret is written in the file itself.
        for var in env.values():
            if var["key"] in USER_SUPPLIED + GENERATED:
                assert "value" not in var


def final_stage() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stage = re.split(r"(?m)^FROM ", text)[-1]
    return ["FROM " + stage.splitlines()[0]] + [line for line in stage.splitlines()[1:] if line.strip()]


def test_dockerfile_final_stage() -> None:
    lines = final_stage()
    assert re.match(r"FROM python:3\.\d+-slim\b", lines[0]), lines[0]
    body = "\n".join(lines)
    # Non-root by number, so the runtime can check it without reading /etc/passwd.
    [user] = [line for line in lines if line.startswith("USER ")]
    assert re.fullmatch(r"USER [1-9]\d{3,}(:[1-9]\d{3,})?", user), user
    assert body.index("USER ") < body.index("CMD [")
    for tool in ("apt-get", "gcc", "build-essential", "apk add", "git "):
        assert tool not in body, f"{tool} in the final image"
    [health] = [line for line in lines if line.startswith("HEALTHCHECK ")]
    assert "/healthz" in health
    cmd = json.loads([line for line in lines if line.startswith("CMD ")][-1][4:])
    assert cmd == ["gunicorn", "-c", "python:api.gunicorn_conf", "api.wsgi:app"]


def gunicorn_settings(**env: str) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "PORT", "WARDEN_BIND")}
    code = (
        "import json, api.gunicorn_conf as c; print(json.dumps({k: getattr(c, k) for k in "
        "('bind', 'workers', 'timeout', 'graceful_timeout', 'keepalive', 'forwarded_allow_ips', 'preload_app')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(out.stdout)


def test_gunicorn_settings_come_from_the_environment() -> None:
    default = gunicorn_settings()
    assert default["bind"] == "0.0.0.0:8000"
    assert default["workers"] == 2
    assert 0 < default["timeout"] <= 60 and 0 < default["graceful_timeout"] <= default["timeout"]
    assert default["preload_app"] is False  # each worker opens its own MongoClient after the fork
    tuned = gunicorn_settings(WEB_CONCURRENCY="5", PORT="10000", FORWARDED_ALLOW_IPS="*")
    assert tuned["workers"] == 5
    assert tuned["bind"] == "0.0.0.0:10000"
    assert tuned["forwarded_allow_ips"] == "*"
