"""The first checks after the request context: HTTPS enforcement and the IP blocklist
(and ``Vary: Origin`` on the way out when CORS is configured).

Both run in ``process_request``, before routing, authentication or body parsing,
so a refused request costs one header look-up and at most one indexed query.
"""

from __future__ import annotations

from collections.abc import Callable

import falcon

from core.errors import HttpsRequired, IpBlocked
from core.settings import Settings
from services import ipblocks
from services.deps import Deps

# Liveness must not depend on the database or on how the probe reached us.
EXEMPT = frozenset({"/healthz"})


def forwarded_proto(req: falcon.Request, trusted_hops: int) -> str | None:
    """The scheme the client used, as reported by the outermost trusted proxy.

    Like X-Forwarded-For, each proxy may append: only the entry ``trusted_hops``
    from the right was written by a proxy we trust; anything left of it is the
    client's own claim.
    """
    parts = [p.strip().lower() for p in (req.get_header("X-Forwarded-Proto") or "").split(",") if p.strip()]
    if trusted_hops <= 0 or not parts:
        return None
    return parts[-trusted_hops] if len(parts) >= trusted_hops else parts[0]


class EdgeMiddleware:
    def __init__(self, settings: Settings, deps: Callable[[], Deps]) -> None:
        self._settings = settings
        self._deps = deps

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path in EXEMPT:
            return
        self._require_https(req)
        if ipblocks.is_blocked(self._deps(), req.context.ip):
            raise IpBlocked()

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: object, ok: bool) -> None:
        if self._settings.allowed_origins:
            # CORS answers differ by Origin: caches must key on it, or one origin's
            # answer (with or without Access-Control-Allow-Origin) is served to another.
            resp.append_header("Vary", "Origin")

    def _require_https(self, req: falcon.Request) -> None:
        settings = self._settings
        # Only in production and only behind a proxy we trust: without one, the
        # X-Forwarded-Proto header is the client's word and proves nothing.
        if not settings.production or settings.trusted_proxy_count <= 0:
            return
        if forwarded_proto(req, settings.trusted_proxy_count) != "http":
            return
        if req.method in ("GET", "HEAD"):
            # The target comes from PUBLIC_BASE_URL, never the Host header: no open redirect.
            raise falcon.HTTPPermanentRedirect(settings.public_base_url + req.relative_uri)
        # A body already crossed the network in clear text; redirecting a POST would
        # invite the client to send it again. Refuse so the client gets fixed.
        raise HttpsRequired()
