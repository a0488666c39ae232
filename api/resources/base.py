"""Small helpers resources share: deps access, JSON answers, If-Match and paging params."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import falcon

from core.clock import isoformat
from core.errors import ValidationFailed, VersionConflict
from services.deps import Deps
from services.paging import decode_cursor, parse_limit

JSON = "application/json; charset=utf-8"


class Resource:
    policy: dict[str, Any] = {}

    def __init__(self, deps: Callable[[], Deps]) -> None:
        self._deps = deps

    @property
    def deps(self) -> Deps:
        return self._deps()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    raise TypeError(type(value).__name__)


def to_json(body: Any) -> str:
    return json.dumps(body, default=_default, ensure_ascii=False)


def send(resp: falcon.Response, body: Any, status: int = 200) -> None:
    resp.status = status
    resp.content_type = JSON
    resp.text = to_json(body)


def if_match(req: falcon.Request) -> int | None:
    """The version a client says it last saw; anything unparsable can only mismatch."""
    header = req.get_header("If-Match")
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise VersionConflict()
    return int(value)


def set_etag(resp: falcon.Response, version: int) -> None:
    resp.set_header("ETag", f'"{version}"')


def page_params(req: falcon.Request) -> tuple[int, int | None]:
    return parse_limit(req.get_param("limit")), decode_cursor(req.get_param("cursor"))


def query_param(req: falcon.Request, name: str, max_length: int = 200) -> str | None:
    values = req.get_param_as_list(name)
    if not values:
        return None
    if len(values) > 1 or len(values[0]) > max_length:
        raise ValidationFailed(
            f"{name} must be given once, at most {max_length} characters.", errors=[{"field": name, "code": "invalid"}]
        )
    return values[0]
