"""/api/auth: thin resources over services/auth.py."""

from __future__ import annotations

import secrets

import falcon

from api.middleware import check_csrf
from api.policy import Access
from api.resources.base import Resource, send
from api.validation import Field, Schema, json_body
from core.errors import RefreshRejected
from core.permissions import Permission
from services import auth
from services.auth import IssuedTokens

REGISTER = Schema(
    {
        "email": Field(str, max_length=254),
        "password": Field(str, max_length=1024),
        "full_name": Field(str, max_length=200),
        "website": Field(str, required=False, max_length=200, description="honeypot: leave empty"),
    }
)
VERIFY = Schema({"token": Field(str, max_length=200)})
LOGIN = Schema(
    {
        "email": Field(str, max_length=254),
        "password": Field(str, max_length=1024),
        "totp": Field(str, required=False, max_length=10),
    }
)
REFRESH = Schema({"refresh_token": Field(str, required=False, max_length=200)})

COOKIE_PATH = "/"


class Register(Resource):
    policy = {"POST": Access.PUBLIC}
    schemas = {"POST": REGISTER}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, REGISTER)
        result = auth.register(
            self.deps, body["email"], body["password"], body["full_name"], body.get("website") or "", req.context.warden
        )
        if result.created_user_id is not None:
            send(resp, {"user_id": result.created_user_id}, 201)
        else:
            # The same answer for a new and an existing email: no account enumeration.
            send(resp, {"status": "verification_sent"}, 202)


class VerifyEmail(Resource):
    policy = {"POST": Access.PUBLIC}
    schemas = {"POST": VERIFY}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, VERIFY)
        auth.verify_email(self.deps, body["token"], req.context.warden)
        resp.status = 204


def _set_session_cookies(resp: falcon.Response, tokens: IssuedTokens, ttl: int) -> None:
    common = {"secure": True, "path": COOKIE_PATH, "same_site": "Strict"}
    resp.set_cookie("access_token", tokens.access_token, max_age=ttl, http_only=True, **common)
    resp.set_cookie("refresh_token", tokens.refresh_token, max_age=12 * 3600, http_only=True, **common)
    # Readable by the page's script on purpose: it is echoed in X-CSRF-Token (double submit).
    resp.set_cookie("csrf_token", secrets.token_urlsafe(24), max_age=12 * 3600, http_only=False, **common)


def _token_answer(resp: falcon.Response, tokens: IssuedTokens) -> None:
    _set_session_cookies(resp, tokens, tokens.expires_in)
    send(
        resp,
        {
            "access_token": tokens.access_token,
            "token_type": "Bearer",
            "expires_in": tokens.expires_in,
            "refresh_token": tokens.refresh_token,
            "user": {k: tokens.user[k] for k in ("id", "email", "full_name", "roles")},
        },
    )


class Login(Resource):
    policy = {"POST": Access.PUBLIC}
    schemas = {"POST": LOGIN}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, LOGIN)
        tokens = auth.login(self.deps, body["email"], body["password"], req.context.warden, body.get("totp"))
        _token_answer(resp, tokens)


class Refresh(Resource):
    policy = {"POST": Access.PUBLIC}
    schemas = {"POST": REFRESH}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, REFRESH, optional=True)
        token = body.get("refresh_token")
        if token is None:
            token = (req.get_cookie_values("refresh_token") or [None])[0]
            if token is None:
                raise RefreshRejected()
            # Authenticating by cookie: require the CSRF double submit.
            check_csrf(req)
        _token_answer(resp, auth.refresh(self.deps, token, req.context.warden))


def _clear_cookies(resp: falcon.Response) -> None:
    for name in ("access_token", "refresh_token", "csrf_token"):
        resp.unset_cookie(name, path=COOKIE_PATH)


class Logout(Resource):
    policy = {"POST": Permission.SESSION_MANAGE}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        auth.logout(self.deps, req.context.principal, req.context.warden)
        _clear_cookies(resp)
        resp.status = 204


class LogoutAll(Resource):
    policy = {"POST": Permission.SESSION_MANAGE}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        auth.logout_all(self.deps, req.context.principal, req.context.warden)
        _clear_cookies(resp)
        resp.status = 204
