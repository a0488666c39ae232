"""/api/dsr, /api/consents, /api/admin/dsr and /api/audit/reports/dsr: thin resources."""

from __future__ import annotations

import falcon

from api.resources.base import Resource, query_param, send
from api.validation import Field, Schema, json_body
from core.permissions import Permission
from services import consents, dsr, dsr_trail
from services.paging import parse_limit

DELETE = Schema(
    {
        "password": Field(str, max_length=1024, description="the account's current password"),
        "confirm": Field(str, max_length=16, description='must be exactly "DELETE"'),
    }
)
CONSENT = Schema({"granted": Field(bool)})


class Export(Resource):
    """Everything held about the caller, decrypted, as one JSON download."""

    policy = {"GET": Permission.DSR_SELF}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        document = dsr.export(self.deps, req.context.principal.user_id, req.context.warden)
        send(resp, document)
        resp.downloadable_as = f"warden-export-{document['request_id']}.json"


class Delete(Resource):
    """Erase the caller's account: crypto-shred their data key and scrub the views."""

    policy = {"POST": Permission.DSR_SELF}
    schemas = {"POST": DELETE}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, DELETE)
        result = dsr.erase(
            self.deps, req.context.principal.user_id, body["password"], body["confirm"], req.context.warden
        )
        send(resp, result, 202)


class Requests(Resource):
    policy = {"GET": Permission.DSR_SELF}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, {"items": dsr_trail.own_requests(self.deps, req.context.principal.user_id), "next_cursor": None})


class Consents(Resource):
    policy = {"GET": Permission.DSR_SELF}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, {"items": consents.current(self.deps, req.context.principal.user_id)})


class Consent(Resource):
    policy = {"PUT": Permission.DSR_SELF}
    schemas = {"PUT": CONSENT}

    def on_put(self, req: falcon.Request, resp: falcon.Response, purpose: str) -> None:
        body = json_body(req, CONSENT)
        principal = req.context.principal
        send(resp, consents.set_consent(self.deps, principal.user_id, purpose, body["granted"], req.context.warden))


class AdminRequests(Resource):
    """Every DSR request with its deadline (?status=in_progress|completed|overdue)."""

    policy = {"GET": Permission.DSR_MANAGE}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page = dsr_trail.all_requests(
            self.deps,
            status=query_param(req, "status", 32),
            after=dsr_trail.decode_cursor(req.get_param("cursor")),
            limit=parse_limit(req.get_param("limit")),
        )
        send(resp, page.as_dict())


class Report(Resource):
    policy = {"GET": Permission.AUDIT_READ}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, dsr_trail.report(self.deps))
