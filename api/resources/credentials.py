"""/api/auth password and two-factor endpoints: thin resources over services/passwords.py and services/totp.py."""

from __future__ import annotations

import falcon

from api.policy import Access
from api.resources.base import Resource, send
from api.validation import Field, Schema, json_body
from core.permissions import Permission
from services import passwords, totp

PASSWORD_CHANGE = Schema({"current_password": Field(str, max_length=1024), "new_password": Field(str, max_length=1024)})
RESET_REQUEST = Schema({"email": Field(str, max_length=254)})
RESET_CONFIRM = Schema({"token": Field(str, max_length=200), "new_password": Field(str, max_length=1024)})
TOTP_ENABLE = Schema({"code": Field(str, max_length=10)})
TOTP_DISABLE = Schema({"password": Field(str, max_length=1024), "code": Field(str, max_length=10)})


class PasswordChange(Resource):
    policy = {"POST": Permission.SESSION_MANAGE}
    schemas = {"POST": PASSWORD_CHANGE}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, PASSWORD_CHANGE)
        passwords.change_password(
            self.deps, req.context.principal, body["current_password"], body["new_password"], req.context.warden
        )
        resp.status = 204


class PasswordResetRequest(Resource):
    policy = {"POST": Access.PUBLIC}
    schemas = {"POST": RESET_REQUEST}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, RESET_REQUEST)
        passwords.request_reset(self.deps, body["email"], req.context.warden)
        # The same answer whether or not the address has an account.
        send(resp, {"status": "reset_requested"}, 202)


class PasswordResetConfirm(Resource):
    policy = {"POST": Access.PUBLIC}
    schemas = {"POST": RESET_CONFIRM}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, RESET_CONFIRM)
        passwords.confirm_reset(self.deps, body["token"], body["new_password"], req.context.warden)
        resp.status = 204


class TotpSetup(Resource):
    policy = {"POST": Permission.SESSION_MANAGE}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, totp.setup(self.deps, req.context.principal, req.context.warden))


class TotpEnable(Resource):
    policy = {"POST": Permission.SESSION_MANAGE}
    schemas = {"POST": TOTP_ENABLE}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, TOTP_ENABLE)
        totp.enable(self.deps, req.context.principal, body["code"], req.context.warden)
        resp.status = 204


class TotpDisable(Resource):
    policy = {"POST": Permission.SESSION_MANAGE}
    schemas = {"POST": TOTP_DISABLE}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, TOTP_DISABLE)
        totp.disable(self.deps, req.context.principal, body["password"], body["code"], req.context.warden)
        resp.status = 204
