"""Penetration checklist: file upload (attachments of applications)."""

from __future__ import annotations

import hashlib
import struct
import zlib
from typing import Any

import pytest

from events.types import EventType as T
from services.attachments import MAX_BYTES
from tests.conftest import Api
from tests.security.edge import events_of
from tests.security.test_input import assert_problem


def png(extra: bytes = b"") -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + extra
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


class Env:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.owner = api.user("owner@example.com")
        self.other = api.user("other@example.com")
        self.reviewer = api.user("reviewer@example.com", ["reviewer"])
        created = api.call("POST", "/api/applications", {"title": "With files", "body": ""}, token=self.owner)
        self.app_id = created.json["id"]
        self.path = f"/api/applications/{self.app_id}/attachments"

    def upload(
        self, content: bytes, filename: str | None = "file.pdf", ctype: str = "application/pdf", **kw: Any
    ) -> Any:
        headers = {"Content-Type": ctype, **({"X-Filename": filename} if filename is not None else {})}
        token = kw.pop("token", self.owner)
        return self.api.call("POST", kw.pop("path", self.path), content, token=token, headers=headers, **kw)


@pytest.fixture
def env(api: Api) -> Env:
    return Env(api)


def refused(env: Env, status: int, code: str, content: bytes, **kw: Any) -> None:
    before = env.api.db_snapshot()
    assert_problem(env.upload(content, **kw), status, code)
    assert env.api.db_snapshot() == before


@pytest.mark.parametrize(
    ("content", "ctype", "name", "expected_type", "expected_name"),
    [
        (PDF, "application/pdf", "report.pdf", "application/pdf", "report.pdf"),
        (png(), "image/png", "pixel.png", "image/png", "pixel.png"),
        (JPEG, "image/jpeg", "photo.jpeg", "image/jpeg", "photo.jpg"),
        (png(), "application/pdf", "pixel.pdf", "image/png", "pixel.png"),  # a PNG renamed .pdf
        (PDF, "image/png", "doc.png", "application/pdf", "doc.pdf"),
    ],
)
def test_type_comes_from_the_bytes_and_round_trips(
    env: Env, content: bytes, ctype: str, name: str, expected_type: str, expected_name: str
) -> None:
    result = env.upload(content, name, ctype)
    assert result.status_code == 201, result.text
    meta = result.json
    assert meta["content_type"] == expected_type and meta["filename"] == expected_name
    assert meta["size"] == len(content) and meta["sha256"] == hashlib.sha256(content).hexdigest()
    fetched = env.api.call("GET", f"{env.path}/{meta['id']}", token=env.owner)
    assert fetched.status_code == 200
    assert fetched.content == content
    assert fetched.headers["Content-Type"] == expected_type
    assert fetched.headers["Content-Disposition"] == f'attachment; filename="{expected_name}"'
    assert fetched.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in fetched.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("content", "ctype"),
    [
        (HTML, "image/png"),  # HTML labelled as an image
        (b"", "application/pdf"),  # empty
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),  # a signature and nothing after it
        (b"%PDX-1.4", "application/pdf"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "image/svg+xml"),
        (HTML + png(), "image/png"),  # an HTML page with a PNG appended
        (png(b"<html><script>alert(1)</script>"), "image/png"),  # polyglot: valid PNG head, markup inside
        (b"%PDF-1.4\n<html><body><script>alert(1)</script>", "application/pdf"),  # polyglot PDF/HTML
    ],
    ids=[
        "html-as-png",
        "empty",
        "gif",
        "bare-png-signature",
        "near-pdf",
        "svg",
        "html-then-png",
        "png-html",
        "pdf-html",
    ],
)
def test_anything_but_pdf_png_jpeg_by_content_is_415(env: Env, content: bytes, ctype: str) -> None:
    refused(env, 415, "unsupported_media_type", content, ctype=ctype)


def test_five_mebibytes_pass_and_one_byte_more_is_413(env: Env) -> None:
    exact = PDF + b"0" * (MAX_BYTES - len(PDF))
    assert env.upload(exact).status_code == 201
    refused(env, 413, "payload_too_large", exact + b"0")


