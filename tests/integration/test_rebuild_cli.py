"""`warden rebuild` over the wire: the rebuilt views equal the live ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from events.model import Context
from services import applications, auth
from services.deps import Deps

pytestmark = pytest.mark.integration

VIEWS = ("users", "sessions", "applications")


def _views(deps: Deps) -> dict[str, list[Any]]:
    return {name: sorted(map(repr, deps.db[name].find({}))) for name in VIEWS}


def test_rebuild_command_reproduces_the_live_views(wire_deps: Deps, wire_uri: str, tmp_path: Path) -> None:
    ctx = Context(ip="127.0.0.1")
    for n in range(3):
        email = f"rebuild{n}@example.com"
        auth.register(wire_deps, email, "correct horse battery staple", f"User {n}", "", ctx)
        token = wire_deps.mailer.list(to=email)[0]["text"].split("token=")[1].split()[0]
        auth.verify_email(wire_deps, token, ctx)
        issued = auth.login(wire_deps, email, "correct horse battery staple", ctx)
        principal = auth.authenticate(wire_deps, issued.access_token)
        app = applications.create(wire_deps, principal, f"Title {n}", "Body", ctx)
        applications.change_status(wire_deps, principal, app["id"], "submitted", None, None, ctx)
    live = _views(wire_deps)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "SENDGRID_", "SENTRY_"))}
    env.update(MONGODB_URI=wire_uri, MONGODB_DB=wire_deps.db.name, WARDEN_VAR_DIR=str(tmp_path), APP_ENV="development")
    done = subprocess.run(
        [str(Path(sys.executable).with_name("warden")), "rebuild"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "rebuilt" in done.stdout and "rebuild [" in done.stderr  # the progress bar
    assert _views(wire_deps) == live
