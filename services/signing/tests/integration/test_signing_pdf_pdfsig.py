"""Seals as poppler's pdfsig sees them (an independent implementation, NSS underneath), next to pyHanko's view."""

import pytest

from loginless.signing.pdf import (
    SealCredentials,
    StampedField,
    audit_certificate,
    development_ca,
    seal_pdf,
    stamp_fields,
    validate_sealed,
)

from ..conftest import NOW, TRAIL, append_incremental_update, flip_byte_inside_signed_range, text_pdf

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sealed_document(seal) -> bytes:
    stamped = stamp_fields(text_pdf(), [StampedField("signature", 1, 72, 600, 200, 40, "Ana García"),
                                        StampedField("date_signed", 1, 300, 600, 120, 20, "2026-12-06")])
    return seal_pdf(stamped, seal, reason="Signed through loginless")


@pytest.fixture(scope="module")
def sealed_certificate(seal) -> bytes:
    return seal_pdf(audit_certificate(TRAIL), seal, reason="Certificate of completion")


@pytest.mark.parametrize("which", ["sealed_document", "sealed_certificate"])
def test_a_sealed_pdf_is_valid_trusted_and_whole_for_pdfsig_and_pyhanko(which, request, pdfsig, dev_ca, tmp_path):
    sealed = request.getfixturevalue(which)
    (signature,) = pdfsig.signatures(sealed, tmp_path)
    assert signature.valid, signature.text
    assert signature.covers_whole_document, signature.text
    assert signature.trusted, signature.text
    assert validate_sealed(sealed, [dev_ca.root_certificate_pem]).ok


def test_pdfsig_does_not_trust_a_seal_whose_root_is_not_in_its_database(pdfsig, tmp_path):
    stranger = development_ca(now=NOW, organisation="not in the NSS database")
    sealed = seal_pdf(text_pdf(), SealCredentials.from_pkcs12(stranger.seal_pkcs12, None, now=NOW), reason="x")
    (signature,) = pdfsig.signatures(sealed, tmp_path)
    assert signature.valid and not signature.trusted


@pytest.mark.parametrize("which", ["sealed_document", "sealed_certificate"])
def test_a_byte_flipped_inside_the_signed_range_is_reported_by_pyhanko_and_pdfsig(which, request, pdfsig, dev_ca,
                                                                                  tmp_path):
    sealed = request.getfixturevalue(which)
    if b"/MediaBox [ 0 0 595" not in sealed:
        pytest.fail("the fixture's first page is not A4 as the tampering expects")
    tampered = flip_byte_inside_signed_range(sealed)
    (signature,) = pdfsig.signatures(tampered, tmp_path)
    assert not signature.valid and "Digest Mismatch" in signature.text, signature.text
    report = validate_sealed(tampered, [dev_ca.root_certificate_pem])
    assert not report.ok and not report.signatures[0].intact


@pytest.mark.parametrize("which", ["sealed_document", "sealed_certificate"])
def test_an_incremental_update_after_sealing_is_reported_by_pyhanko_and_pdfsig(which, request, pdfsig, dev_ca,
                                                                               tmp_path):
    sealed = request.getfixturevalue(which)
    updated = append_incremental_update(sealed)
    (signature,) = pdfsig.signatures(updated, tmp_path)
    assert signature.valid  # the sealed revision is untouched ...
    assert not signature.covers_whole_document  # ... and pdfsig says something came after it
    assert "Not total document signed" in signature.text
    report = validate_sealed(updated, [dev_ca.root_certificate_pem])
    assert not report.ok and not report.signatures[-1].covers_entire_file
