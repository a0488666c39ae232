"""Liveness, readiness and security.txt."""

from __future__ import annotations

import falcon

from api.policy import Access
from api.resources.base import Resource, send


class Health(Resource):
    policy = {"GET": Access.PUBLIC}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, {"status": "ok"})


class Ready(Resource):
    policy = {"GET": Access.PUBLIC}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            self.deps.db.command("ping")
        except Exception:  # any failure means not ready; the reason goes to logs, not clients
            send(resp, {"status": "unavailable"}, 503)
            return
        send(resp, {"status": "ready"})


class SecurityTxt(Resource):
    policy = {"GET": Access.PUBLIC}
    produces = {"GET": ("text/plain",)}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        base = self.deps.settings.public_base_url
        resp.content_type = "text/plain; charset=utf-8"
        resp.text = (
            f"Contact: mailto:security@{_host(base)}\n"
            "Expires: 2027-12-31T23:59:59Z\n"
            "Preferred-Languages: en\n"
            f"Canonical: {base}/.well-known/security.txt\n"
            "Policy: Report vulnerabilities privately; do not test against other users' data.\n"
        )


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
