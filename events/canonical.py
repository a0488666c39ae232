"""Canonical encoding and the per-stream hash chain.

The encoding is JSON with sorted keys, no insignificant whitespace, UTF-8, and
datetimes as RFC 3339 UTC with milliseconds (what MongoDB keeps). Floats are
refused: their text form is not canonical across languages.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from core.clock import isoformat

GENESIS_HASH = "0" * 64


def _default(value: Any) -> str:
    if isinstance(value, datetime):
        return isoformat(value)
    raise TypeError(f"not canonically encodable: {type(value).__name__}")


def _check(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("floats are not allowed in events")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("event keys must be strings")
            _check(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check(item)


def canonical_bytes(content: dict[str, Any]) -> bytes:
    _check(content)
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default).encode()


def chain_hash(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical_bytes(content)).hexdigest()
