"""/api/audit/events."""

from __future__ import annotations

from datetime import UTC, datetime

import falcon

from api.resources.base import Resource, page_params, query_param, send
from core.errors import ValidationFailed
from core.permissions import Permission
from events.store import EventFilter
from services import audit

FILTERS = ("type", "actor", "stream", "subject", "since", "until")


def _time(req: falcon.Request, name: str) -> datetime | None:
    value = query_param(req, name, 40)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as ex:
        raise ValidationFailed(f"{name} must be an RFC 3339 time.", errors=[{"field": name, "code": "invalid"}]) from ex
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def event_filter(req: falcon.Request) -> EventFilter:
    types = query_param(req, "type")
    return EventFilter(
        types=tuple(t for t in (types or "").split(",") if t),
        actor=query_param(req, "actor"),
        stream=query_param(req, "stream"),
        subject=query_param(req, "subject"),
        since=_time(req, "since"),
        until=_time(req, "until"),
    )


class Events(Resource):
    policy = {"GET": Permission.AUDIT_READ}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit, cursor = page_params(req)
        page = audit.query_events(self.deps, req.context.principal, event_filter(req), cursor, limit)
        send(resp, page.as_dict())
