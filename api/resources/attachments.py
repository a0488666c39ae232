"""/api/applications/{app_id}/attachments: raw uploads and attachment downloads."""

from __future__ import annotations

import falcon

from api.resources.base import Resource, send
from core.errors import FileTooLarge
from core.permissions import Permission
from services import attachments

MAX_FILENAME_HEADER = 255


def read_file(req: falcon.Request) -> bytes:
    """The body, read at most MAX_BYTES + 1 so an oversized upload is refused, never buffered."""
    limit = attachments.MAX_BYTES
    if req.content_length is not None and req.content_length > limit:
        raise FileTooLarge(f"Attachments are at most {limit} bytes (5 MiB).")
    content = req.bounded_stream.read(limit + 1)
    if len(content) > limit:
        raise FileTooLarge(f"Attachments are at most {limit} bytes (5 MiB).")
    return content


class Collection(Resource):
    """Upload an attachment (raw body; type detected from the bytes) or list them."""

    policy = {"GET": Permission.APPLICATION_READ_OWN, "POST": Permission.APPLICATION_CREATE}
    # OpenAPI (api/openapi.py): a raw file body, not JSON.
    consumes = {"POST": ("application/pdf", "image/png", "image/jpeg", "application/octet-stream")}

    def on_get(self, req: falcon.Request, resp: falcon.Response, app_id: str) -> None:
        send(resp, {"items": attachments.list_for(self.deps, req.context.principal, app_id), "next_cursor": None})

    def on_post(self, req: falcon.Request, resp: falcon.Response, app_id: str) -> None:
        content = read_file(req)
        filename = (req.get_header("X-Filename") or "")[:MAX_FILENAME_HEADER]
        meta = attachments.upload(self.deps, req.context.principal, app_id, content, filename, req.context.warden)
        resp.set_header("Location", f"/api/applications/{app_id}/attachments/{meta['id']}")
        send(resp, meta, 201)


class Item(Resource):
    """Download an attachment: always as a download, with the detected type."""

    policy = {"GET": Permission.APPLICATION_READ_OWN}
    produces = {"GET": ("application/pdf", "image/png", "image/jpeg")}

    def on_get(self, req: falcon.Request, resp: falcon.Response, app_id: str, attachment_id: str) -> None:
        found = attachments.download(self.deps, req.context.principal, app_id, attachment_id)
        resp.content_type = found.content_type
        # attachment: never rendered inline; the name was sanitized at upload (no quotes, CR, LF).
        resp.set_header("Content-Disposition", f'attachment; filename="{found.filename}"')
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.data = found.content
