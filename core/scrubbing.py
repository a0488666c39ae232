"""One scrubber for everything that leaves the process: Sentry events, breadcrumbs, log lines.

Two rules, applied to any nested structure of dicts, lists and strings:

- a value stored under a sensitive key (password, token, secret, cookie,
  authorization, session, csrf, email, ``*key``, dsn, signature, credential)
  is replaced whole, whatever its type;
- inside every string, e-mail addresses, ``Bearer``/``Basic`` credentials, JWTs,
  ``name=value`` pairs with a sensitive name (query strings, cookie headers) and
  any configured secret value (our own keys) are masked.

The scrubber never raises and never mutates its input; it is pure so that it can
be unit-tested without Sentry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FILTERED = "[Filtered]"

# Normalized (lower case, no separators) key fragments whose values are never sent.
SENSITIVE_KEY_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "auth",
    "cookie",
    "session",
    "csrf",
    "xsrf",
    "email",
    "mail",
    "apikey",
    "key",
    "dsn",
    "signature",
    "credential",
    "totp",
    "otp",
    "setcookie",
)
# Keys that contain a fragment above but are structure, not data (Sentry's own fields).
SAFE_KEYS = frozenset({"keys", "monkey", "trace_id", "span_id", "parent_span_id"})

EMAIL = re.compile(r"[^\s@<>()\[\]\"',;:]+@[^\s@<>()\[\]\"',;:]+\.[^\s@<>()\[\]\"',;:]{2,}")
AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]+")
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
PAIR = re.compile(
    r"(?i)\b([a-z0-9_.-]*(?:password|passwd|secret|token|session|csrf|key|email|signature|dsn)[a-z0-9_.-]*)"
    r"([\"']?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^&;,\s\"']+)"
)
MAX_DEPTH = 40


def _normalize(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def sensitive_key(key: object) -> bool:
    if not isinstance(key, str) or key.lower() in SAFE_KEYS:
        return False
    flat = _normalize(key)
    return any(part in flat for part in SENSITIVE_KEY_PARTS)


class Scrubber:
    """Callable scrubber; ``secrets`` are literal values (our keys) masked wherever they appear."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, FILTERED)
        value = JWT.sub(FILTERED, value)
        value = AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {FILTERED}", value)
        value = PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{FILTERED}", value)
        return EMAIL.sub("[email]", value)

    def __call__(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            return FILTERED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace"))
        if isinstance(value, dict):
            return {
                k: (FILTERED if sensitive_key(k) and v not in (None, "", [], {}) else self(v, depth + 1))
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            # Header lists arrive as [name, value] pairs: judge the value by the name.
            if len(value) == 2 and isinstance(value[0], str) and sensitive_key(value[0]):
                return [value[0], FILTERED]
            return [self(item, depth + 1) for item in value]
        return value

    # Sentry hooks -------------------------------------------------------------------

    def before_send(self, event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
        return self(event)

    def before_breadcrumb(self, crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
        return self(crumb)
