"""Error reporting to Sentry, shared by the web and worker entry points.

Nothing is sent unless ``SENTRY_DSN`` is set. Every event and breadcrumb goes
through :class:`core.scrubbing.Scrubber` (passwords, tokens, cookies,
``Authorization``, e-mail addresses and our own keys), and we send less to begin
with: no default PII, no request bodies (they carry passwords, names and free
text that no key list can recognise), no local variables of stack frames.
Integrations that need a framework (Falcon) are passed in by the entry point,
so this module imports none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import sentry_sdk
from sentry_sdk.integrations import Integration
from sentry_sdk.integrations.logging import LoggingIntegration

from core.logs import current_request_id
from core.scrubbing import Scrubber
from core.settings import Settings

logger = logging.getLogger(__name__)


def secret_values(settings: Settings) -> list[str]:
    """Our own key material: masked verbatim wherever it might show up in an event."""
    values = [settings.jwt_secret_key, settings.secret_key, settings.encryption_key]
    values += [*settings.jwt_previous_secret_keys, *settings.encryption_previous_keys]
    values += [s for s in (settings.sendgrid_api_key, settings.sentry_dsn) if s]
    return [s.reveal() for s in values]


def init_sentry(
    settings: Settings,
    component: str,
    integrations: Sequence[Integration] = (),
    transport: Any = None,
) -> bool:
    """Start the Sentry client when a DSN is configured; True when it did."""
    if not settings.sentry_dsn:
        return False
    scrubber = Scrubber(secret_values(settings))

    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        # The id the client was given, so a support ticket leads to the event.
        request_id = current_request_id()
        if request_id and isinstance(event.get("tags", {}), dict):
            event.setdefault("tags", {})["request_id"] = request_id
        return scrubber.before_send(event, hint)

    sentry_sdk.init(
        dsn=settings.sentry_dsn.reveal(),
        environment=settings.app_env,
        # Privacy: send_default_pii stays at its default, off (sentry-sdk 2.7x deprecates
        # passing it; tests assert it is off), so no user, IP, cookies or auth headers;
        # no request bodies and no frame locals either.
        max_request_body_size="never",
        include_local_variables=False,
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=scrubber.before_breadcrumb,
        # Error-level log lines (5xx, failed jobs, integrity failures) become events.
        integrations=[*integrations, LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
        transport=transport,
    )
    sentry_sdk.set_tag("component", component)
    return True


def integrity_failed(position: int | None, reason: str, source: str, extra: Iterable[tuple[str, Any]] = ()) -> None:
    """A failed verification is an incident: log it at error level, which Sentry turns into an event."""
    logger.error(
        "integrity check failed",
        extra={"fields": {"position": position, "reason": reason, "source": source, **dict(extra)}},
    )
