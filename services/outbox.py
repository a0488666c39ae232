"""Email: always written to the ``outbox`` collection first, so sending never
blocks a request and nothing is lost. With a SendGrid key the worker delivers it;
without one it stays held locally and ``warden outbox`` lists it.

Recipient and body are sealed with the recipient subject's data key: after
erasure, held mail about the subject no longer opens either.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from events.keys import ERASED

if TYPE_CHECKING:
    from services.deps import Deps

logger = logging.getLogger(__name__)

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


# --- delivery (run by the worker) ---------------------------------------------------

SENDING = "sending"
SENT = "sent"
DEAD = "dead"
MAX_ATTEMPTS = 8
SEND_LEASE_SECONDS = 120


class Sender(Protocol):
    def send(self, to: str, subject: str, text: str) -> None: ...


class SendGridSender:
    def __init__(self, api_key: str, from_email: str, host: str | None = None) -> None:
        from sendgrid import SendGridAPIClient

        # ``host`` is for tests, which point the client at a local stub; production uses SendGrid's default.
        self._client = SendGridAPIClient(api_key, host=host) if host else SendGridAPIClient(api_key)
        self._from = from_email

    def send(self, to: str, subject: str, text: str) -> None:
        from sendgrid.helpers.mail import Mail

        response = self._client.send(
            Mail(from_email=self._from, to_emails=to, subject=subject, plain_text_content=text)
        )
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"SendGrid answered {response.status_code}")


def deliver_due(deps: "Deps", sender: Sender, limit: int = 100) -> dict[str, int]:
    """Send what is due; failures back off exponentially and die after MAX_ATTEMPTS.

    A message is claimed with a lease before sending, so two workers never send
    it twice and a worker killed mid-send leaves it to be retried after the lease.
    """
    mail = deps.db["outbox"]
    counts = {"sent": 0, "failed": 0, "dead": 0}
    for _ in range(limit):
        now = deps.clock.now()
        doc = mail.find_one_and_update(
            {
                "$or": [
                    {"status": PENDING, "next_attempt_at": {"$lte": now}},
                    {"status": SENDING, "lease_until": {"$lte": now}},
                ]
            },
            {"$set": {"status": SENDING, "lease_until": now + timedelta(seconds=SEND_LEASE_SECONDS)}},
            sort=[("next_attempt_at", 1)],
        )
        if doc is None:
            break
        to = deps.vault.open(doc["subject_id"], "to", doc["to"])
        text = deps.vault.open(doc["subject_id"], "text", doc["text"])
        if to is None or text is None or to == ERASED:
            mail.update_one({"_id": doc["_id"]}, {"$set": {"status": DEAD, "error": "recipient erased"}})
            counts["dead"] += 1
            continue
        try:
            sender.send(to, doc["subject"], text)
        except Exception as ex:  # any provider failure is retried later, never lost
            attempts = doc.get("attempts", 0) + 1
            status = DEAD if attempts >= MAX_ATTEMPTS else PENDING
            delay = timedelta(minutes=2 ** min(attempts, 10))
            mail.update_one(
                {"_id": doc["_id"]},
                {
                    "$set": {
                        "status": status,
                        "attempts": attempts,
                        "next_attempt_at": now + delay,
                        "error": type(ex).__name__,
                    }
                },
            )
            counts["dead" if status == DEAD else "failed"] += 1
            logger.warning("email delivery failed", extra={"fields": {"message_id": doc["_id"], "attempts": attempts}})
            continue
        mail.update_one(
            {"_id": doc["_id"]}, {"$set": {"status": SENT, "sent_at": now, "attempts": doc.get("attempts", 0) + 1}}
        )
        counts["sent"] += 1
    return counts
