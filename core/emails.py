"""Email normalization: one rule, used for lookups, blind indexes and rate-limit keys."""

from __future__ import annotations

import unicodedata

MAX_EMAIL_LENGTH = 254


def normalize_email(value: str) -> str:
    """NFKC, casefold and trim: two addresses that normalize alike are one account."""
    return unicodedata.normalize("NFKC", value).casefold().strip()


def looks_like_email(value: str) -> bool:
    """A deliberately small syntactic check; the verification email is the real test."""
    if len(value) > MAX_EMAIL_LENGTH or any(ch.isspace() for ch in value):
        return False
    local, sep, domain = value.rpartition("@")
    return bool(sep and local and "." in domain and not domain.startswith(".") and not domain.endswith("."))


def local_part(value: str) -> str:
    return normalize_email(value).rpartition("@")[0]
