"""Request context, security headers and authentication, in that order."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import falcon

from api.policy import Access, requirement
from core import logs
from core.errors import Forbidden, TotpEnrollmentRequired, Unauthenticated
from core.permissions import TOTP_REQUIRED_ROLES
from core.settings import Settings
from events.model import ANONYMOUS, Context
from services.auth import authenticate
from services.deps import Deps
from services.principal import Principal

logger = logging.getLogger("warden.access")

SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "accelerometer=(), camera=(), geolocation=(), microphone=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def client_ip(req: falcon.Request, trusted_hops: int) -> str:
    """The client address: X-Forwarded-For is believed only for trusted proxy hops.

    Each trusted proxy appends the address it saw, so the client is the
    ``trusted_hops``-th entry from the right; anything further left is the
    client's own claim and is ignored.
    """
    remote = req.remote_addr or "0.0.0.0"  # noqa: S104  (an address, not a bind)
    if trusted_hops <= 0:
        return remote
    forwarded = [part.strip() for part in (req.get_header("X-Forwarded-For") or "").split(",") if part.strip()]
    if len(forwarded) < trusted_hops:
        return remote
    candidate = forwarded[-trusted_hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class RequestContextMiddleware:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        given = req.get_header("X-Request-ID") or ""
        req.context.request_id = given if SANE_REQUEST_ID.match(given) else uuid.uuid4().hex
        req.context.ip = client_ip(req, self._settings.trusted_proxy_count)
        req.context.started = time.perf_counter()
        req.context.principal = None
        req.context.warden = Context(actor=ANONYMOUS, ip=req.context.ip, request_id=req.context.request_id)
        # Every log line written while serving this request carries its id.
        req.context.log_binding = logs.bind_request_id(req.context.request_id)

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool) -> None:
        resp.set_header("X-Request-ID", getattr(req.context, "request_id", "-"))
        for name, value in SECURITY_HEADERS.items():
            resp.set_header(name, value)
        if self._settings.production:
            resp.set_header("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        started = getattr(req.context, "started", None)
        status = resp.status_code if hasattr(resp, "status_code") else int(str(resp.status).split()[0])
        principal = getattr(req.context, "principal", None)
        fields = {
            "request_id": getattr(req.context, "request_id", None),
            "method": req.method,
            "route": getattr(req, "uri_template", None) or "-",
            "status": status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            "user_id": principal.user_id if principal else None,
        }
        logger.log(access_level(status), "request", extra={"fields": fields})
        binding = getattr(req.context, "log_binding", None)
        if binding is not None:
            logs.unbind_request_id(binding)


def access_level(status: int) -> int:
    """5xx is our failure (error, alerts Sentry); 429 is a rate-limit violation (warning)."""
    if status >= 500:
        return logging.ERROR
    if status == 429:
        return logging.WARNING
    return logging.INFO


class AuthMiddleware:
    """Authenticate every request a resource does not declare public; deny undeclared routes."""

    def __init__(self, deps: Callable[[], Deps]) -> None:
        self._deps = deps

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        if resource is None or req.method == "OPTIONS":
            return
        if not hasattr(resource, "on_" + req.method.lower()):
            return  # Falcon answers 405 with an Allow header
        need = requirement(resource, req.method)
        if need is None:
            # Deny by default: a responder that declares nothing is not reachable.
            raise Forbidden("This route declares no access policy.")
        if need is Access.PUBLIC:
            return
        deps = self._deps()
        token = self._bearer(req)
        if token is None:
            token = self._cookie_token(req)
        principal = authenticate(deps, token)
        if need is not Access.AUTHENTICATED and not principal.can(need):
            raise Forbidden()
        require_second_factor(req.path, principal)
        req.context.principal = principal
        req.context.warden = Context(actor=principal.user_id, ip=req.context.ip, request_id=req.context.request_id)

    @staticmethod
    def _bearer(req: falcon.Request) -> str | None:
        header = req.get_header("Authorization")
        if header is None:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("Use 'Authorization: Bearer <token>'.")
        return value.strip()

    @staticmethod
    def _cookie_token(req: falcon.Request) -> str:
        token = (req.get_cookie_values("access_token") or [None])[0]
        if not token:
            raise Unauthenticated()
        if req.method in UNSAFE_METHODS:
            check_csrf(req)
        return token


# Routes where holders of TOTP_REQUIRED_ROLES must have signed in with a second factor.
TOTP_GATED_PREFIXES = ("/api/admin", "/api/audit")


def require_second_factor(path: str, principal: Principal) -> None:
    """The one place SPEC §4's "admins and auditors must enrol TOTP" is enforced.

    Both conditions are needed: 2FA on now (the view) and this token issued after a
    code (its amr), so a token from before enrolment, or after 2FA was turned off,
    does not pass.
    """
    if not any(path == p or path.startswith(p + "/") for p in TOTP_GATED_PREFIXES):
        return
    if not TOTP_REQUIRED_ROLES.intersection(principal.roles):
        return
    if not (principal.totp_enabled and "otp" in principal.amr):
        raise TotpEnrollmentRequired()


class CsrfFailed(Forbidden):
    """The X-CSRF-Token header must equal the csrf_token cookie."""

    code = "csrf_failed"


def check_csrf(req: falcon.Request) -> None:
    """Double submit: a cross-site form can send cookies but cannot read or set this header."""
    cookie = (req.get_cookie_values("csrf_token") or [""])[0]
    header = req.get_header("X-CSRF-Token") or ""
    if not cookie or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise CsrfFailed()
