"""The envelope's rules, without I/O: routing groups and turns, who may act when, the values a signer may give,
and what ends an envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loginless.events.payloads.signing import (
    DocumentSigned,
    EnvelopeDocument,
    EnvelopeField,
    EnvelopeRecipient,
    SignedDocumentHashes,
    SigningTurnStarted,
)
from loginless.signing import domain
from loginless.signing.domain import ENVELOPE, Client

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
SHA = "a" * 64
GUEST = Client("203.0.113.9", "test")


def create(*groups: int, fields: list[EnvelopeField] | None = None, **changes) -> domain.CreateEnvelope:  # noqa: ANN003
    recipients = tuple(EnvelopeRecipient(recipient_id=f"r{n + 1}", name=f"Signer {n + 1}",
                                         email=f"s{n + 1}@example.test", role="signer", group=group)
                       for n, group in enumerate(groups))
    default_fields = [EnvelopeField(field_id=f"sig{n + 1}", recipient_id=f"r{n + 1}", document=0, kind="signature",
                                    page=1, x=72, y=100, width=160, height=40) for n in range(len(groups))]
    values = dict(envelope_id="env_1", tenant_id="firm", title="Loan", message=None,
                  documents=(EnvelopeDocument(index=0, name="loan.pdf", sha256=SHA, pages=2),),
                  recipients=recipients, fields=tuple(fields if fields is not None else default_fields),
                  verification="none", expires_at=NOW + timedelta(days=30), account_id=None, folder_id=None,
                  certificate_to_signers=False, now=NOW)
    return domain.CreateEnvelope(**(values | changes))


def sent(*groups: int, **changes) -> domain.Envelope:  # noqa: ANN003
    state = ENVELOPE.replay(domain.decide(None, create(*groups, **changes)))
    state = ENVELOPE.replay(domain.decide(state, domain.SendEnvelope(NOW)), state)
    for recipient in state.recipients:  # every recipient's link, as if issued
        state = ENVELOPE.replay(domain.decide(state, domain.RecordLinkIssued(
            recipient.recipient_id, f"lnk_{recipient.recipient_id}", NOW)), state)
    return state


def consented(state: domain.Envelope, recipient_id: str) -> domain.Envelope:
    return ENVELOPE.replay(domain.decide(state, domain.GiveConsent(f"lnk_{recipient_id}", GUEST, NOW)), state)


def sign(state: domain.Envelope, recipient_id: str, **values: str) -> list:
    hashes = (SignedDocumentHashes(document=0, sha256_before=state.current_sha256[0], sha256_after="b" * 64),)
    values = {f"sig{recipient_id[1:]}": "typed:Someone", **values}
    return domain.decide(state, domain.Sign(f"lnk_{recipient_id}", values, "typed", hashes, GUEST, NOW))


@pytest.mark.parametrize(("routing", "recipients", "groups"), [
    ("sequential", [("signer", None), ("signer", None), ("copy", None)], [1, 2, 2]),
    ("parallel", [("signer", None), ("approver", None)], [1, 1]),
    ("sequential", [("signer", 2), ("signer", 1), ("signer", 2)], [2, 1, 2]),  # numbered groups as given
])
def test_routing_puts_each_recipient_in_a_group(routing, recipients, groups):
    assert domain.routing_groups(routing, recipients) == groups


def test_the_next_group_starts_when_the_last_signer_of_a_group_signs_and_the_last_one_seals():
    state = consented(consented(sent(1, 1, 2), "r1"), "r2")
    assert [r.status for r in state.recipients] == ["pending", "pending", "waiting"]

    first = sign(state, "r1")
    assert [type(e) for e in first] == [DocumentSigned]  # r2 of the same group still signs
    state = ENVELOPE.replay(first, state)
    second = sign(state, "r2")
    assert [type(e) for e in second] == [DocumentSigned, SigningTurnStarted]
    assert second[1].recipient_ids == ["r3"] and second[1].until == NOW + timedelta(days=30)
    state = consented(ENVELOPE.replay(second, state), "r3")
    state = ENVELOPE.replay(sign(state, "r3"), state)
    assert state.status == "sealing"


def test_a_signer_out_of_turn_before_consent_or_after_signing_is_refused_or_changes_nothing():
    state = sent(1, 2)
    with pytest.raises(domain.NotYourTurn):
        domain.decide(state, domain.GiveConsent("lnk_r2", GUEST, NOW))
    with pytest.raises(domain.ConsentRequired):
        sign(state, "r1")
    state = consented(state, "r1")
    state = ENVELOPE.replay(sign(state, "r1"), state)
    assert sign(state, "r1") == []  # a second submission: the one signature stands


def test_a_signature_on_a_document_that_changed_meanwhile_is_refused():
    state = consented(sent(1), "r1")
    stale = (SignedDocumentHashes(document=0, sha256_before="c" * 64, sha256_after="b" * 64),)
    with pytest.raises(domain.DocumentChanged):
        domain.decide(state, domain.Sign("lnk_r1", {"sig1": "typed:A"}, "typed", stale, GUEST, NOW))


@pytest.mark.parametrize(("field", "value", "problem"), [
    (EnvelopeField(field_id="c", recipient_id="r1", document=0, kind="checkbox", page=1, x=1, y=1, width=9,
                   height=9), "yes", "true or false"),
    (EnvelopeField(field_id="c", recipient_id="r1", document=0, kind="radio", page=1, x=1, y=1, width=9, height=9,
                   options=["A", "B"]), "C", "one of the options"),
    (EnvelopeField(field_id="c", recipient_id="r1", document=0, kind="number", page=1, x=1, y=1, width=9,
                   height=9), "12abc", "a number"),
    (EnvelopeField(field_id="c", recipient_id="r1", document=0, kind="text", page=1, x=1, y=1, width=9, height=9),
     "x" * 1001, "too long"),
    (EnvelopeField(field_id="c", recipient_id="r1", document=0, kind="text", page=1, x=1, y=1, width=9, height=9),
     "", "required"),
])
def test_a_value_of_the_wrong_kind_is_refused_naming_its_field(field, value, problem):
    signature = EnvelopeField(field_id="sig1", recipient_id="r1", document=0, kind="signature", page=1, x=72, y=100,
                              width=160, height=40)
    state = consented(sent(1, fields=[signature, field]), "r1")
    with pytest.raises(domain.InvalidValues) as refused:
        sign(state, "r1", c=value)
    assert any(error.startswith("c: ") and problem in error for error in refused.value.extra["errors"])


def test_unknown_fields_are_refused_and_date_name_and_email_come_from_the_server():
    fields = [EnvelopeField(field_id="sig1", recipient_id="r1", document=0, kind="signature", page=1, x=72, y=100,
                            width=160, height=40),
              EnvelopeField(field_id="d", recipient_id="r1", document=0, kind="date_signed", page=1, x=1, y=1,
                            width=9, height=9)]
    state = consented(sent(1, fields=fields), "r1")
    with pytest.raises(domain.InvalidValues):
        sign(state, "r1", other="x")
    [signed] = sign(state, "r1", d="1999-01-01")  # the page's date is ignored
    assert signed.values["d"] == NOW.date().isoformat()


@pytest.mark.parametrize(("changes", "problem"), [
    ({"recipients": (EnvelopeRecipient(recipient_id="r1", name="A", email="not-an-address", role="signer",
                                       group=1),)}, "email"),
    ({"fields": ()}, "needs a signature field"),
    ({"fields": (EnvelopeField(field_id="s", recipient_id="r1", document=0, kind="signature", page=3, x=1, y=1,
                               width=9, height=9),)}, "page"),
    ({"expires_at": NOW + timedelta(days=200)}, "expires_at"),
    ({"verification": "sms"}, "phone"),
])
def test_an_envelope_that_breaks_a_rule_is_refused_naming_it(changes, problem):
    with pytest.raises(domain.InvalidEnvelope) as refused:
        domain.decide(None, create(1, **changes))
    assert problem in refused.value.detail


def test_void_decline_and_expiry_end_the_envelope_for_every_recipient():
    state = consented(sent(1, 1), "r1")
    declined = ENVELOPE.replay(domain.decide(state, domain.Decline("lnk_r1", "Wrong amount", GUEST, NOW)), state)
    assert declined.status == "declined" and declined.end_reason == "Wrong amount"
    with pytest.raises(domain.EnvelopeEnded):
        domain.decide(declined, domain.GiveConsent("lnk_r2", GUEST, NOW))
    with pytest.raises(domain.EnvelopeEnded):
        domain.decide(declined, domain.Void("too late", NOW))

    assert domain.decide(state, domain.Expire(NOW)) == []  # not yet
    expired = ENVELOPE.replay(domain.decide(state, domain.Expire(NOW + timedelta(days=31))), state)
    assert expired.status == "expired"
    with pytest.raises(domain.EnvelopeEnded):
        sign(expired, "r1")