def test_oversized_declared_length_is_refused_before_reading(env: Env) -> None:
    before = env.api.db_snapshot()
    result = env.api.client.simulate_post(
        env.path,
        body=PDF,
        headers={
            "Authorization": f"Bearer {env.owner}",
            "Content-Length": str(MAX_BYTES + 1),
            "Content-Type": "application/pdf",
        },
    )
    assert_problem(result, 413, "payload_too_large")
    assert env.api.db_snapshot() == before


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../../etc/passwd", "passwd.pdf"),
        ("..\\..\\windows\\win.ini", "win.pdf"),
        ("evil\x00.png", "evil.pdf"),
        ("a\r\nSet-Cookie: x=1.pdf", "a_Set-Cookie_ x_1.pdf"),
        ('"quoted"; filename=other.html', "quoted_ filename_other.pdf"),
        (".htaccess", "htaccess.pdf"),
        ("résumé.pdf", "resume.pdf"),
        ("", "attachment.pdf"),
        (None, "attachment.pdf"),
    ],
)
def test_filenames_are_sanitized(env: Env, given: str | None, expected: str) -> None:
    result = env.upload(PDF, given)
    assert result.status_code == 201, result.text
    assert result.json["filename"] == expected
    fetched = env.api.call("GET", f"{env.path}/{result.json['id']}", token=env.owner)
    disposition = fetched.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="{expected}"'
    assert not any(ch in disposition for ch in "\r\n\x00/\\")


def test_bytes_are_sealed_at_rest_and_not_in_the_event(env: Env) -> None:
    secret = PDF + b"TOP-SECRET-MARKER"
    meta = env.upload(secret, "secret.pdf").json
    stored = env.api.deps.db["attachments"].find_one({"_id": meta["id"]})
    assert b"TOP-SECRET-MARKER" not in bytes(stored["data"]) and b"%PDF" not in bytes(stored["data"])
    assert "secret" not in stored["filename"]
    (event,) = events_of(env.api, T.APPLICATION_ATTACHMENT_ADDED)
    assert event.data["attachment_id"] == meta["id"] and event.data["sha256"] == meta["sha256"]
    assert event.data["size"] == len(secret) and event.data["content_type"] == "application/pdf"
    assert "TOP-SECRET" not in repr(event.data) and "secret.pdf" not in repr(event.data)


def test_who_may_upload_and_download(env: Env) -> None:
    meta = env.upload(PDF).json
    item = f"{env.path}/{meta['id']}"
    # Another applicant: the application does not exist for them.
    refused(env, 404, "not_found", PDF, token=env.other)
    assert_problem(env.api.call("GET", item, token=env.other), 404, "not_found")
    assert_problem(env.api.call("GET", env.path, token=env.other), 404, "not_found")
    # A reviewer may read it but not add to someone else's application.
    assert env.api.call("GET", item, token=env.reviewer).content == PDF
    refused(env, 403, "forbidden", PDF, token=env.reviewer)
    # Unknown attachment ids and ids from another application are 404.
    assert_problem(env.api.call("GET", f"{env.path}/nope", token=env.owner), 404, "not_found")
    other_app = env.api.call("POST", "/api/applications", {"title": "B"}, token=env.owner).json["id"]
    cross = f"/api/applications/{other_app}/attachments/{meta['id']}"
    assert_problem(env.api.call("GET", cross, token=env.owner), 404, "not_found")
    listed = env.api.call("GET", env.path, token=env.owner).json["items"]
    assert [a["id"] for a in listed] == [meta["id"]]
    assert_problem(env.api.call("GET", item), 401, "unauthenticated")


def test_only_draft_and_submitted_take_uploads(env: Env) -> None:
    status = f"/api/applications/{env.app_id}/status"
    assert env.api.call("POST", status, {"status": "submitted"}, token=env.owner).status_code == 200
    assert env.upload(PDF).status_code == 201
    assert env.api.call("POST", status, {"status": "withdrawn"}, token=env.owner).status_code == 200
    refused(env, 409, "not_editable", PDF)
