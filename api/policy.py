"""What each route needs: every responder declares it; undeclared means denied."""

from __future__ import annotations

from enum import StrEnum

from core.permissions import Permission


class Access(StrEnum):
    PUBLIC = "public"  # no authentication at all
    AUTHENTICATED = "authenticated"  # any signed-in user; the use case checks ownership


Requirement = Permission | Access


def requirement(resource: object, method: str) -> Requirement | None:
    policy: dict[str, Requirement] = getattr(resource, "policy", {})
    return policy.get(method)
