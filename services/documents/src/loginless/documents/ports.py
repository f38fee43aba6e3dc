"""What the documents service needs from outside itself besides the links service (``loginless.links.client``):
:class:`Scanner` looks at a finished upload before it becomes visible; an antivirus adapter plugs in here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

# ---- scanning -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanVerdict:
    clean: bool
    reason: str = ""


ObjectReader = Callable[[], AsyncIterator[bytes]]


class Scanner(Protocol):
    """Runs after the object is complete and verified, before FileUploaded. ``read`` streams the object as
    stored; a scanner that needs no bytes (the default) never calls it."""

    async def scan(self, *, content_type: str, size: int, read: ObjectReader) -> ScanVerdict: ...


class PassThroughScanner:
    """The default: every file is clean. Replace with an antivirus adapter (e.g. clamd's INSTREAM)."""

    async def scan(self, *, content_type: str, size: int, read: ObjectReader) -> ScanVerdict:
        return ScanVerdict(clean=True)
