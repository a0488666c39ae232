"""Attachments of applications: PDF, PNG or JPEG by content, sealed with the owner's key.

The bytes live in their own collection (never in an event: the log is kept for
years and hashed, a file is neither). The event records that a file was added:
its id, SHA-256, size and detected type, with the filename sealed like any PII.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from core.clock import utc
from core.crypto import DecryptionFailed, open_bytes, seal_bytes
from core.errors import Forbidden, NotEditable, NotFound, TooManyAttachments, UnsupportedFileType
from core.filetypes import looks_like_markup, safe_filename, sniff
from events.applications import Status
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services import applications
from services.deps import Deps
from services.principal import Principal

COLLECTION = "attachments"
MAX_BYTES = 5 * 1024 * 1024
MAX_PER_APPLICATION = 20
FIELD = "attachment"
UPLOADABLE = frozenset({Status.DRAFT, Status.SUBMITTED})


@dataclass(frozen=True)
class Download:
    content: bytes
    content_type: str
    filename: str


def ensure_indexes(deps: Deps) -> None:
    deps.db[COLLECTION].create_index([("application_id", 1), ("created_at", 1)], name="application")


def upload(
    deps: Deps, principal: Principal, app_id: str, content: bytes, filename: str | None, ctx: Context
) -> dict[str, Any]:
    doc = applications.load(deps, principal, app_id)  # 404 for anyone who may not see it
    if doc["owner_id"] != principal.user_id:
        raise Forbidden("Only the owner can add attachments.")
    kind = sniff(content[:16])
    # The client's Content-Type and extension are never consulted: only the bytes decide.
    if kind is None or looks_like_markup(content):
        raise UnsupportedFileType()
    owner = doc["owner_id"]
    attachment_id = uuid.uuid4().hex
    name = safe_filename(filename, kind)
    digest = hashlib.sha256(content).hexdigest()
    data_key = deps.keys.get(owner) or deps.keys.create(owner)
    blobs = deps.db[COLLECTION]
    blobs.insert_one(
        {
            "_id": attachment_id,
            "application_id": doc["_id"],
            "owner_id": owner,
            "content_type": kind.content_type,
            "size": len(content),
            "sha256": digest,
            "filename": deps.vault.seal(owner, "attachment_filename", name),
            "data": seal_bytes(data_key, owner, FIELD, content),
            "created_at": deps.clock.now(),
        }
    )
    event = NewEvent(
        T.APPLICATION_ATTACHMENT_ADDED,
        {
            "subject": owner,
            "attachment_id": attachment_id,
            "sha256": digest,
            "size": len(content),
            "content_type": kind.content_type,
            "filename": deps.vault.seal(owner, "attachment_filename", name),
        },
    )

    def decide() -> None:
        current = applications.load(deps, principal, app_id)
        if current["status"] not in UPLOADABLE:
            raise NotEditable("Attachments can be added to draft and submitted applications only.")
        if blobs.count_documents({"application_id": current["_id"]}) > MAX_PER_APPLICATION:
            raise TooManyAttachments()
        stream = stream_id("application", current["_id"])
        deps.commit([StreamAppend(stream, current["version"], (event,))], ctx)

    try:
        deps.retrying(decide)
    except BaseException:
        blobs.delete_one({"_id": attachment_id})  # not recorded, so not kept
        raise
    return {
        "id": attachment_id,
        "filename": name,
        "content_type": kind.content_type,
        "size": len(content),
        "sha256": digest,
    }


def _meta(deps: Deps, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "filename": deps.vault.open(doc["owner_id"], "attachment_filename", doc["filename"]),
        "content_type": doc["content_type"],
        "size": doc["size"],
        "sha256": doc["sha256"],
        "created_at": utc(doc["created_at"]),
    }


def list_for(deps: Deps, principal: Principal, app_id: str) -> list[dict[str, Any]]:
    doc = applications.load(deps, principal, app_id)
    found = deps.db[COLLECTION].find({"application_id": doc["_id"]}, {"data": 0}).sort("created_at", 1)
    return [_meta(deps, d) for d in found]


def download(deps: Deps, principal: Principal, app_id: str, attachment_id: str) -> Download:
    doc = applications.load(deps, principal, app_id)
    blob = deps.db[COLLECTION].find_one({"_id": str(attachment_id), "application_id": doc["_id"]})
    if blob is None:
        raise NotFound()
    data_key = deps.keys.get(blob["owner_id"])
    if data_key is None:
        raise NotFound()  # the owner was erased: the bytes are unreadable by design
    try:
        content = open_bytes(data_key, blob["owner_id"], FIELD, bytes(blob["data"]))
    except DecryptionFailed as ex:
        raise NotFound() from ex
    return Download(content, blob["content_type"], _meta(deps, blob)["filename"])
