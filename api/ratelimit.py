"""Which requests count against which limit (the numbers live in core/ratelimits.py).

Runs after authentication: public login and registration count per client IP
(trusted hops only, so a spoofed X-Forwarded-For is just another header), and
every authenticated request counts per user. Password reset counts per email
inside its use case, where the normalized address is known.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from services import ratelimit
from services.deps import Deps

# (method, route template) -> limit name, keyed by the client IP.
IP_LIMITED = {
    ("POST", "/api/auth/login"): "login",
    ("POST", "/api/auth/register"): "registration",
}


class RateLimitMiddleware:
    def __init__(self, deps: Callable[[], Deps]) -> None:
        self._deps = deps

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        if resource is None or req.method == "OPTIONS":
            return
        ctx = req.context.warden
        # Counted before the body is even read: a malformed attempt is still an attempt.
        name = IP_LIMITED.get((req.method, req.uri_template))
        if name is not None:
            ratelimit.check(self._deps(), name, req.context.ip, ctx)
        principal = getattr(req.context, "principal", None)
        if principal is not None:
            ratelimit.check(self._deps(), "api", principal.user_id, ctx)
