"""Events as frozen dataclasses: what a command asks to append and what the store recorded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SYSTEM = "system"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Context:
    """Who asked, from where, in which request: stamped on every event a request causes."""

    actor: str = SYSTEM
    ip: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class NewEvent:
    type: str
    data: dict[str, Any]
    schema: int = 1
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class StreamAppend:
    """Events for one stream, appended only if the stream is at ``expected_version``."""

    stream: str
    expected_version: int
    events: tuple[NewEvent, ...]


@dataclass(frozen=True)
class RecordedEvent:
    event_id: str
    stream: str
    version: int
    position: int
    type: str
    schema: int
    occurred_at: datetime
    actor: str
    ip: str | None
    request_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def content(self) -> dict[str, Any]:
        """The fields the hash covers (everything but the hashes themselves)."""
        return {
            "event_id": self.event_id,
            "stream": self.stream,
            "version": self.version,
            "position": self.position,
            "type": self.type,
            "schema": self.schema,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "ip": self.ip,
            "request_id": self.request_id,
            "data": self.data,
        }


def stream_id(kind: str, entity_id: str) -> str:
    return f"{kind}-{entity_id}"


def entity_of(stream: str) -> str:
    return stream.split("-", 1)[1]
