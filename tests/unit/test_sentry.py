"""Sentry receives unhandled errors and failed integrity checks, and nothing sensitive.

A transport that keeps the serialized envelopes stands in for sentry.io: what it
holds is exactly what would have left the process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.falcon import FalconIntegration
from sentry_sdk.transport import Transport

from core.settings import Secret, Settings
from services.telemetry import init_sentry, integrity_failed
from tests.conftest import Api, make_settings

DSN = "https://0123456789abcdef0123456789abcdef@sentry.invalid/42"
EMAIL = "grace.hopper@example.com"
PASSWORD = "cobol-is-a-fine-language-1959"
SENDGRID_KEY = "SG.sendgrid-api-key-that-must-never-leave"


class CaptureTransport(Transport):
    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[bytes] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope.serialize())

    @property
    def blob(self) -> bytes:
        return b"\n".join(self.envelopes)


class FailingStore:
    """The real store for reads; every append fails the way a driver error would, quoting the key."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def append(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f'E11000 duplicate key error, dup key: {{ email: "{EMAIL}" }}')


@pytest.fixture
def settings() -> Settings:
    return make_settings(sentry_dsn=Secret(DSN), sendgrid_api_key=Secret(SENDGRID_KEY))


@pytest.fixture
def captured(settings: Settings) -> Iterator[CaptureTransport]:
    transport = CaptureTransport()
    assert init_sentry(settings, "web", [FalconIntegration()], transport=transport)
    client = sentry_sdk.get_client()
    assert client.should_send_default_pii() is False
    assert client.options["include_local_variables"] is False
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def test_no_dsn_no_client() -> None:
    assert init_sentry(make_settings(), "web") is False


def test_unhandled_error_reaches_sentry_without_secrets(api: Api, captured: CaptureTransport) -> None:
    api.register(EMAIL, PASSWORD)
    tokens = api.login(EMAIL, PASSWORD)
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    csrf = "csrf-value-0f3e9a7c4b"
    api.deps.store = FailingStore(api.deps.store)

    result = api.call(
        "POST",
        "/api/auth/login?token=reset-token-in-query-8d2f&email=" + EMAIL,
        {"email": EMAIL, "password": PASSWORD},
        headers={
            "Authorization": f"Bearer {access}",
            "Cookie": f"access_token={access}; refresh_token={refresh}; csrf_token={csrf}",
            "X-CSRF-Token": csrf,
            "X-Request-ID": "support-ticket-4711",
        },
    )

    assert result.status_code == 500
    assert result.json["code"] == "internal_error"
    blob = captured.blob
    # It did reach Sentry, tagged with the id the client saw...
    assert b"RuntimeError" in blob
    assert b"support-ticket-4711" in blob
    assert b"/api/auth/login" in blob
    # ...and nothing that identifies or authenticates anyone went with it.
    settings = api.deps.settings
    forbidden = [
        PASSWORD,
        EMAIL,
        EMAIL.split("@")[0],
        access,
        refresh,
        refresh.split(".")[-1],
        csrf,
        "reset-token-in-query-8d2f",
        SENDGRID_KEY,
        settings.jwt_secret_key.reveal(),
        settings.secret_key.reveal(),
        settings.encryption_key.reveal(),
    ]
    for value in forbidden:
        assert value.encode() not in blob, f"{value[:12]}... leaked to Sentry"


def test_failed_integrity_check_reaches_sentry(captured: CaptureTransport) -> None:
    integrity_failed(17, "hash mismatch: data edited", "api")
    blob = captured.blob
    assert b"integrity check failed" in blob
    assert b"hash mismatch" in blob
    assert b'"level":"error"' in blob.replace(b" ", b"")
