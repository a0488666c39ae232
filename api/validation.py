"""Strict JSON input: the one validation layer, declared per endpoint.

Bodies are parsed by hand so every rule is enforced before a use case runs:
at most 1 MiB, valid UTF-8, valid JSON without NaN/Infinity or duplicate keys,
nesting at most 32 deep, no key starting with ``$`` or containing ``.`` (so no
input can ever become a MongoDB operator), only declared fields, each of its
declared type and length. The same declarations feed ``/api/openapi.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import falcon

from core.errors import ValidationFailed

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32
DEFAULT_MAX_STRING = 1000


class PayloadTooLarge(ValidationFailed):
    """The request body is larger than 1 MiB."""

    code = "payload_too_large"


class UnsupportedMediaType(ValidationFailed):
    """The request body must be application/json."""

    code = "unsupported_media_type"


class MalformedJson(ValidationFailed):
    """The request body is not valid JSON."""

    code = "malformed_json"


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    required: bool = True
    max_length: int = DEFAULT_MAX_STRING
    min_length: int = 0
    description: str = ""

    def openapi(self) -> dict[str, Any]:
        names = {str: "string", bool: "boolean", int: "integer", list: "array", dict: "object"}
        kinds = self.type if isinstance(self.type, tuple) else (self.type,)
        schema: dict[str, Any] = {"type": [names[k] for k in kinds] if len(kinds) > 1 else names[kinds[0]]}
        if str in kinds:
            schema["maxLength"] = self.max_length
            if self.min_length:
                schema["minLength"] = self.min_length
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Schema:
    fields: dict[str, Field] = field(default_factory=dict)

    def openapi(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {name: f.openapi() for name, f in self.fields.items()},
            "required": [name for name, f in self.fields.items() if f.required],
        }

    def check(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ValidationFailed("The body must be a JSON object.", code="wrong_type")
        unknown = sorted(set(body) - set(self.fields))
        if unknown:
            raise ValidationFailed(
                "Unknown field(s): " + ", ".join(unknown[:5]),
                errors=[{"field": name[:64], "code": "unknown_field"} for name in unknown[:20]],
                code="unknown_field",
            )
        errors = []
        for name, spec in self.fields.items():
            if name not in body or body[name] is None:
                if spec.required:
                    errors.append({"field": name, "code": "missing"})
                continue
            value = body[name]
            kinds = spec.type if isinstance(spec.type, tuple) else (spec.type,)
            # bool is an int in Python; never accept true where a number is declared.
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                errors.append({"field": name, "code": "wrong_type"})
            elif isinstance(value, str) and len(value) > spec.max_length:
                errors.append({"field": name, "code": "too_long"})
            elif isinstance(value, str) and len(value) < spec.min_length:
                errors.append({"field": name, "code": "too_short"})
        if errors:
            code = errors[0]["code"] if len({e["code"] for e in errors}) == 1 else "validation_failed"
            raise ValidationFailed("The request body is not valid.", errors=errors, code=code)
        return body


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedJson(f"Duplicate key {key[:64]!r}.")
        if key.startswith("$") or "." in key or "\x00" in key:
            raise ValidationFailed(
                "Keys may not start with '$' or contain '.'.",
                errors=[{"field": key[:64], "code": "invalid_key"}],
                code="invalid_key",
            )
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise MalformedJson(f"{name} is not valid JSON.")


def _depth(value: Any, limit: int) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise MalformedJson(f"JSON nested deeper than {limit}.")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def read_body(req: falcon.Request, *, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    length = req.content_length
    if length is not None and length > max_bytes:
        raise PayloadTooLarge()
    data = req.bounded_stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge()
    return data


def parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as ex:
        raise MalformedJson("The body is not valid UTF-8.") from ex
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as ex:
        raise MalformedJson("The body is not valid JSON.") from ex
    except RecursionError as ex:
        raise MalformedJson(f"JSON nested deeper than {MAX_DEPTH}.") from ex
    _depth(value, MAX_DEPTH)
    return value


def json_body(req: falcon.Request, schema: Schema, *, optional: bool = False) -> dict[str, Any]:
    """Read, parse and check a JSON body against its declared schema."""
    raw = read_body(req)
    if not raw.strip() and optional:
        return {}
    media = (req.content_type or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType()
    return schema.check(parse_json(raw))
