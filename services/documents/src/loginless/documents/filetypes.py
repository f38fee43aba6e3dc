"""What a file is, judged by its first bytes (magic numbers), never by its name or the client's claim.

A small sniffer rather than libmagic or a PyPI package: we only need to recognise the handful of types a firm
accepts, plus everything dangerous (executables, markup that a browser would run), and to call the rest
unknown. Pure functions, no I/O.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

# How many leading bytes the sniffer needs. OOXML (docx, xlsx, pptx) names its parts within the first entries
# of the zip directory; 8 KiB covers them in files written by Office, LibreOffice and common libraries.
SNIFF_BYTES = 8192

OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class FileType:
    mime: str
    executable: bool = False  # refused everywhere, whatever an upload request allows

    @property
    def previewable(self) -> bool:
        return self.mime in INLINE_TYPES


# Shown inline in a guest's browser. Everything else -- SVG, HTML, XML, JavaScript, text and unknown types --
# is only ever sent as an attachment, so nothing we serve can run script in the gateway's origin.
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"})

# What an upload request accepts when it names nothing: documents and pictures a client would send a firm.
DEFAULT_ALLOWED_TYPES = (
    "application/pdf",
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/heic",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "application/x-ole-storage",
    "text/plain", "text/csv",
)

_OOXML = {
    b"word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    b"xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    b"ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

_EXECUTABLE_MAGIC = (
    (b"MZ", "application/vnd.microsoft.portable-executable"),
    (b"\x7fELF", "application/x-elf"),
    (b"\xfe\xed\xfa\xce", "application/x-mach-binary"),
    (b"\xfe\xed\xfa\xcf", "application/x-mach-binary"),
    (b"\xce\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\xca\xfe\xba\xbe", "application/x-mach-binary"),  # also Java classes: refused either way
    (b"#!", "text/x-script"),
)

_SIMPLE_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # legacy .doc, .xls, .ppt, .msg
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
)

_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<meta", b"<style")


def sniff(head: bytes, *, name: str = "") -> FileType:
    """The type of a file whose first bytes are ``head`` (up to :data:`SNIFF_BYTES`).

    ``name`` only refines a type the bytes already established (plain text named ``.csv`` is CSV); it never
    makes an unknown or dangerous file look harmless.
    """
    for magic, mime in _EXECUTABLE_MAGIC:
        if head.startswith(magic):
            return FileType(mime, executable=True)
    for magic, mime in _SIMPLE_MAGIC:
        if head.startswith(magic):
            return FileType(mime)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType("image/webp")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in {b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"}:
            return FileType("image/heic")
        if brand in {b"avif", b"avis"}:
            return FileType("image/avif")
        return FileType("video/mp4")
    if head.startswith(b"PK\x03\x04"):
        return FileType(_zip_type(head))
    return _text_type(head, name)


def _zip_type(head: bytes) -> str:
    # OpenDocument stores its MIME type uncompressed as the first entry, named "mimetype".
    if head[30:38] == b"mimetype":
        declared = head[38:120].split(b"PK", 1)[0]
        if declared.startswith(b"application/vnd.oasis.opendocument.text"):
            return "application/vnd.oasis.opendocument.text"
        if declared.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
            return "application/vnd.oasis.opendocument.spreadsheet"
    if b"[Content_Types].xml" in head:
        for folder, mime in _OOXML.items():
            if folder in head:
                return mime
    return "application/zip"


def _text_type(head: bytes, name: str) -> FileType:
    if not head or b"\x00" in head or not _is_utf8(head):
        return FileType(OCTET_STREAM)
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in head.decode("utf-8", "ignore")):
        return FileType(OCTET_STREAM)
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in lowered:
        return FileType("image/svg+xml")
    if any(marker in lowered for marker in _HTML_MARKERS):
        return FileType("text/html")
    if lowered.startswith(b"<?xml"):
        return FileType("application/xml")
    if name.lower().endswith(".csv"):
        return FileType("text/csv")
    return FileType("text/plain")


def _is_utf8(data: bytes) -> bool:
    # An incremental decoder accepts a multi-byte character cut off at the end of the sample.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def type_allowed(mime: str, allowed: tuple[str, ...] | list[str]) -> bool:
    """Whether ``mime`` matches one of ``allowed`` (exact types or ``image/*``-style families)."""
    family = mime.split("/", 1)[0] + "/*"
    return mime in allowed or family in allowed
