"""What an uploaded file is, decided by its bytes, and a filename safe to send back.

Only PDF, PNG and JPEG are accepted. The client's Content-Type and the file's
extension are ignored: an HTML page called ``cat.png`` and sent as ``image/png``
is still HTML. Each type needs its full signature, not a prefix that HTML or a
script could also start with.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    content_type: str
    extension: str


PDF = FileType("application/pdf", ".pdf")
PNG = FileType("image/png", ".png")
JPEG = FileType("image/jpeg", ".jpg")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The first chunk of every PNG is IHDR with a 13-byte payload (RFC 2083 §3.2, §4.1.1).
PNG_IHDR = b"\x00\x00\x00\x0dIHDR"
JPEG_SOI = b"\xff\xd8\xff"
PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")

MAX_FILENAME = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+-]+")


def sniff(head: bytes) -> FileType | None:
    """The type the bytes say they are, or None for anything else (empty files included)."""
    if head.startswith(PNG_SIGNATURE) and head[8:16] == PNG_IHDR:
        return PNG
    if head.startswith(JPEG_SOI) and len(head) > 3 and head[3] >= 0xC0:
        return JPEG  # SOI then a marker (FFDB, FFE0, FFE1, …)
    if PDF_HEADER.match(head):
        return PDF
    return None


# What browsers' content sniffers look for near the start of a file. A file whose
# first KiB holds one of these is a polyglot (e.g. a PNG header followed by a page).
MARKUP = (b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<svg", b"<object", b"<embed")
SNIFF_WINDOW = 1024


def looks_like_markup(head: bytes) -> bool:
    window = head[:SNIFF_WINDOW].lower()
    return any(marker in window for marker in MARKUP)


def safe_filename(given: str | None, kind: FileType) -> str:
    """A name that cannot escape a directory, split a header or lie about the type.

    Path parts are dropped (``../../etc/passwd`` becomes ``passwd``), control
    characters (NUL, CR, LF), quotes, backslashes and anything outside a small
    ASCII set become ``_``, leading dots go (no hidden files), and the extension
    is the one of the detected type.
    """
    # Accents are dropped (résumé -> resume); other non-ASCII becomes "_" below.
    name = unicodedata.normalize("NFKD", given or "").encode("ascii", "ignore").decode()
    name = re.split(r"[\\/]", name)[-1]
    name = _UNSAFE.sub("_", name).strip(" ._")
    stem, dot, _ = name.rpartition(".")
    if dot and stem:
        name = stem  # whatever extension was claimed, the detected type decides it
    stem = re.sub(r"_+", "_", name).strip(" ._")[: MAX_FILENAME - len(kind.extension)] or "attachment"
    return stem + kind.extension
