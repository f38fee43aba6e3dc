"""What the signing service needs from its PDF engine, as the handlers call it.

The engine (``loginless.signing.pdf``) is synchronous and CPU-bound; :class:`~loginless.signing.engine.PdfWork`
runs it in worker threads, so the event loop never waits behind a rendering or a seal. Handlers depend on this
port; unit tests give them a fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from loginless.signing.pdf import Anchor, AuditTrail, PdfFacts, SealCredentials, StampedField


@dataclass(frozen=True)
class Sealed:
    pdf: bytes
    level: str  # "B-B", or "B-LTA" with a timestamp authority


class PdfEngine(Protocol):
    async def inspect(self, data: bytes) -> PdfFacts: ...

    async def anchors(self, data: bytes, text: str) -> list[Anchor]: ...

    async def render(self, original: bytes, stamps: Sequence[StampedField]) -> bytes:
        """The original with the stamps drawn and flattened; the same inputs always give the same bytes."""
        ...

    async def seal(self, data: bytes, *, reason: str, credentials: SealCredentials | None = None) -> Sealed:
        """``data`` sealed with ``credentials`` (a tenant's own seal), else with the platform's."""
        ...

    async def certificate(self, trail: AuditTrail) -> bytes: ...
