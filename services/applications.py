"""Applications: create, read, edit drafts, move through the status workflow."""

from __future__ import annotations

import uuid
from typing import Any

from core.clock import utc
from core.errors import Forbidden, NotEditable, NotFound, ValidationFailed, VersionConflict
from core.permissions import Permission
from events.applications import MAX_REASON_LENGTH, Status, check_transition
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.store import EventFilter
from events.types import EventType as T
from services.audit import event_view
from services.deps import Deps
from services.paging import Page, encode_cursor
from services.principal import Principal

MAX_TITLE = 200
MAX_BODY = 20000


def check_text(title: Any, body: Any, *, partial: bool) -> dict[str, str]:
    fields: dict[str, str] = {}
    errors = []
    if title is not None or not partial:
        if not isinstance(title, str) or not 1 <= len(title.strip()) or len(title) > MAX_TITLE:
            errors.append({"field": "title", "code": "length"})
        else:
            fields["title"] = title
    if body is not None or not partial:
        body = "" if body is None else body
        if not isinstance(body, str) or len(body) > MAX_BODY:
            errors.append({"field": "body", "code": "length"})
        else:
            fields["body"] = body
    if errors:
        raise ValidationFailed("title must be 1–200 characters and body at most 20000.", errors=errors)
    return fields


def _load(deps: Deps, principal: Principal, app_id: str) -> dict[str, Any]:
    doc = deps.db["applications"].find_one({"_id": str(app_id)})
    # Another user's application is "not found", never "forbidden": ids are not confirmed.
    if doc is None or not (doc["owner_id"] == principal.user_id or principal.can(Permission.APPLICATION_READ_ALL)):
        raise NotFound()
    return doc


# Public for the use cases that share this visibility rule (attachments).
load = _load


def view(deps: Deps, doc: dict[str, Any]) -> dict[str, Any]:
    owner = doc["owner_id"]
    return {
        "id": doc["_id"],
        "owner_id": owner,
        "title": deps.vault.open(owner, "title", doc["title"]),
        "body": deps.vault.open(owner, "body", doc["body"]),
        "status": doc["status"],
        "reason": deps.vault.open(owner, "reason", doc.get("reason")),
        "version": doc["version"],
        "created_at": utc(doc["created_at"]),
        "updated_at": utc(doc["updated_at"]),
    }


def create(deps: Deps, principal: Principal, title: Any, body: Any, ctx: Context) -> dict[str, Any]:
    if not principal.can(Permission.APPLICATION_CREATE):
        raise Forbidden()
    fields = check_text(title, body, partial=False)
    app_id = uuid.uuid4().hex
    owner = principal.user_id
    data = {"subject": owner, **{k: deps.vault.seal(owner, k, v) for k, v in fields.items()}}
    deps.commit([StreamAppend(stream_id("application", app_id), 0, (NewEvent(T.APPLICATION_CREATED, data),))], ctx)
    return get(deps, principal, app_id)


def get(deps: Deps, principal: Principal, app_id: str) -> dict[str, Any]:
    return view(deps, _load(deps, principal, app_id))


def list_page(
    deps: Deps, principal: Principal, *, status: str | None, owner_id: str | None, limit: int, before: int | None
) -> Page:
    query: dict[str, Any] = {}
    if status is not None:
        if status not in {s.value for s in Status}:
            raise ValidationFailed("Unknown status.", errors=[{"field": "status", "code": "invalid"}])
        query["status"] = status
    if not principal.can(Permission.APPLICATION_READ_ALL):
        # Applicants only ever see their own, whatever owner_id they ask for.
        if owner_id is not None and owner_id != principal.user_id:
            return Page([], None)
        owner_id = principal.user_id
    if owner_id is not None:
        query["owner_id"] = str(owner_id)
    if before is not None:
        query["created_position"] = {"$lt": int(before)}
    docs = list(deps.db["applications"].find(query).sort("created_position", -1).limit(limit + 1))
    more = len(docs) > limit
    docs = docs[:limit]
    cursor = encode_cursor(docs[-1]["created_position"]) if more else None
    return Page([view(deps, d) for d in docs], cursor)


def _check_if_match(doc: dict[str, Any], if_match: int | None) -> None:
    if if_match is not None and if_match != doc["version"]:
        raise VersionConflict(current=doc["version"])


def update(
    deps: Deps, principal: Principal, app_id: str, title: Any, body: Any, if_match: int | None, ctx: Context
) -> dict[str, Any]:
    fields = check_text(title, body, partial=True)
    if not fields:
        raise ValidationFailed("Nothing to change.", errors=[{"field": "title", "code": "required"}])

    def decide() -> None:
        doc = _load(deps, principal, app_id)
        if doc["owner_id"] != principal.user_id:
            raise Forbidden("Only the owner can edit an application.")
        _check_if_match(doc, if_match)
        if doc["status"] != Status.DRAFT:
            raise NotEditable()
        owner = doc["owner_id"]
        data = {"subject": owner, **{k: deps.vault.seal(owner, k, v) for k, v in fields.items()}}
        event = NewEvent(T.APPLICATION_UPDATED, data)
        deps.commit([StreamAppend(stream_id("application", app_id), doc["version"], (event,))], ctx)

    deps.retrying(decide)
    return get(deps, principal, app_id)


def change_status(
    deps: Deps, principal: Principal, app_id: str, target: Any, reason: Any, if_match: int | None, ctx: Context
) -> dict[str, Any]:
    if not isinstance(target, str):
        raise ValidationFailed("status is required.", errors=[{"field": "status", "code": "required"}])
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH):
        raise ValidationFailed(
            "reason must be text of at most 2000 characters.", errors=[{"field": "reason", "code": "length"}]
        )

    def decide() -> None:
        doc = _load(deps, principal, app_id)
        _check_if_match(doc, if_match)
        check_transition(
            doc["status"],
            target,
            is_owner=doc["owner_id"] == principal.user_id,
            is_reviewer=principal.can(Permission.APPLICATION_REVIEW),
            reason=reason,
        )
        data = {"subject": doc["owner_id"], "from": doc["status"], "to": target}
        if reason:
            # Reviewers' reasons are about the applicant: sealed with the applicant's key.
            data["reason"] = deps.vault.seal(doc["owner_id"], "reason", reason)
        event = NewEvent(T.APPLICATION_STATUS_CHANGED, data)
        deps.commit([StreamAppend(stream_id("application", app_id), doc["version"], (event,))], ctx)

    deps.retrying(decide)
    return get(deps, principal, app_id)


def history(deps: Deps, principal: Principal, app_id: str, limit: int, after: int | None) -> Page:
    _load(deps, principal, app_id)
    events = deps.store.query(EventFilter(stream=stream_id("application", app_id)), after or 0, limit + 1)
    more = len(events) > limit
    events = events[:limit]
    items = [
        {
            k: v
            for k, v in event_view(deps, e, reveal_pii=True).items()
            if k in ("position", "type", "occurred_at", "actor", "data")
        }
        for e in events
    ]
    return Page(items, encode_cursor(events[-1].position) if more else None)
