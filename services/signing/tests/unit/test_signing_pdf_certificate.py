"""The certificate of completion: what it says, in which language, over how many pages, and always the same bytes."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pypdfium2
import pytest

from loginless.signing.pdf import TrailDocument, audit_certificate

from ..conftest import ORIGINAL, SEALED, TRAIL, recipient

pytestmark = pytest.mark.unit

def text_of(pdf: bytes) -> tuple[int, str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return len(document), "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def test_the_certificate_names_the_envelope_its_sender_recipients_events_and_digests():
    pages, text = text_of(audit_certificate(TRAIL))
    assert pages == 1
    for expected in ("Certificate of completion", "Lease agreement, 4th floor", "env_01JXYZ", "Ruiz & Asociados",
                     "Marta Ruiz <marta@firm.example>", "Completed", "2026-12-01T11:30:00Z",
                     "Ana García <ana@example.com>", "Bruno Torres <bruno@example.com>", "Signer",
                     "Their link and a one-time code sent by e-mail", "Their link and a one-time code sent by SMS",
                     "Consent to sign electronically", "2026-12-01T09:33:00Z", "203.0.113.7", "Chrome/131.0",
                     ORIGINAL, SEALED):
        assert expected in text, expected


def test_times_are_shown_in_utc_whatever_zone_they_were_given_in():
    madrid = timezone(timedelta(hours=1))
    trail = replace(TRAIL, sent_at=datetime(2026, 12, 1, 10, 30, tzinfo=madrid))
    assert "2026-12-01T09:30:00Z" in text_of(audit_certificate(trail))[1]
    with pytest.raises(ValueError, match="timezone-aware"):
        audit_certificate(replace(TRAIL, sent_at=datetime(2026, 12, 1, 10, 30)))


def test_a_declined_envelope_shows_the_reason_and_no_sealed_digest():
    trail = replace(TRAIL, outcome="declined", outcome_reason="The rent is wrong",
                    documents=(TrailDocument("lease.pdf", ORIGINAL, None),))
    text = text_of(audit_certificate(trail))[1]
    assert "Declined — The rent is wrong" in text and "Declined at" in text
    assert ORIGINAL in text and SEALED not in text


def test_a_long_trail_runs_over_several_numbered_pages():
    many = tuple(recipient(f"Signer {n}", f"s{n}@example.com", events=25) for n in range(6))
    pages, text = text_of(audit_certificate(replace(TRAIL, recipients=many)))
    assert pages >= 3
    assert f"Page {pages}" in text and "Signer 5 <s5@example.com>" in text


def test_the_certificate_can_be_written_in_spanish():
    text = text_of(audit_certificate(replace(TRAIL, language="es")))[1]
    for expected in ("Certificado de finalización", "Completado", "Firmante",
                     "Su enlace y un código de un solo uso por SMS", "Dirección IP"):
        assert expected in text
    assert "Certificate of completion" not in text


def test_markup_in_names_is_shown_as_written():
    trail = replace(TRAIL, title="<b>Offer</b> & terms", recipients=(recipient("<script>x</script>", "x@e.com"),))
    text = text_of(audit_certificate(trail))[1]
    assert "<b>Offer</b> & terms" in text and "<script>x</script> <x@e.com>" in text


def test_the_same_trail_gives_the_same_bytes():
    assert audit_certificate(TRAIL) == audit_certificate(TRAIL)
    assert audit_certificate(TRAIL) != audit_certificate(replace(TRAIL, envelope_id="env_other"))
