"""The signing service's PDF engine: checks uploads, stamps field values, seals with PAdES, writes the audit
certificate and validates seals. Pure and synchronous: bytes in, bytes out, no I/O of its own; the caller runs the
heavy calls in a worker thread. See docs/signing-pdf.md."""

from loginless.signing.pdf.anchors import Anchor, find_anchors
from loginless.signing.pdf.certificate import (
    AuditTrail,
    TrailDocument,
    TrailEvent,
    TrailRecipient,
    audit_certificate,
)
from loginless.signing.pdf.credentials import SealCredentials
from loginless.signing.pdf.devca import DevelopmentCa, development_ca
from loginless.signing.pdf.errors import (
    HostilePdf,
    HostileReason,
    InvalidSealCredentials,
    InvalidStamp,
    SealingUnavailable,
)
from loginless.signing.pdf.inspection import PageBox, PdfFacts, inspect_pdf
from loginless.signing.pdf.sealing import ValidationSources, seal_pdf
from loginless.signing.pdf.stamping import FieldKind, StampedField, stamp_fields
from loginless.signing.pdf.validation import PadesLevel, SealReport, SignatureCheck, validate_sealed

__all__ = [
    "Anchor", "AuditTrail", "DevelopmentCa", "FieldKind", "HostilePdf", "HostileReason", "InvalidSealCredentials",
    "InvalidStamp", "PadesLevel", "PageBox", "PdfFacts", "SealCredentials", "SealReport", "SealingUnavailable",
    "SignatureCheck", "StampedField", "TrailDocument", "TrailEvent", "TrailRecipient", "ValidationSources",
    "audit_certificate", "development_ca", "find_anchors", "inspect_pdf", "seal_pdf", "stamp_fields",
    "validate_sealed",
]
