"""/api/admin/ip-blocks: thin resources over services/ipblocks.py."""

from __future__ import annotations

import falcon

from api.resources.base import Resource, page_params, send
from api.validation import Field, Schema, json_body
from core.permissions import Permission
from services import ipblocks

ADD = Schema(
    {
        "cidr": Field(str, min_length=1, max_length=64, description="IPv4/IPv6 address or CIDR network"),
        "reason": Field(str, min_length=1, max_length=ipblocks.MAX_REASON),
        "expires_at": Field(str, required=False, max_length=40, description="RFC 3339 time; omit for no expiry"),
    }
)


class Collection(Resource):
    """Active IP blocks (newest first) and adding one."""

    policy = {"GET": Permission.IP_BLOCKS_MANAGE, "POST": Permission.IP_BLOCKS_MANAGE}
    schemas = {"POST": ADD}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit, cursor = page_params(req)
        send(resp, ipblocks.list_page(self.deps, req.context.principal, limit, cursor).as_dict())

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, ADD)
        block = ipblocks.add(
            self.deps, req.context.principal, body["cidr"], body["reason"], body.get("expires_at"), req.context.warden
        )
        resp.set_header("Location", f"/api/admin/ip-blocks/{block['id']}")
        send(resp, block, 201)


class Item(Resource):
    """Remove an IP block."""

    policy = {"DELETE": Permission.IP_BLOCKS_MANAGE}

    def on_delete(self, req: falcon.Request, resp: falcon.Response, block_id: str) -> None:
        ipblocks.remove(self.deps, req.context.principal, block_id, req.context.warden)
        resp.status = 204
