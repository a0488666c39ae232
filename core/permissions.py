"""Roles and the permission matrix: the one place authorization is decided.

Deny by default: a role has exactly the permissions listed here. Resources
declare the permission they need; ``api/`` refuses a route that declares none
unless it is listed as public.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    APPLICANT = "applicant"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Permission(StrEnum):
    PROFILE_READ = "profile:read"
    PROFILE_UPDATE = "profile:update"
    SESSION_MANAGE = "session:manage"
    APPLICATION_CREATE = "application:create"
    APPLICATION_READ_OWN = "application:read_own"
    APPLICATION_READ_ALL = "application:read_all"
    APPLICATION_REVIEW = "application:review"
    AUDIT_READ = "audit:read"
    AUDIT_READ_PII = "audit:read_pii"
    ADMIN_USERS = "admin:users"
    IP_BLOCKS_MANAGE = "admin:ip_blocks"  # the incident-response blocklist
    DSR_SELF = "dsr:self"  # export, erase and consents of one's own data
    DSR_MANAGE = "dsr:manage"  # every subject's DSR requests


_BASE = {Permission.PROFILE_READ, Permission.PROFILE_UPDATE, Permission.SESSION_MANAGE, Permission.DSR_SELF}

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.APPLICANT: frozenset(
        _BASE
        | {
            Permission.APPLICATION_CREATE,
            Permission.APPLICATION_READ_OWN,
        }
    ),
    Role.REVIEWER: frozenset(
        _BASE
        | {
            Permission.APPLICATION_READ_OWN,
            Permission.APPLICATION_READ_ALL,
            Permission.APPLICATION_REVIEW,
        }
    ),
    Role.ADMIN: frozenset(
        _BASE
        | {
            Permission.APPLICATION_READ_OWN,
            Permission.APPLICATION_READ_ALL,
            Permission.AUDIT_READ,
            Permission.ADMIN_USERS,
            Permission.IP_BLOCKS_MANAGE,
            Permission.DSR_MANAGE,
        }
    ),
    # Only auditors see PII decrypted in the audit log; admins see it redacted.
    Role.AUDITOR: frozenset(_BASE | {Permission.AUDIT_READ, Permission.AUDIT_READ_PII}),
}

# Roles whose holders must enrol TOTP before privileged endpoints answer them.
TOTP_REQUIRED_ROLES = frozenset({Role.ADMIN, Role.AUDITOR})

ALL_ROLES = frozenset(role.value for role in Role)


def permissions_of(roles: tuple[str, ...] | list[str]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for name in roles:
        if name in ALL_ROLES:
            granted |= MATRIX[Role(name)]
    return frozenset(granted)


def allowed(roles: tuple[str, ...] | list[str], permission: Permission) -> bool:
    return permission in permissions_of(roles)
