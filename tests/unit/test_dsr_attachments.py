"""Attachments in the GDPR flows: listed in the export, their bytes gone after erasure."""

from __future__ import annotations

import zlib

from tests.conftest import Api

PASSWORD = "correct horse battery staple"
EMAIL = "ada@example.com"


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b"")


def test_export_lists_attachment_metadata_and_erasure_deletes_the_bytes(api: Api) -> None:
    token = api.user(EMAIL)
    app = api.call("POST", "/api/applications", {"title": "With a scan", "body": ""}, token=token).json
    uploaded = api.call(
        "POST",
        f"/api/applications/{app['id']}/attachments",
        tiny_png(),
        token=token,
        content_type="image/png",
        headers={"Content-Type": "image/png", "X-Filename": "passport-scan.png"},
    )
    assert uploaded.status_code == 201, uploaded.text
    export = api.call("GET", "/api/dsr/export", token=token).json
    (listed,) = export["applications"][0]["attachments"]
    assert {k: listed[k] for k in uploaded.json} == uploaded.json
    assert listed["filename"] == "passport-scan.png"

    erased = api.call("POST", "/api/dsr/delete", {"password": PASSWORD, "confirm": "DELETE"}, token=token)
    assert erased.status_code == 202, erased.text
    assert api.deps.db["attachments"].count_documents({}) == 0
