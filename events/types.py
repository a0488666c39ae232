"""Every event type, in one place. Stable dotted strings: never rename one that shipped."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    USER_REGISTERED = "user.registered"
    USER_EMAIL_VERIFIED = "user.email_verified"
    USER_PROFILE_UPDATED = "user.profile_updated"
    USER_ROLES_CHANGED = "user.roles_changed"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    USER_PASSWORD_REHASHED = "user.password_rehashed"
    USER_UNLOCKED = "user.unlocked"  # an admin cleared the lockout
    ADMIN_ROSTER_CHANGED = "admin.roster_changed"  # serializes changes that shrink the active admins
    RATE_LIMIT_EXCEEDED = "security.rate_limit_exceeded"
    REGISTRATION_DUPLICATE = "auth.registration_duplicate"
    REGISTRATION_HONEYPOT = "auth.registration_honeypot"
    EMAIL_CLAIMED = "email.claimed"

    LOGIN_SUCCEEDED = "auth.login_succeeded"
    LOGIN_FAILED = "auth.login_failed"
    ACCOUNT_LOCKED = "auth.account_locked"
    SESSION_STARTED = "session.started"
    TOKEN_REFRESHED = "session.token_refreshed"
    REFRESH_TOKEN_REUSED = "auth.refresh_token_reused"
    SESSION_ENDED = "session.ended"
    ALL_SESSIONS_REVOKED = "auth.all_sessions_revoked"
    USER_PASSWORD_CHANGED = "user.password_changed"
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested"
    PASSWORD_RESET_COMPLETED = "auth.password_reset_completed"
    TOTP_SETUP_STARTED = "auth.totp_setup_started"
    TOTP_ENABLED = "auth.totp_enabled"
    TOTP_DISABLED = "auth.totp_disabled"
    TOTP_FAILED = "auth.totp_failed"
    TOTP_LOCKED = "auth.totp_locked"

    CONSENT_GRANTED = "consent.granted"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    DSR_REQUESTED = "dsr.requested"
    DSR_COMPLETED = "dsr.completed"
    DSR_DEADLINE_REMINDER = "dsr.deadline_reminder"
    USER_ERASED = "user.erased"
    EMAIL_RELEASED = "email.released"

    APPLICATION_CREATED = "application.created"
    APPLICATION_UPDATED = "application.updated"
    APPLICATION_STATUS_CHANGED = "application.status_changed"
    APPLICATION_ATTACHMENT_ADDED = "application.attachment_added"

    # The edge (issue 5): the admin IP blocklist.
    IP_BLOCK_ADDED = "admin.ip_block_added"
    IP_BLOCK_REMOVED = "admin.ip_block_removed"

    # Scheduled jobs (jobs/, issue 8).
    JOB_STARTED = "job.started"
    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    INTEGRITY_VERIFICATION_FAILED = "integrity.verification_failed"
    BACKUP_VERIFIED = "backup.verified"
    BACKUP_VERIFICATION_FAILED = "backup.verification_failed"


# Types whose events an application's history page shows.
APPLICATION_TYPES = frozenset(
    t.value
    for t in (EventType.APPLICATION_CREATED, EventType.APPLICATION_UPDATED, EventType.APPLICATION_STATUS_CHANGED)
)
