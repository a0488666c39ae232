"""/api/audit/events."""

from __future__ import annotations

from datetime import UTC, datetime

import falcon

from api.resources.base import Resource, page_params, query_param, send, to_json
from core.errors import NotFound, ValidationFailed
from core.permissions import Permission
from events.store import EventFilter
from services import audit, integrity, telemetry
from services.paging import decode_cursor, encode_cursor

NDJSON = "application/x-ndjson"

FILTERS = ("type", "actor", "stream", "subject", "since", "until")


def parse_time(req: falcon.Request, name: str) -> datetime | None:
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
        since=parse_time(req, "since"),
        until=parse_time(req, "until"),
    )


class Events(Resource):
    policy = {"GET": Permission.AUDIT_READ}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit, cursor = page_params(req)
        page = audit.query_events(self.deps, req.context.principal, event_filter(req), cursor, limit)
        send(resp, page.as_dict())


class Export(Resource):
    """Every matching event as application/x-ndjson, streamed in position order."""

    produces = {"GET": (NDJSON,)}

    policy = {"GET": Permission.AUDIT_READ}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        flt = event_filter(req)
        after = decode_cursor(req.get_param("cursor"))
        resp.content_type = NDJSON
        resp.set_header("Content-Disposition", 'attachment; filename="audit-events.ndjson"')
        # A generator: Falcon/WSGI sends it batch by batch, nothing is held whole in memory.
        resp.stream = audit.export_events(self.deps, req.context.principal, flt, after, to_json)


class Verify(Resource):
    policy = {"GET": Permission.AUDIT_READ}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        report = integrity.verify_all(self.deps)
        if not report.ok and report.first_failure is not None:
            # A broken log is an incident: error log line, hence a Sentry event.
            telemetry.integrity_failed(report.first_failure.position, report.first_failure.reason, "api")
        send(resp, integrity.report_view(report))


class Checkpoints(Resource):
    policy = {"GET": Permission.AUDIT_READ}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit, cursor = page_params(req)
        found = self.deps.checkpoints.page(cursor or 0, limit + 1)
        more = len(found) > limit
        found = found[:limit]
        send(
            resp,
            {
                "items": [integrity.checkpoint_view(cp) for cp in found],
                "next_cursor": encode_cursor(found[-1].seq) if more else None,
                "public_key": self.deps.signer.public_key.hex(),
            },
        )


class Proof(Resource):
    policy = {"GET": Permission.AUDIT_READ}

    def on_get(self, req: falcon.Request, resp: falcon.Response, position: str) -> None:
        if not position.isdigit() or len(position) > 18:
            raise NotFound()
        found = integrity.proof_view(self.deps, int(position))
        if found is None:
            raise NotFound("No sealed event at that position (yet).")
        send(resp, found)
