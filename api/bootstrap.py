"""Production wiring for the web process: settings from the environment, logs,
Sentry, and deps built lazily after gunicorn forks."""

from __future__ import annotations

import falcon
from sentry_sdk.integrations.falcon import FalconIntegration

from api.app import create_app
from core import logs
from core.settings import Settings
from services.deps import Deps
from services.telemetry import init_sentry


def web_app() -> falcon.App:
    settings = Settings.from_env()
    logs.configure()
    init_sentry(settings, "web", [FalconIntegration()])

    def build() -> Deps:
        deps = Deps.connect(settings)
        deps.ensure_schema()
        deps.projector.catch_up()
        return deps

    return create_app(settings, build)
