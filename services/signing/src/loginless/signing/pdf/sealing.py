"""The seal: a PAdES signature by the firm's certificate over the whole file, made with pyHanko.

- **B-B** when no timestamp authority is configured: the signature alone (its time is the signer's claim).
- **B-LTA** when one is: the signature carries a timestamp token (B-T); the certificates, CRLs and OCSP responses
  that prove the seal's and the timestamp's certificates were good then are stored in the document's DSS (B-LT);
  a document timestamp then covers all of it (B-LTA), so the proof outlives the certificates. pyHanko validates both
  certificate chains before signing, which is how it gathers that validation data.

A timestamp authority or revocation source that does not answer raises :class:`SealingUnavailable`: the caller
retries later. A seal that cannot be trusted (revoked, or not issued under the roots given) is an
:class:`InvalidSealCredentials`: retrying will not help.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from loginless.signing.pdf.credentials import SealCredentials
from loginless.signing.pdf.errors import HostilePdf, InvalidSealCredentials, SealingUnavailable

SEAL_FIELD = "Seal"
ARCHIVE_TIMESTAMP_FIELD = "ArchiveTimestamp"
DIGEST = "sha256"


@dataclass(frozen=True)
class ValidationSources:
    """What B-LTA sealing validates against: roots of trust for the seal's and the timestamp authority's chains
    (PEM or DER), and intermediate certificates a chain needs that no server publishes. CRLs and OCSP responses are
    fetched from the URLs in the certificates."""

    trust_roots: Sequence[bytes]
    other_certificates: Sequence[bytes] = ()
    timeout_seconds: float = 10.0


def seal_pdf(data: bytes, credentials: SealCredentials, *, reason: str, location: str | None = None,
             timestamp_url: str | None = None, validation: ValidationSources | None = None) -> bytes:
    """``data`` sealed: B-B without ``timestamp_url``, B-LTA with it (then ``validation`` is required)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.sign import fields, signers
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    long_term = timestamp_url is not None
    if long_term and validation is None:
        raise ValueError("B-LTA sealing needs ValidationSources: the roots of the seal's and the TSA's chains")
    metadata = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD, reason=reason, location=location, md_algorithm=DIGEST,
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=long_term, use_pades_lta=long_term,
        timestamp_field_name=ARCHIVE_TIMESTAMP_FIELD if long_term else None,
        validation_context=_validation_context(validation) if long_term else None,
        dss_settings=_dss_before_archive_timestamp(),
        signer_key_usage=_key_usages(credentials.certificate))
    timestamper = HTTPTimeStamper(timestamp_url, timeout=validation.timeout_seconds) if long_term else None
    pdf_signer = signers.PdfSigner(metadata, signer=credentials.pyhanko_signer, timestamper=timestamper)
    out = io.BytesIO()
    try:
        # lenient reading: what is sealed is our own output (qpdf's or reportlab's), and a quirk pyHanko's strict
        # mode objects to must not block an envelope that signers have completed
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        pdf_signer.sign_pdf(writer, output=out)
    except PdfReadError as error:
        raise HostilePdf("malformed", f"the PDF cannot be sealed: {_cause(error)}") from error
    except TimestampRequestError as error:
        raise SealingUnavailable(f"the timestamp authority did not answer: {_cause(error)}") from error
    except SigningError as error:
        raise _seal_refusal(error) from error
    except OSError as error:  # the HTTP clients' connection and timeout errors are all OSErrors
        raise SealingUnavailable(f"a validation source did not answer: {_cause(error)}") from error
    return out.getvalue()


def _dss_before_archive_timestamp():  # noqa: ANN202
    """All validation data (the seal's and the timestamp authority's) goes into the revision of the document
    timestamp, written before it, so the timestamp is the file's last revision and covers every byte of it. pyHanko's
    default adds it after, which leaves a final revision no signature covers; the deprecated per-signature VRI
    entries must go for that."""
    from pyhanko.sign.signers.pdf_signer import (
        DSSContentSettings,
        SigDSSPlacementPreference,
        TimestampDSSContentSettings,
    )

    return DSSContentSettings(include_vri=False, placement=SigDSSPlacementPreference.TOGETHER_WITH_NEXT_TS,
                              next_ts_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True))


def _validation_context(sources: ValidationSources):  # noqa: ANN202
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

    # hard-fail: a certificate that names a CRL or OCSP responder must be proven unrevoked by it; one that names
    # none (a development CA's) is accepted as it is.
    return ValidationContext(
        trust_roots=[asn1_certificate(root) for root in sources.trust_roots],
        other_certs=[asn1_certificate(other) for other in sources.other_certificates],
        allow_fetching=True, revocation_mode="hard-fail",
        fetcher_backend=RequestsFetcherBackend(per_request_timeout=sources.timeout_seconds))


def _seal_refusal(error: Exception) -> Exception:
    """pyHanko wraps why a chain failed to validate; a missing answer is temporary, anything else is not."""
    from pyhanko_certvalidator.errors import InsufficientRevinfoError, PathBuildingError, RevokedError

    cause = error.__cause__ or (error.args[1] if len(error.args) > 1 else None)
    if isinstance(cause, RevokedError):
        return InvalidSealCredentials("revoked", f"a certificate of the seal's chain is revoked: {cause}")
    if isinstance(cause, InsufficientRevinfoError):
        return SealingUnavailable(f"revocation information could not be obtained: {cause}")
    if isinstance(cause, PathBuildingError):
        return InvalidSealCredentials("untrusted", f"the seal's certificate does not chain to a trusted root: {cause}")
    return SealingUnavailable(f"the document could not be sealed: {_cause(error)}")


def _key_usages(certificate: x509.Certificate) -> set[str]:
    """The usages pyHanko should insist on: those this certificate has of the two a seal may rely on (it requires
    all it is given, and ``SealCredentials`` already made sure there is at least one)."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return set()
    return ({"digital_signature"} if usage.digital_signature else set()) | (
        {"non_repudiation"} if usage.content_commitment else set())


def asn1_certificate(data: bytes):  # noqa: ANN201
    """A certificate, PEM or DER, as pyHanko takes it."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return asn1_x509.Certificate.load(data)


def _cause(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
