"""Who is calling: resolved from a verified token plus fresh state from the views."""

from __future__ import annotations

from dataclasses import dataclass

from core.permissions import Permission, allowed


@dataclass(frozen=True)
class Principal:
    user_id: str
    session_id: str
    roles: tuple[str, ...]
    amr: tuple[str, ...]
    totp_enabled: bool = False  # from the view at request time, not from the token

    def can(self, permission: Permission) -> bool:
        return allowed(self.roles, permission)
