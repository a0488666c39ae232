"""/api/applications."""

from __future__ import annotations

import falcon

from api.resources.base import Resource, if_match, page_params, query_param, send, set_etag
from api.validation import Field, Schema, json_body
from core.permissions import Permission
from services import applications as apps

CREATE = Schema(
    {"title": Field(str, max_length=200, min_length=1), "body": Field(str, required=False, max_length=20000)}
)
PATCH = Schema(
    {
        "title": Field(str, required=False, max_length=200, min_length=1),
        "body": Field(str, required=False, max_length=20000),
    }
)
STATUS = Schema({"status": Field(str, max_length=32), "reason": Field(str, required=False, max_length=2000)})


class Collection(Resource):
    policy = {"GET": Permission.APPLICATION_READ_OWN, "POST": Permission.APPLICATION_CREATE}
    schemas = {"POST": CREATE}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit, cursor = page_params(req)
        page = apps.list_page(
            self.deps,
            req.context.principal,
            status=query_param(req, "status"),
            owner_id=query_param(req, "owner_id"),
            limit=limit,
            before=cursor,
        )
        send(resp, page.as_dict())

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, CREATE)
        app = apps.create(self.deps, req.context.principal, body["title"], body.get("body", ""), req.context.warden)
        set_etag(resp, app["version"])
        resp.set_header("Location", f"/api/applications/{app['id']}")
        send(resp, app, 201)


class Item(Resource):
    policy = {"GET": Permission.APPLICATION_READ_OWN, "PATCH": Permission.APPLICATION_READ_OWN}
    schemas = {"PATCH": PATCH}

    def on_get(self, req: falcon.Request, resp: falcon.Response, app_id: str) -> None:
        app = apps.get(self.deps, req.context.principal, app_id)
        set_etag(resp, app["version"])
        send(resp, app)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, app_id: str) -> None:
        body = json_body(req, PATCH)
        app = apps.update(
            self.deps,
            req.context.principal,
            app_id,
            body.get("title"),
            body.get("body"),
            if_match(req),
            req.context.warden,
        )
        set_etag(resp, app["version"])
        send(resp, app)


class StatusChange(Resource):
    policy = {"POST": Permission.APPLICATION_READ_OWN}
    schemas = {"POST": STATUS}

    def on_post(self, req: falcon.Request, resp: falcon.Response, app_id: str) -> None:
        body = json_body(req, STATUS)
        app = apps.change_status(
            self.deps,
            req.context.principal,
            app_id,
            body["status"],
            body.get("reason"),
            if_match(req),
            req.context.warden,
        )
        set_etag(resp, app["version"])
        send(resp, app)


class History(Resource):
    policy = {"GET": Permission.APPLICATION_READ_OWN}

    def on_get(self, req: falcon.Request, resp: falcon.Response, app_id: str) -> None:
        limit, cursor = page_params(req)
        send(resp, apps.history(self.deps, req.context.principal, app_id, limit, cursor).as_dict())
