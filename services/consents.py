"""Consent per purpose: grant and withdraw as events, current state from the ``consents`` view.

Purposes come from configuration (``CONSENT_PURPOSES``); a purpose the subject never
answered reads as not granted (consent is never presumed, GDPR Art. 7).
"""

from __future__ import annotations

from typing import Any

from core.clock import utc
from core.errors import NotFound
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from services.deps import Deps


def current(deps: Deps, subject_id: str) -> list[dict[str, Any]]:
    doc = deps.db["consents"].find_one({"_id": subject_id}) or {}
    given = doc.get("purposes", {})
    items = []
    for purpose in deps.settings.consent_purposes:
        entry = given.get(purpose)
        items.append(
            {
                "purpose": purpose,
                "granted": bool(entry and entry["granted"]),
                "updated_at": utc(entry["updated_at"]) if entry else None,
            }
        )
    return items


def set_consent(deps: Deps, subject_id: str, purpose: str, granted: bool, ctx: Context) -> dict[str, Any]:
    # Only configured purposes exist; the name also becomes a document key, so this
    # check is what keeps client input out of MongoDB field paths.
    if purpose not in deps.settings.consent_purposes:
        raise NotFound("No such consent purpose.")

    def decide() -> None:
        doc = deps.db["consents"].find_one({"_id": subject_id}) or {}
        entry = doc.get("purposes", {}).get(purpose)
        if entry is not None and entry["granted"] == granted:
            return  # PUT is idempotent: answering the same again records nothing new
        kind = T.CONSENT_GRANTED if granted else T.CONSENT_WITHDRAWN
        event = NewEvent(kind, {"subject": subject_id, "purpose": purpose})
        deps.commit([StreamAppend(stream_id("consent", subject_id), doc.get("version", 0), (event,))], ctx)

    deps.retrying(decide)
    return next(item for item in current(deps, subject_id) if item["purpose"] == purpose)
