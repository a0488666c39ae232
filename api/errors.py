"""The one mapping from domain errors to problem+json answers (RFC 9457)."""

from __future__ import annotations

import json
import logging
from typing import Any

import falcon

from api import validation as v
from core import errors as e

logger = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

STATUS: dict[type[e.WardenError], int] = {
    v.PayloadTooLarge: 413,
    v.UnsupportedMediaType: 415,
    v.MalformedJson: 400,
    e.WeakPassword: 422,
    e.ValidationFailed: 422,
    e.AuthenticationFailed: 401,
    e.Unauthenticated: 401,
    e.EmailUnverified: 403,
    e.InvalidToken: 400,
    e.RefreshRejected: 401,  # API.md: refresh answers 401 invalid_token
    e.Forbidden: 403,
    e.NotFound: 404,
    e.InvalidTransition: 409,
    e.NotEditable: 409,
    e.LastActiveAdmin: 409,
    e.SelfDemotion: 409,
    e.ConcurrencyError: 409,
    e.VersionConflict: 412,
    e.StoreUnavailable: 503,
    e.RateLimited: 429,
    e.UnsupportedFileType: 415,
    e.FileTooLarge: 413,
    e.TooManyAttachments: 409,
}

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def status_of(error: e.WardenError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 400


def problem(resp: falcon.Response, status: int, code: str, detail: str, **extra: Any) -> None:
    body = {
        "type": f"https://warden.invalid/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    resp.status = status
    resp.content_type = PROBLEM
    resp.text = json.dumps(body)


def handle_domain(req: falcon.Request, resp: falcon.Response, ex: e.WardenError, params: dict[str, Any]) -> None:
    status = status_of(ex)
    extra: dict[str, Any] = {}
    if isinstance(ex, e.ValidationFailed) and ex.errors:
        extra["errors"] = ex.errors
    if status == 401:
        resp.set_header("WWW-Authenticate", 'Bearer realm="warden"')
    if isinstance(ex, e.RateLimited):
        resp.set_header("Retry-After", str(ex.retry_after))
    if status >= 500:
        logger.error("service unavailable", extra={"fields": {"error": type(ex).__name__}})
    problem(resp, status, ex.code, ex.detail, **extra)


def handle_http(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: dict[str, Any]) -> None:
    status = ex.status_code
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}.get(
        status, "http_error"
    )
    for name, value in (ex.headers or {}).items():
        resp.set_header(name, value)
    problem(resp, status, code, ex.description or TITLES.get(status, "Error"))


def handle_unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict[str, Any]) -> None:
    # Never show a stack trace, query text or driver message: log it with the request id.
    logger.exception("unhandled error", extra={"fields": {"error": type(ex).__name__}})
    problem(resp, 500, "internal_error", "Something went wrong. Quote the X-Request-ID when you report it.")


def install(app: falcon.App) -> None:
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http)
    app.add_error_handler(e.WardenError, handle_domain)
