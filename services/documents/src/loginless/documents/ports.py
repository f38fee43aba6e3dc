"""What the documents service needs from outside itself besides the links service (``loginless.links.client``):
:class:`Scanner` looks at a finished upload before it becomes visible (``antivirus.ClamdScanner`` in production).
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
    engine: str = ""  # what judged it: "ClamAV 1.4.6/27000/…" (engine and signature database), or "none"
    signature: str | None = None  # what was found, when not clean


ObjectReader = Callable[[], AsyncIterator[bytes]]


class Scanner(Protocol):
    """Runs after the object is complete and verified, before FileUploaded. ``read`` streams the object as
    stored; a scanner that needs no bytes (pass-through) never calls it. A scanner that cannot judge the file
    (its daemon down) raises ``DependencyUnavailable``: the file is then never released."""

    async def scan(self, *, content_type: str, size: int, read: ObjectReader) -> ScanVerdict: ...

    async def check_ready(self) -> None:
        """Raise ``DependencyUnavailable`` while files cannot be scanned (checked before an upload starts)."""
        ...


class PassThroughScanner:
    """Every file is clean: for development without an antivirus (``DOCUMENTS_SCANNER=none``) and unit tests."""

    engine = "none"

    async def scan(self, *, content_type: str, size: int, read: ObjectReader) -> ScanVerdict:
        return ScanVerdict(clean=True, engine=self.engine)

    async def check_ready(self) -> None:
        return None
