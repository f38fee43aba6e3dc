"""Range requests (RFC 9110 §14) for the documents guests read: one byte range, or the whole file.

Resuming a broken download and pdf.js reading a large PDF piece by piece both ask for ranges. Written here because
Litestar's responses do not answer ``Range`` and the libraries that parse it come with a web framework of their
own; one range is all browsers and pdf.js ask for. Anything else this module does not understand means "send the
whole file", which RFC 9110 allows a server to do with any ``Range`` header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ONE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$", re.ASCII)


class RangeNotSatisfiable(Exception):
    """The range starts past the end of the file (416)."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # the last byte, included

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def requested_range(range_header: str | None, if_range: str | None, *, size: int, etag: str) -> ByteRange | None:
    """The one range to send, or None for the whole file.

    None also for several ranges, a unit other than bytes, anything malformed, and an ``If-Range`` that does not
    name this file's ``etag`` (the client's earlier part was of another file). Raises :class:`RangeNotSatisfiable`
    for a range that starts at or past ``size``, or asks for the last 0 bytes.
    """
    if not range_header:
        return None
    if if_range is not None and if_range.strip() != etag:
        return None
    match = _ONE_RANGE.match(range_header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable
    end = int(last) if last else size - 1
    if end < start:
        return None  # not a valid range at all: ignored
    return ByteRange(start, min(end, size - 1))
