"""Checks a sealed PDF with pyHanko's validator: each signature and document timestamp intact, valid and trusted,
the last one covering the whole file, and which PAdES level the document reaches.

Validation uses only what the file carries (its DSS) and the roots given: nothing is fetched, so a report is the
same on any machine and needs no network.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from loginless.signing.pdf.errors import HostilePdf

PadesLevel = Literal["B-B", "B-T", "B-LT", "B-LTA"]


@dataclass(frozen=True)
class SignatureCheck:
    field_name: str
    kind: Literal["signature", "document-timestamp"]
    signer: str  # the certificate's subject
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the cryptographic signature is correct
    trusted: bool  # the certificate chains to a given root
    covers_entire_file: bool  # nothing was appended after it
    changes_after_allowed: bool  # what was appended after it (if anything) is validation data and timestamps only
    timestamped_at: datetime | None  # the time a TSA vouched for, when there is one


@dataclass(frozen=True)
class SealReport:
    signatures: tuple[SignatureCheck, ...]
    pades_level: PadesLevel | None  # None: no PAdES signature

    @property
    def ok(self) -> bool:
        """Every signature good, and the last one over the whole file: the document is as sealed."""
        return (bool(self.signatures)
                and all(c.intact and c.valid and c.trusted and c.changes_after_allowed for c in self.signatures)
                and self.signatures[-1].covers_entire_file)


def validate_sealed(data: bytes, trust_roots: Sequence[bytes]) -> SealReport:
    """What pyHanko says of every signature in ``data``, trusting only ``trust_roots`` (PEM or DER certificates)."""
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
    from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
    from pyhanko_certvalidator import ValidationContext

    from loginless.signing.pdf.sealing import asn1_certificate

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = list(reader.embedded_signatures)
    except (PdfReadError, ValueError) as error:
        raise HostilePdf("malformed", f"the PDF cannot be read: {error}") from None
    settings = {"trust_roots": [asn1_certificate(root) for root in trust_roots], "allow_fetching": False,
                "revocation_mode": "soft-fail"}
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        dss = None

    def context() -> ValidationContext:  # one per signature: a context remembers what it validated
        return dss.as_validation_context(settings) if dss is not None else ValidationContext(**settings)

    checks = []
    for signature in signatures:
        is_timestamp = signature.sig_object_type == "/DocTimeStamp"
        status = (validate_pdf_timestamp(signature, validation_context=context()) if is_timestamp
                  else validate_pdf_signature(signature, context(), context()))
        checks.append(_check(signature, status, is_timestamp))
    return SealReport(signatures=tuple(checks), pades_level=_pades_level(signatures, checks, dss is not None))


def _check(signature, status, is_timestamp: bool) -> SignatureCheck:  # noqa: ANN001
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    timestamp = status.timestamp_validity if not is_timestamp else status
    modification = status.modification_level
    return SignatureCheck(
        field_name=signature.field_name, kind="document-timestamp" if is_timestamp else "signature",
        signer=status.signing_cert.subject.human_friendly, intact=status.intact, valid=status.valid,
        trusted=status.trusted, covers_entire_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        changes_after_allowed=status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
            status.coverage == SignatureCoverageLevel.ENTIRE_REVISION and modification is not None
            and modification <= ModificationLevel.LTA_UPDATES),
        timestamped_at=getattr(timestamp, "timestamp", None) if timestamp is not None else None)


def _pades_level(signatures: list, checks: list[SignatureCheck], has_dss: bool) -> PadesLevel | None:
    """The level of the last PAdES signature: a document timestamp after it makes B-LTA, validation data B-LT,
    a signature timestamp B-T."""
    regular = [i for i, s in enumerate(signatures)
               if checks[i].kind == "signature" and s.sig_object.get("/SubFilter") == "/ETSI.CAdES.detached"]
    if not regular:
        return None
    last = regular[-1]
    if any(check.kind == "document-timestamp" for check in checks[last + 1:]) and has_dss:
        return "B-LTA"
    if has_dss:
        return "B-LT"
    return "B-T" if checks[last].timestamped_at is not None else "B-B"
