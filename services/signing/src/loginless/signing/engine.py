"""The PDF engine behind the handlers' port: ``loginless.signing.pdf`` run in worker threads, with the seal and
the timestamp authority this deployment configured.

The seal is the platform's (``SIGNING_SEAL_PKCS12_PATH``), read once at start-up and kept in memory only. With
``SIGNING_TIMESTAMP_URL`` seals are PAdES B-LTA (validated against the seal's own chain); without it, B-B.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from loginless.shared.clock import utc_now
from loginless.signing.pdf import (
    Anchor,
    AuditTrail,
    PdfFacts,
    SealCredentials,
    StampedField,
    ValidationSources,
    audit_certificate,
    find_anchors,
    inspect_pdf,
    seal_pdf,
    stamp_fields,
)
from loginless.signing.ports import Sealed
from loginless.signing.settings import SigningSettings


class SealNotConfigured(RuntimeError):
    pass


class PdfWork:
    """:class:`~loginless.signing.ports.PdfEngine` on the real engine."""

    def __init__(self, *, max_pages: int, max_size: int, credentials: SealCredentials | None,
                 timestamp_url: str | None = None, validation: ValidationSources | None = None,
                 location: str | None = None) -> None:
        self._max_pages, self._max_size = max_pages, max_size
        self._credentials = credentials
        self._timestamp_url = timestamp_url or None
        self._validation = validation
        self._location = location or None

    @classmethod
    def from_settings(cls, settings: SigningSettings, *, need_seal: bool) -> PdfWork:
        """``need_seal``: the worker seals and refuses to start without a seal; the API only reads PDFs."""
        credentials = None
        if settings.seal_pkcs12_path:
            password = settings.seal_pkcs12_password.get_secret_value().encode() or None
            credentials = SealCredentials.from_pkcs12(Path(settings.seal_pkcs12_path).read_bytes(), password,
                                                      now=utc_now())
        elif need_seal:
            raise SealNotConfigured("SIGNING_SEAL_PKCS12_PATH is required: the worker seals signed documents")
        validation = None
        if settings.timestamp_url and credentials is not None:
            from cryptography.hazmat.primitives.serialization import Encoding

            chain = [c.public_bytes(Encoding.PEM) for c in credentials.chain]
            roots = [Path(p).read_bytes() for p in settings.trust_roots_paths] or chain
            validation = ValidationSources(trust_roots=roots, other_certificates=chain)
        return cls(max_pages=settings.max_document_pages, max_size=settings.max_document_size,
                   credentials=credentials, timestamp_url=settings.timestamp_url, validation=validation,
                   location=settings.seal_location)

    async def inspect(self, data: bytes) -> PdfFacts:
        return await asyncio.to_thread(inspect_pdf, data, max_pages=self._max_pages, max_size=self._max_size)

    async def anchors(self, data: bytes, text: str) -> list[Anchor]:
        return await asyncio.to_thread(find_anchors, data, text)

    async def render(self, original: bytes, stamps: Sequence[StampedField]) -> bytes:
        return await asyncio.to_thread(stamp_fields, original, list(stamps))

    async def seal(self, data: bytes, *, reason: str, credentials: SealCredentials | None = None) -> Sealed:
        credentials = credentials or self._credentials
        if credentials is None:
            raise SealNotConfigured("no seal is configured (SIGNING_SEAL_PKCS12_PATH)")
        validation = self._validation
        if validation is not None and credentials is not self._credentials:  # a tenant's chain, trusted as given
            from cryptography.hazmat.primitives.serialization import Encoding

            chain = [c.public_bytes(Encoding.PEM) for c in credentials.chain]
            validation = ValidationSources(trust_roots=[*validation.trust_roots, *chain], other_certificates=chain)
        sealed = await asyncio.to_thread(seal_pdf, data, credentials, reason=reason, location=self._location,
                                         timestamp_url=self._timestamp_url, validation=validation)
        return Sealed(sealed, "B-LTA" if self._timestamp_url else "B-B")

    async def certificate(self, trail: AuditTrail) -> bytes:
        return await asyncio.to_thread(audit_certificate, trail)
