"""Structured JSON logs on stdout: one object per line, structured fields under ``fields``.

Every line carries the id of the request being served (bound by the web
middleware in a context variable), so a line written deep in a use case can be
matched with the ``X-Request-ID`` the client saw. Lines go through the same
scrubber as Sentry events: a password, token or e-mail address that reaches a
log call by mistake is masked before it is written.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime

from core.scrubbing import Scrubber

_request_id: ContextVar[str | None] = ContextVar("warden_request_id", default=None)
_scrub = Scrubber()


def bind_request_id(request_id: str | None) -> Token[str | None]:
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    try:
        _request_id.reset(token)
    except ValueError:  # bound in another context (a different thread served the start)
        _request_id.set(None)


def current_request_id() -> str | None:
    return _request_id.get()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _scrub.text(record.getMessage()),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in _scrub(fields).items() if v is not None})
        if record.exc_info:
            entry["exception"] = _scrub.text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pymongo logs command details at debug; never let them out at info.
    logging.getLogger("pymongo").setLevel(logging.WARNING)
