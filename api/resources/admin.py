"""/api/admin/users: thin resources over services/admin.py.

Every responder needs ``admin:users``; the acting admin, client IP and request id
travel in ``req.context.warden`` and end up on the event each action appends.
"""

from __future__ import annotations

import falcon

from api.resources.base import Resource, if_match, query_param, send, set_etag
from api.validation import Field, Schema, json_body
from core.permissions import Permission
from services import admin
from services.paging import parse_limit

MAX_REASON = 1000
ROLES = Schema(
    {
        "roles": Field(list, description="the complete new set of roles"),
        "reason": Field(str, required=False, max_length=MAX_REASON),
    }
)
DISABLE = Schema({"reason": Field(str, min_length=1, max_length=MAX_REASON)})
OPTIONAL_REASON = Schema({"reason": Field(str, required=False, max_length=MAX_REASON)})


def _action(req: falcon.Request, user_id: str, reason: str | None) -> admin.AdminAction:
    return admin.AdminAction(
        admin_id=req.context.principal.user_id,
        user_id=user_id,
        reason=reason,
        ctx=req.context.warden,
        expected_version=if_match(req),
    )


class Users(Resource):
    """List and search users (q: exact email, matched through the blind index)."""

    policy = {"GET": Permission.ADMIN_USERS}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page = admin.list_users(
            self.deps,
            role=query_param(req, "role", 32),
            status=query_param(req, "status", 32),
            q=query_param(req, "q", 254),
            after=admin.decode_id_cursor(req.get_param("cursor")),
            limit=parse_limit(req.get_param("limit")),
        )
        send(resp, page.as_dict())


class User(Resource):
    """One user with status and lockout state."""

    policy = {"GET": Permission.ADMIN_USERS}

    def on_get(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        user = admin.get_user(self.deps, user_id)
        set_etag(resp, user.version)
        send(resp, admin.admin_user_view(self.deps, user))


class Roles(Resource):
    """Replace a user's roles."""

    policy = {"PUT": Permission.ADMIN_USERS}
    schemas = {"PUT": ROLES}

    def on_put(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        body = json_body(req, ROLES)
        user = admin.set_user_roles(self.deps, _action(req, user_id, body.get("reason")), body["roles"])
        set_etag(resp, user.version)
        send(resp, admin.admin_user_view(self.deps, user))


class _Command(Resource):
    schema = OPTIONAL_REASON
    optional = True

    def on_post(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        body = json_body(req, self.schema, optional=self.optional)
        self.run(_action(req, user_id, body.get("reason") or None))
        resp.status = 204

    def run(self, action: admin.AdminAction) -> None:
        raise NotImplementedError


class Disable(_Command):
    """Disable an account: its tokens fail on their next use and its sessions end."""

    policy = {"POST": Permission.ADMIN_USERS}
    schemas = {"POST": DISABLE}
    schema = DISABLE
    optional = False

    def run(self, action: admin.AdminAction) -> None:
        admin.disable_user(self.deps, action)


class Enable(_Command):
    """Enable a disabled account (its old sessions stay revoked)."""

    policy = {"POST": Permission.ADMIN_USERS}
    schemas = {"POST": OPTIONAL_REASON}

    def run(self, action: admin.AdminAction) -> None:
        admin.enable_user(self.deps, action)


class Unlock(_Command):
    """Clear a lockout and its failure counters."""

    policy = {"POST": Permission.ADMIN_USERS}
    schemas = {"POST": OPTIONAL_REASON}

    def run(self, action: admin.AdminAction) -> None:
        admin.unlock_user(self.deps, action)


class RevokeSessions(_Command):
    """End every session of a user; their access tokens fail on next use."""

    policy = {"POST": Permission.ADMIN_USERS}
    schemas = {"POST": OPTIONAL_REASON}

    def run(self, action: admin.AdminAction) -> None:
        admin.revoke_user_sessions(self.deps, action)
