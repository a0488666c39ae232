"""/api/audit/reports/*: counters from the report projections, never a scan of the log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from api.resources.audit import parse_time
from api.resources.base import Resource, send
from core.permissions import Permission
from services import reports
from services.deps import Deps


class _Report(Resource):
    policy = {"GET": Permission.AUDIT_READ}
    build: Callable[[Deps, reports.DayRange], dict[str, Any]]

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        days = reports.DayRange.of(self.deps.clock.now(), parse_time(req, "since"), parse_time(req, "until"))
        send(resp, type(self).build(self.deps, days))


class Security(_Report):
    """Failed logins, lockouts and rate-limit violations by UTC day and by client IP."""

    build = staticmethod(reports.security)


class AdminActions(_Report):
    """Admin actions by admin and by event type."""

    build = staticmethod(reports.admin_actions)


class StatusChanges(_Report):
    """Application status changes by UTC day and new status."""

    build = staticmethod(reports.status_changes)
