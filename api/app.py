"""The composition root of the web process. ``create_app`` does no I/O: tests call
it with their own deps; ``api/wsgi.py`` calls it with deps built lazily per worker."""

from __future__ import annotations

import threading
from collections.abc import Callable

import falcon

from api import errors
from api.edge import EdgeMiddleware
from api.middleware import AuthMiddleware, RequestContextMiddleware
from api.openapi import OpenApi
from api.ratelimit import RateLimitMiddleware
from api.resources import admin, applications, audit, auth, credentials, dsr, health, reports, users
from api.resources import attachments as attachment_resources
from api.resources import ipblocks as ipblock_resources
from core.settings import Settings
from services.deps import Deps

DepsSource = Deps | Callable[[], Deps]


class LazyDeps:
    """Builds deps on first use, so a MongoClient is never created before gunicorn forks."""

    def __init__(self, factory: Callable[[], Deps]) -> None:
        self._factory = factory
        self._deps: Deps | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Deps:
        if self._deps is None:
            with self._lock:
                if self._deps is None:
                    self._deps = self._factory()
        return self._deps


def _routes(provide: Callable[[], Deps]) -> list[tuple[str, object]]:
    return [
        ("/healthz", health.Health(provide)),
        ("/readyz", health.Ready(provide)),
        ("/.well-known/security.txt", health.SecurityTxt(provide)),
        ("/api/auth/register", auth.Register(provide)),
        ("/api/auth/verify-email", auth.VerifyEmail(provide)),
        ("/api/auth/login", auth.Login(provide)),
        ("/api/auth/refresh", auth.Refresh(provide)),
        ("/api/auth/logout", auth.Logout(provide)),
        ("/api/auth/logout-all", auth.LogoutAll(provide)),
        ("/api/auth/password/change", credentials.PasswordChange(provide)),
        ("/api/auth/password-reset/request", credentials.PasswordResetRequest(provide)),
        ("/api/auth/password-reset/confirm", credentials.PasswordResetConfirm(provide)),
        ("/api/auth/2fa/setup", credentials.TotpSetup(provide)),
        ("/api/auth/2fa/enable", credentials.TotpEnable(provide)),
        ("/api/auth/2fa/disable", credentials.TotpDisable(provide)),
        ("/api/users/me", users.Me(provide)),
        ("/api/dsr/export", dsr.Export(provide)),
        ("/api/dsr/delete", dsr.Delete(provide)),
        ("/api/dsr/requests", dsr.Requests(provide)),
        ("/api/consents", dsr.Consents(provide)),
        ("/api/consents/{purpose}", dsr.Consent(provide)),
        ("/api/admin/dsr", dsr.AdminRequests(provide)),
        ("/api/audit/reports/dsr", dsr.Report(provide)),
        ("/api/applications", applications.Collection(provide)),
        ("/api/applications/{app_id}", applications.Item(provide)),
        ("/api/applications/{app_id}/status", applications.StatusChange(provide)),
        ("/api/applications/{app_id}/history", applications.History(provide)),
        ("/api/applications/{app_id}/attachments", attachment_resources.Collection(provide)),
        ("/api/applications/{app_id}/attachments/{attachment_id}", attachment_resources.Item(provide)),
        ("/api/admin/ip-blocks", ipblock_resources.Collection(provide)),
        ("/api/admin/ip-blocks/{block_id}", ipblock_resources.Item(provide)),
        ("/api/audit/events", audit.Events(provide)),
        ("/api/audit/verify", audit.Verify(provide)),
        ("/api/audit/checkpoints", audit.Checkpoints(provide)),
        ("/api/audit/proof/{position}", audit.Proof(provide)),
        ("/api/audit/events/export", audit.Export(provide)),
        ("/api/audit/reports/security", reports.Security(provide)),
        ("/api/audit/reports/admin-actions", reports.AdminActions(provide)),
        ("/api/audit/reports/status-changes", reports.StatusChanges(provide)),
        ("/api/admin/users", admin.Users(provide)),
        ("/api/admin/users/{user_id}", admin.User(provide)),
        ("/api/admin/users/{user_id}/roles", admin.Roles(provide)),
        ("/api/admin/users/{user_id}/disable", admin.Disable(provide)),
        ("/api/admin/users/{user_id}/enable", admin.Enable(provide)),
        ("/api/admin/users/{user_id}/unlock", admin.Unlock(provide)),
        ("/api/admin/users/{user_id}/revoke-sessions", admin.RevokeSessions(provide)),
    ]


def create_app(settings: Settings, deps: DepsSource) -> falcon.App:
    provide: Callable[[], Deps] = (lambda: deps) if isinstance(deps, Deps) else LazyDeps(deps)
    origins = frozenset(o for o in settings.allowed_origins if o not in ("null", "*"))
    app = falcon.App(
        middleware=[
            RequestContextMiddleware(settings),
            EdgeMiddleware(settings, provide),  # HTTPS enforcement and the IP blocklist, first
            falcon.CORSMiddleware(
                allow_origins=origins,
                allow_credentials=origins,
                expose_headers=["ETag", "X-Request-ID", "Retry-After", "Location"],
            ),
            AuthMiddleware(provide),
            RateLimitMiddleware(provide),  # after auth: the API limit is per user
        ],
    )
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.keep_blank_qs_values = False
    errors.install(app)
    routes = _routes(provide)
    for template, resource in routes:
        app.add_route(template, resource)
    app.add_route("/api/openapi.json", OpenApi(provide, routes))
    return app
