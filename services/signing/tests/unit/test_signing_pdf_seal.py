"""B-B seals, checked by pyHanko's validator: good when untouched, and any change after sealing is reported."""

import pytest

from loginless.signing.pdf import HostilePdf, StampedField, development_ca, seal_pdf, stamp_fields, validate_sealed

from ..conftest import NOW, append_incremental_update, flip_byte_inside_signed_range, text_pdf

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def sealed(seal) -> bytes:
    stamped = stamp_fields(text_pdf(), [StampedField("signature", 1, 72, 600, 200, 40, "Ana García")])
    return seal_pdf(stamped, seal, reason="Signed through loginless", location="Madrid")


def test_a_sealed_document_is_intact_valid_trusted_and_covered_to_its_last_byte(sealed, dev_ca):
    report = validate_sealed(sealed, [dev_ca.root_certificate_pem])
    assert report.ok
    assert report.pades_level == "B-B"
    (check,) = report.signatures
    assert check.field_name == "Seal" and check.kind == "signature"
    assert check.intact and check.valid and check.trusted and check.covers_entire_file
    assert "document seal" in check.signer and check.timestamped_at is None


def test_the_seal_carries_its_reason_and_location(sealed):
    assert b"/Reason (Signed through loginless)" in sealed and b"/Location (Madrid)" in sealed
    assert b"/SubFilter /ETSI.CAdES.detached" in sealed


def test_a_byte_flipped_inside_the_signed_range_is_reported_by_pyhanko(sealed, dev_ca):
    report = validate_sealed(flip_byte_inside_signed_range(sealed), [dev_ca.root_certificate_pem])
    assert not report.ok
    assert not report.signatures[0].intact


def test_an_incremental_update_after_sealing_is_reported_by_pyhanko(sealed, dev_ca):
    report = validate_sealed(append_incremental_update(sealed), [dev_ca.root_certificate_pem])
    assert not report.ok
    (check,) = report.signatures
    assert check.intact  # the sealed revision itself is untouched ...
    assert not check.covers_entire_file and not check.changes_after_allowed  # ... but a page was changed after it


def test_a_seal_from_another_root_is_not_trusted(sealed):
    stranger = development_ca(now=NOW, organisation="someone else")
    report = validate_sealed(sealed, [stranger.root_certificate_pem])
    assert not report.ok and not report.signatures[0].trusted and report.signatures[0].intact


def test_an_unsigned_pdf_has_no_seal():
    report = validate_sealed(text_pdf(), [])
    assert report.signatures == () and report.pades_level is None and not report.ok


def test_sealing_something_that_is_not_a_pdf_is_refused(seal):
    with pytest.raises(HostilePdf) as refused:
        seal_pdf(b"%PDF-1.7\nnot really", seal, reason="x")
    assert refused.value.reason_code == "malformed"


def test_long_term_sealing_without_validation_sources_is_a_programming_error(seal):
    with pytest.raises(ValueError, match="ValidationSources"):
        seal_pdf(text_pdf(), seal, reason="x", timestamp_url="http://127.0.0.1:9/tsa")
