"""The admin IP blocklist (incident response): add, remove, list, and the per-request check."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pymongo.errors import PyMongoError

from core.clock import utc
from core.errors import Forbidden, NotFound, StoreUnavailable, ValidationFailed
from core.netblocks import address_key, parse_block
from core.permissions import Permission
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services.deps import Deps
from services.paging import Page, encode_cursor
from services.principal import Principal

MAX_REASON = 500


def _invalid(field: str, code: str, detail: str) -> ValidationFailed:
    return ValidationFailed(detail, errors=[{"field": field, "code": code}], code=code)


def _expiry(deps: Deps, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as ex:
        raise _invalid("expires_at", "invalid_datetime", "expires_at must be an RFC 3339 time.") from ex
    if parsed.tzinfo is None:
        raise _invalid("expires_at", "invalid_datetime", "expires_at needs a time zone (e.g. Z).")
    if utc(parsed) <= deps.clock.now():
        raise _invalid("expires_at", "in_the_past", "expires_at must be in the future.")
    return utc(parsed).replace(microsecond=parsed.microsecond // 1000 * 1000)


def add(
    deps: Deps, principal: Principal, cidr: str, reason: str, expires_at: str | None, ctx: Context
) -> dict[str, Any]:
    if not principal.can(Permission.IP_BLOCKS_MANAGE):
        raise Forbidden()
    try:
        block = parse_block(cidr)
    except ValueError as ex:
        raise _invalid("cidr", "invalid_cidr", "cidr must be an IPv4/IPv6 address or network.") from ex
    if not reason.strip() or len(reason) > MAX_REASON:
        raise _invalid("reason", "length", f"reason must be 1-{MAX_REASON} characters.")
    expiry = _expiry(deps, expires_at)
    if ctx.ip and block.contains(ctx.ip):
        # An admin locking themselves (or everyone) out mid-incident helps the attacker.
        raise _invalid("cidr", "would_block_self", "That block contains your own address.")
    block_id = uuid.uuid4().hex
    data = {
        "cidr": block.cidr,
        "family": block.family,
        "first": block.first,
        "last": block.last,
        "reason": reason,
        "expires_at": expiry,
    }
    deps.commit([StreamAppend(stream_id("ipblock", block_id), 0, (NewEvent(T.IP_BLOCK_ADDED, data),))], ctx)
    return view(deps, _get(deps, block_id))


def remove(deps: Deps, principal: Principal, block_id: str, ctx: Context) -> None:
    if not principal.can(Permission.IP_BLOCKS_MANAGE):
        raise Forbidden()

    def decide() -> None:
        doc = _get(deps, block_id)
        if doc["status"] == "removed":
            raise NotFound()
        event = NewEvent(T.IP_BLOCK_REMOVED, {"cidr": doc["cidr"]})
        deps.commit([StreamAppend(stream_id("ipblock", block_id), doc["version"], (event,))], ctx)

    deps.retrying(decide)


def _get(deps: Deps, block_id: str) -> dict[str, Any]:
    doc = deps.db["ip_blocks"].find_one({"_id": str(block_id)})
    if doc is None:
        raise NotFound()
    return doc


def view(deps: Deps, doc: dict[str, Any]) -> dict[str, Any]:
    expires = utc(doc["expires_at"]) if doc.get("expires_at") else None
    return {
        "id": doc["_id"],
        "cidr": doc["cidr"],
        "reason": doc["reason"],
        "expires_at": expires,
        "active": doc["status"] == "active" and (expires is None or expires > deps.clock.now()),
        "created_by": doc["created_by"],
        "created_at": utc(doc["created_at"]),
    }


def list_page(deps: Deps, principal: Principal, limit: int, before: int | None) -> Page:
    if not principal.can(Permission.IP_BLOCKS_MANAGE):
        raise Forbidden()
    query: dict[str, Any] = {"status": "active"}
    if before is not None:
        query["created_position"] = {"$lt": int(before)}
    docs = list(deps.db["ip_blocks"].find(query).sort("created_position", -1).limit(limit + 1))
    more = len(docs) > limit
    docs = docs[:limit]
    return Page([view(deps, d) for d in docs], encode_cursor(docs[-1]["created_position"]) if more else None)


def is_blocked(deps: Deps, ip: str) -> bool:
    """One indexed query: an active, unexpired block whose range holds the address."""
    try:
        family, key = address_key(ip)
    except ValueError:
        return False  # not an address (a unix socket peer): nothing to match
    query = {
        "status": "active",
        "family": family,
        "first": {"$lte": key},
        "last": {"$gte": key},
        "$or": [{"expires_at": None}, {"expires_at": {"$gt": deps.clock.now()}}],
    }
    try:
        return deps.db["ip_blocks"].find_one(query, {"_id": 1}) is not None
    except PyMongoError as ex:
        raise StoreUnavailable() from ex
