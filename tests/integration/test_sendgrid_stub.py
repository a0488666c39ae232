"""The SendGrid path against a local HTTP stub that records what it is sent.

The real sendgrid client talks HTTP to a server on 127.0.0.1 that answers like
SendGrid's v3 mail/send (202) or fails (503) on demand. Requests only enqueue;
the delivery job sends; a failing SendGrid loses nothing: the message backs off
and is delivered once the stub recovers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import mongomock
import pytest

from core.clock import FixedClock
from core.settings import Secret
from events.memory import InMemoryEventStore
from services.deps import Deps
from services.outbox import SendGridSender, deliver_due
from tests.conftest import Api, make_settings

API_KEY = "SG.test-key-for-the-stub"
FROM = "warden@example.org"


class Stub:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with stub.lock:
                    failing = stub.fail_next > 0
                    stub.fail_next -= 1 if failing else 0
                    stub.requests.append(
                        {
                            "path": self.path,
                            "authorization": self.headers.get("Authorization"),
                            "content_type": self.headers.get("Content-Type"),
                            "body": json.loads(body),
                            "answered": 503 if failing else 202,
                        }
                    )
                self.send_response(503 if failing else 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["answered"] == 202]


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join(timeout=5)


@pytest.fixture
def mail_api(clock: FixedClock) -> Api:
    settings = make_settings(sendgrid_api_key=Secret(API_KEY), sendgrid_from_email=FROM)
    built = Deps.build(settings, mongomock.MongoClient(tz_aware=True)["sg"], InMemoryEventStore(clock), clock)
    built.ensure_schema()
    return Api(built)


def sender(stub: Stub) -> SendGridSender:
    return SendGridSender(API_KEY, FROM, host=stub.url)


def register(api: Api, email: str) -> None:
    body = {"email": email, "password": "correct horse battery staple", "full_name": "Mail Person"}
    assert api.call("POST", "/api/auth/register", body).status_code == 202


def statuses(api: Api) -> list[str]:
    return [doc["status"] for doc in api.deps.db["outbox"].find({})]


def test_a_request_only_enqueues(mail_api: Api, stub: Stub) -> None:
    register(mail_api, "ada@example.com")
    assert statuses(mail_api) == ["pending"]
    assert stub.requests == []


def test_delivery_posts_the_message_to_sendgrid(mail_api: Api, stub: Stub) -> None:
    register(mail_api, "ada@example.com")
    assert deliver_due(mail_api.deps, sender(stub)) == {"sent": 1, "failed": 0, "dead": 0}
    [request] = stub.requests
    assert request["path"] == "/v3/mail/send"
    assert request["authorization"] == f"Bearer {API_KEY}"
    assert request["content_type"].startswith("application/json")
    body = request["body"]
    assert body["from"]["email"] == FROM
    assert body["personalizations"][0]["to"] == [{"email": "ada@example.com"}]
    assert body["subject"] == "Verify your email address"
    [content] = body["content"]
    assert content["type"] == "text/plain"
    assert "https://warden.test/verify-email?token=" in content["value"]
    assert statuses(mail_api) == ["sent"]
    # Sent once: a second run finds nothing due.
    assert deliver_due(mail_api.deps, sender(stub)) == {"sent": 0, "failed": 0, "dead": 0}
    assert len(stub.requests) == 1


def test_a_failing_sendgrid_loses_nothing(mail_api: Api, stub: Stub, clock: FixedClock) -> None:
    register(mail_api, "ada@example.com")
    register(mail_api, "bob@example.com")
    stub.fail_next = 3  # both fail on the first run, one more on the second
    assert deliver_due(mail_api.deps, sender(stub)) == {"sent": 0, "failed": 2, "dead": 0}
    assert statuses(mail_api) == ["pending", "pending"]
    # Backing off: nothing is due until the first retry delay has passed.
    assert deliver_due(mail_api.deps, sender(stub))["failed"] == 0
    assert len(stub.requests) == 2
    clock.advance(minutes=2)
    assert deliver_due(mail_api.deps, sender(stub)) == {"sent": 1, "failed": 1, "dead": 0}
    retried = mail_api.deps.db["outbox"].find_one({"status": "pending"})
    assert retried is not None and retried["attempts"] == 2
    assert retried["next_attempt_at"] == clock.now() + timedelta(minutes=4)  # doubled
    clock.advance(minutes=4)
    assert deliver_due(mail_api.deps, sender(stub)) == {"sent": 1, "failed": 0, "dead": 0}
    assert statuses(mail_api) == ["sent", "sent"]
    delivered = sorted(r["body"]["personalizations"][0]["to"][0]["email"] for r in stub.accepted())
    assert delivered == ["ada@example.com", "bob@example.com"]
    # Each retry sent the same message.
    ada = [r["body"] for r in stub.requests if r["body"]["personalizations"][0]["to"][0]["email"] == "ada@example.com"]
    assert all(body == ada[0] for body in ada)


def test_reset_mail_goes_through_sendgrid(mail_api: Api, stub: Stub) -> None:
    register(mail_api, "ada@example.com")
    token = mail_api.outbox_token("ada@example.com")
    assert mail_api.call("POST", "/api/auth/verify-email", {"token": token}).status_code == 204
    assert mail_api.call("POST", "/api/auth/password-reset/request", {"email": "ada@example.com"}).status_code == 202
    deliver_due(mail_api.deps, sender(stub))
    subjects = sorted(r["body"]["subject"] for r in stub.accepted())
    assert subjects == ["Reset your Warden password", "Verify your email address"]
