"""Opaque cursors and page limits, shared by every paginated use case."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from core.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_POSITION = 2**63


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor}


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("p"):
            raise ValueError
        value = int(raw[1:])
        # Positions are BSON int64: a larger number cannot even be sent in a query.
        if not 0 <= value < MAX_POSITION:
            raise ValueError
        return value
    except (ValueError, binascii.Error, UnicodeDecodeError) as ex:
        raise ValidationFailed("Invalid cursor.", errors=[{"field": "cursor", "code": "invalid"}]) from ex


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise ValidationFailed("limit must be 1–200.", errors=[{"field": "limit", "code": "out_of_range"}])
    return int(value)


def encode_key_cursor(tag: str, key: str) -> str:
    """An opaque cursor over a string key (an id), tagged so cursors of lists do not mix."""
    return base64.urlsafe_b64encode(f"{tag}{key}".encode()).decode().rstrip("=")


def decode_key_cursor(cursor: str | None, tag: str, shape: re.Pattern[str]) -> str | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raw = ""
    if not raw.startswith(tag) or not shape.match(raw[len(tag) :]):
        raise ValidationFailed("Invalid cursor.", errors=[{"field": "cursor", "code": "invalid"}])
    return raw[len(tag) :]
