"""Email: always written to the ``outbox`` collection first, so sending never
blocks a request and nothing is lost. With a SendGrid key the worker delivers it;
without one it stays held locally and ``warden outbox`` lists it.

Recipient and body are sealed with the recipient subject's data key: after
erasure, held mail about the subject no longer opens either.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.deps import Deps

HELD = "held"
PENDING = "pending"


class Outbox:
    def __init__(self, deps: "Deps") -> None:
        self._deps = deps
        self._mail = deps.db["outbox"]

    def send(self, *, subject_id: str, to: str, subject: str, text: str, kind: str) -> str:
        deps = self._deps
        message_id = str(uuid.uuid4())
        self._mail.insert_one(
            {
                "_id": message_id,
                "subject_id": subject_id,
                "to": deps.vault.seal(subject_id, "to", to),
                "to_index": deps.email_index(to),
                "subject": subject,
                "text": deps.vault.seal(subject_id, "text", text),
                "kind": kind,
                "status": PENDING if deps.settings.sendgrid_api_key else HELD,
                "attempts": 0,
                "created_at": deps.clock.now(),
                "next_attempt_at": deps.clock.now(),
            }
        )
        return message_id

    def list(self, to: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if to is not None:
            query["to_index"] = self._deps.email_index(to)
        docs = self._mail.find(query).sort([("created_at", -1), ("_id", 1)]).limit(limit)
        return [self._open(doc) for doc in docs]

    def _open(self, doc: dict[str, Any]) -> dict[str, Any]:
        vault = self._deps.vault
        created: datetime = doc["created_at"]
        return {
            "to": vault.open(doc["subject_id"], "to", doc["to"]),
            "subject": doc["subject"],
            "text": vault.open(doc["subject_id"], "text", doc["text"]),
            "kind": doc["kind"],
            "status": doc["status"],
            "created_at": created,
        }
