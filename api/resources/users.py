"""/api/users/me."""

from __future__ import annotations

import falcon

from api.resources.base import Resource, send
from api.validation import Field, Schema, json_body
from core.errors import NotFound
from core.permissions import Permission
from services import users

PATCH_ME = Schema({"full_name": Field(str, max_length=200)})


class Me(Resource):
    policy = {"GET": Permission.PROFILE_READ, "PATCH": Permission.PROFILE_UPDATE}
    schemas = {"PATCH": PATCH_ME}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = users.load_user(self.deps, req.context.principal.user_id)
        if user is None:
            raise NotFound()
        send(resp, users.user_view(self.deps, user))

    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        # Only full_name: roles, email and status are never settable here (unknown_field).
        body = json_body(req, PATCH_ME)
        send(
            resp, users.update_profile(self.deps, req.context.principal.user_id, body["full_name"], req.context.warden)
        )
