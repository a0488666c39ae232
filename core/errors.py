"""Domain errors. They carry data, never HTTP; ``api/errors.py`` maps them to answers."""

from __future__ import annotations


class WardenError(Exception):
    code = "error"

    def __init__(self, detail: str = "", **data: object) -> None:
        super().__init__(detail or self.__class__.__doc__ or self.code)
        self.detail = detail or (self.__class__.__doc__ or "").strip()
        self.data = data


class ValidationFailed(WardenError):
    """The request did not pass validation."""

    code = "validation_failed"

    def __init__(self, detail: str = "", errors: list[dict[str, str]] | None = None, code: str | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []
        if code:
            self.code = code


class WeakPassword(ValidationFailed):
    """The password does not meet the password policy."""

    code = "weak_password"


class AuthenticationFailed(WardenError):
    """Invalid email or password."""

    code = "invalid_credentials"


class EmailUnverified(WardenError):
    """The email address has not been verified yet."""

    code = "email_unverified"


class InvalidToken(WardenError):
    """The token is invalid, expired or already used."""

    code = "invalid_token"


class RefreshRejected(InvalidToken):
    """The refresh token is invalid, expired or already used."""


class Unauthenticated(WardenError):
    """Authentication is required."""

    code = "unauthenticated"


class Forbidden(WardenError):
    """You are not allowed to do this."""

    code = "forbidden"


class PasswordMismatch(Forbidden):
    """The password is not correct."""

    code = "invalid_password"


class NotFound(WardenError):
    """No such resource."""

    code = "not_found"


class InvalidTransition(WardenError):
    """That status change is not allowed from the current status."""

    code = "invalid_transition"


class NotEditable(WardenError):
    """Only drafts can be edited."""

    code = "not_editable"


class LastActiveAdmin(WardenError):
    """That change would leave no active admin."""

    code = "last_admin"


class SelfDemotion(WardenError):
    """Admins cannot remove their own admin role or disable their own account."""

    code = "self_demotion"


class VersionConflict(WardenError):
    """The resource changed since you read it (If-Match did not match)."""

    code = "version_conflict"


class ConcurrencyError(WardenError):
    """A concurrent write got there first (expected version did not match)."""

    code = "concurrency_conflict"


class StoreUnavailable(WardenError):
    """The database did not answer."""

    code = "service_unavailable"


class RateLimited(WardenError):
    """Too many requests: try again later."""

    code = "rate_limited"

    def __init__(self, retry_after: int, limit: str = "") -> None:
        super().__init__(f"Too many requests. Try again in {retry_after} s.")
        self.retry_after = retry_after
        self.limit = limit


class IpBlocked(Forbidden):
    """Requests from this network are blocked."""

    code = "ip_blocked"


class HttpsRequired(Forbidden):
    """Use HTTPS."""

    code = "https_required"


class UnsupportedFileType(WardenError):
    """Only PDF, PNG and JPEG files are accepted (detected by content)."""

    code = "unsupported_media_type"


class FileTooLarge(WardenError):
    """The file is larger than the limit."""

    code = "payload_too_large"


class TooManyAttachments(WardenError):
    """This application has as many attachments as it may have."""

    code = "too_many_attachments"


class TotpRequired(AuthenticationFailed):
    """This account uses two-factor authentication: send the current code as totp."""

    code = "totp_required"


class InvalidTotp(AuthenticationFailed):
    """The two-factor code is wrong, expired or already used."""

    code = "invalid_totp"


class InvalidTotpCode(ValidationFailed):
    """The two-factor code is wrong, expired or already used."""

    code = "invalid_totp"


class TotpEnrollmentRequired(Forbidden):
    """Enable two-factor authentication and log in with a code to use this endpoint."""

    code = "totp_enrollment_required"


class TotpStateConflict(InvalidTransition):
    """Two-factor authentication is not in a state that allows this."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.code = code


class WrongCurrentPassword(ValidationFailed):
    """The current password is not right."""

    code = "invalid_current_password"
