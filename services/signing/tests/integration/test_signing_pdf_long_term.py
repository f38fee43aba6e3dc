"""B-LTA seals against a local PKI (certomancer: timestamp authority, CRL repository, OCSP responder), and what
happens when a part of it does not answer."""

import socket

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from loginless.signing.pdf import (
    InvalidSealCredentials,
    SealCredentials,
    SealingUnavailable,
    StampedField,
    ValidationSources,
    audit_certificate,
    seal_pdf,
    stamp_fields,
    validate_sealed,
)

from ..conftest import NOW, TRAIL, append_incremental_update, serve_local_pki, text_pdf

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki_seal(local_pki) -> SealCredentials:
    return SealCredentials.from_pkcs12(local_pki.seal_pkcs12, None, now=NOW)


@pytest.fixture(scope="module")
def document() -> bytes:
    return stamp_fields(text_pdf(), [StampedField("signature", 1, 72, 600, 200, 40, "Ana García")])


def seal_long_term(data: bytes, seal: SealCredentials, local_pki, *, timestamp_url: str | None = None) -> bytes:
    return seal_pdf(data, seal, reason="Signed through loginless",
                    timestamp_url=timestamp_url or local_pki.timestamp_url,
                    validation=ValidationSources(trust_roots=[local_pki.root_pem], timeout_seconds=5))


@pytest.fixture(scope="module")
def sealed_lta(document, pki_seal, local_pki) -> bytes:
    return seal_long_term(document, pki_seal, local_pki)


def unused_loopback_url() -> str:
    with socket.socket() as probe:  # bound and closed: nothing listens there now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


def test_with_a_timestamp_authority_the_seal_is_b_lta_and_valid(sealed_lta, local_pki):
    report = validate_sealed(sealed_lta, [local_pki.root_pem])
    assert report.ok, report
    assert report.pades_level == "B-LTA"
    seal, archive = report.signatures
    assert seal.kind == "signature" and seal.timestamped_at is not None  # B-T: a timestamp in the signature
    assert archive.kind == "document-timestamp" and archive.covers_entire_file  # the last revision is covered


def test_the_document_security_store_holds_the_certificates_crls_and_ocsp_responses(sealed_lta):
    import io

    from pyhanko.sign.validation.dss import DocumentSecurityStore

    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(sealed_lta)))
    assert dss.certs and dss.crls and dss.ocsps


def test_pdfsig_sees_the_seal_valid_and_the_archive_timestamp_over_the_whole_file(sealed_lta, pdfsig, tmp_path):
    seal, archive = pdfsig.signatures(sealed_lta, tmp_path)
    assert seal.valid and "ETSI.CAdES.detached" in seal.text, seal.text
    assert not seal.covers_whole_document  # the validation data and the archive timestamp came after it
    # poppler cannot verify RFC 3161 document timestamps ("Unable to validate this type of signature"); it can
    # still say the timestamp is the last thing in the file. Its trust in this PKI's chain is not asserted: it
    # answers "Unknown issue with Certificate" for certomancer's certificates, though NSS's vfychain accepts the
    # chain (docs/signing-pdf.md); pyHanko's verdict on it is the test above.
    assert "Field Name: ArchiveTimestamp" in archive.text and archive.covers_whole_document, archive.text


def test_the_audit_certificate_is_sealed_b_lta_too(pki_seal, local_pki):
    sealed = seal_long_term(audit_certificate(TRAIL), pki_seal, local_pki)
    report = validate_sealed(sealed, [local_pki.root_pem])
    assert report.ok and report.pades_level == "B-LTA"


def test_an_update_after_the_archive_timestamp_is_reported(sealed_lta, local_pki):
    report = validate_sealed(append_incremental_update(sealed_lta), [local_pki.root_pem])
    assert not report.ok and not report.signatures[-1].covers_entire_file


def test_a_timestamp_authority_that_does_not_answer_makes_sealing_unavailable(document, pki_seal, local_pki):
    with pytest.raises(SealingUnavailable, match="timestamp authority"):
        seal_long_term(document, pki_seal, local_pki, timestamp_url=unused_loopback_url())
    assert SealingUnavailable.status_code == 503


def test_a_timestamp_authority_that_answers_an_error_makes_sealing_unavailable(document, pki_seal, local_pki):
    with pytest.raises(SealingUnavailable):
        seal_long_term(document, pki_seal, local_pki, timestamp_url=f"{local_pki.url}/testing-ca/tsa/no-such-tsa")


def test_revocation_sources_that_do_not_answer_make_sealing_unavailable(document, tmp_path):
    with serve_local_pki(tmp_path) as gone:
        seal = SealCredentials.from_pkcs12(gone.seal_pkcs12, None, now=NOW)
    # the PKI has stopped: its CRL and OCSP URLs (and its TSA) refuse connections; the seal's certificate is
    # checked before anything is signed, so that is what fails
    with pytest.raises(SealingUnavailable, match="revocation"):
        seal_long_term(document, seal, gone)


def test_a_revoked_seal_is_refused_for_good(document, local_pki):
    revoked = SealCredentials.from_pkcs12(local_pki.revoked_seal_pkcs12, None, now=NOW)
    with pytest.raises(InvalidSealCredentials) as refused:
        seal_long_term(document, revoked, local_pki)
    assert refused.value.problem == "revoked"


def test_a_seal_outside_the_trusted_roots_is_refused(document, seal, local_pki):
    with pytest.raises(InvalidSealCredentials) as refused:
        seal_long_term(document, seal, local_pki)  # the development seal, not issued by the local PKI's root
    assert refused.value.problem == "untrusted"
