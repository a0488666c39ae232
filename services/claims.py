"""Who holds an email address: the claim stream ``email-<blind index>``.

The stream holds ``email.claimed`` and ``email.released`` (erasure), interleaved
with other events about the address (``auth.registration_duplicate``). The holder
is decided by the last claim or release, never by the last event of any type.
"""

from __future__ import annotations

from collections.abc import Sequence

from events.model import RecordedEvent
from events.types import EventType as T


def claim_holder(claims: Sequence[RecordedEvent]) -> str | None:
    """The subject currently holding the address, or None when it is free."""
    for event in reversed(claims):
        if event.type == T.EMAIL_CLAIMED:
            return str(event.data["subject"])
        if event.type == T.EMAIL_RELEASED:
            return None
    return None
