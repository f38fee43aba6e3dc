"""Pay to unlock without I/O: the share's lock decider and what payments' events do to an invoice's standing."""

from datetime import UTC, datetime, timedelta

import pytest

from loginless.documents import domain
from loginless.events.payloads import payments
from loginless.shared.errors import InvalidRequest, NotFound

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
INVOICE = "inv_" + "a1" * 12
OTHER_INVOICE = "inv_" + "b2" * 12
DOCUMENT = domain.Document("doc_1", "t", "act_1", None, "report.pdf", 10, "ab" * 32, "application/pdf",
                           "tenants/t/documents/doc_1")


def a_share(lock: domain.LockUntilPaid | None = None) -> domain.Share:
    command = domain.PrepareShare("shr_1", DOCUMENT, [domain.Recipient("a@example.test")], False,
                                  NOW + timedelta(days=1), NOW, lock=lock)
    return domain.SHARE.replay(domain.decide_share(None, command))


def decided(share: domain.Share, command) -> tuple[list[str], domain.Share]:  # noqa: ANN001
    events = domain.decide_share(share, command)
    return [f"{type(e).__name__}:{getattr(e, 'reason', '')}" for e in events], domain.SHARE.replay(events, share)


def test_a_share_locked_from_the_start_keeps_its_bytes_until_the_invoice_is_paid():
    share = a_share(domain.LockUntilPaid(INVOICE, invoice_paid=False, now=NOW))
    assert share.lock == domain.PaymentLock(INVOICE, locked=True) and share.locked
    with pytest.raises(domain.LockedUntilPaid) as refused:
        domain.check_unlocked(share)
    assert refused.value.status_code == 403 and refused.value.extra == {"invoice_id": INVOICE}

    names, share = decided(share, domain.UnlockForPaidInvoice(INVOICE, NOW))
    assert names == ["ShareUnlocked:invoice_paid"] and not share.locked
    domain.check_unlocked(share)
    assert decided(share, domain.UnlockForPaidInvoice(INVOICE, NOW))[0] == []  # paid again: nothing more


def test_a_lock_on_an_invoice_already_seen_paid_is_recorded_locked_then_unlocked():
    command = domain.PrepareShare("shr_1", DOCUMENT, [domain.Recipient("a@example.test")], False,
                                  NOW + timedelta(days=1), NOW, lock=domain.LockUntilPaid(INVOICE, True, NOW))
    assert [type(e).__name__ for e in domain.decide_share(None, command)] == [
        "SharePrepared", "ShareLocked", "ShareUnlocked"]
    assert a_share(command.lock).lock == domain.PaymentLock(INVOICE, locked=False)


def test_a_reversal_locks_again_only_what_the_invoice_had_unlocked():
    share = a_share(domain.LockUntilPaid(INVOICE, False, NOW))
    assert decided(share, domain.RelockForReopenedInvoice(INVOICE, NOW))[0] == []  # still locked: nothing to do
    _, share = decided(share, domain.UnlockForPaidInvoice(INVOICE, NOW))
    names, share = decided(share, domain.RelockForReopenedInvoice(INVOICE, NOW))
    assert names == ["ShareLocked:payment_reversed"] and share.locked
    names, share = decided(share, domain.UnlockForPaidInvoice(INVOICE, NOW))  # paid again
    assert names == ["ShareUnlocked:invoice_paid"] and not share.locked


def test_another_invoices_payment_or_reversal_changes_nothing():
    share = a_share(domain.LockUntilPaid(INVOICE, False, NOW))
    assert decided(share, domain.UnlockForPaidInvoice(OTHER_INVOICE, NOW))[0] == []
    unlocked = decided(share, domain.UnlockForPaidInvoice(INVOICE, NOW))[1]
    assert decided(unlocked, domain.RelockForReopenedInvoice(OTHER_INVOICE, NOW))[0] == []
    assert decided(a_share(), domain.UnlockForPaidInvoice(INVOICE, NOW))[0] == []  # a share without a lock


def test_staff_lock_an_existing_share_once_and_can_release_it():
    share = a_share()
    names, share = decided(share, domain.LockUntilPaid(INVOICE, False, NOW))
    assert names == ["ShareLocked:staff"] and share.locked
    assert decided(share, domain.LockUntilPaid(INVOICE, False, NOW))[0] == []  # a retried request
    with pytest.raises(domain.Conflict):
        domain.decide_share(share, domain.LockUntilPaid(OTHER_INVOICE, False, NOW))
    names, share = decided(share, domain.ReleaseLock(NOW))
    assert names == ["ShareUnlocked:released"] and share.lock is None
    assert decided(share, domain.ReleaseLock(NOW))[0] == []
    assert decided(share, domain.UnlockForPaidInvoice(INVOICE, NOW))[0] == []  # released: payments no longer matter


def test_an_ended_or_unknown_share_cannot_be_locked():
    revoked = decided(a_share(), domain.RevokeResource(NOW))[1]
    with pytest.raises(domain.Conflict):
        domain.decide_share(revoked, domain.LockUntilPaid(INVOICE, False, NOW))
    with pytest.raises(NotFound):
        domain.decide_share(None, domain.LockUntilPaid(INVOICE, False, NOW))


@pytest.mark.parametrize("bad", ["", "inv_", "inv_123", "INV_" + "a1" * 12, "inv_" + "g1" * 12, "inv_" + "a1" * 13,
                                 " inv_" + "a1" * 12, "doc_" + "a1" * 12, "inv_" + "a1" * 12 + "\x00"])
def test_only_what_looks_like_an_invoice_id_locks(bad):
    with pytest.raises(InvalidRequest):
        domain.check_invoice_id(bad)


def paid(*, overpaid: int | None = None, tenant: str = "t") -> payments.InvoicePaid:
    return payments.InvoicePaid(invoice_id=INVOICE, tenant_id=tenant, amount_minor=10_000 + (overpaid or 0),
                                currency="EUR", paid_at=NOW, provider="test", provider_payment_id="pay_1",
                                number="2026-001", overpaid_minor=overpaid)


def reversed_(amount: int) -> payments.PaymentReversed:
    return payments.PaymentReversed(invoice_id=INVOICE, tenant_id="t", payment_id="pay_1", amount_minor=amount,
                                    reason="chargeback", reversed_at=NOW)


def test_the_standing_follows_issued_paid_and_reopened():
    issued = payments.InvoiceIssued(invoice_id=INVOICE, tenant_id="t", account_id="act_1", number="2026-001",
                                    currency="EUR", payable_minor=10_000, due_date=NOW.date(), issued_at=NOW)
    standing, change = domain.invoice_standing_after(None, issued)
    assert (standing.number, standing.paid, change) == ("2026-001", False, None)
    assert domain.invoice_standing_after(standing, reversed_(10_000)) == (standing, None)  # never paid: nothing
    standing, change = domain.invoice_standing_after(standing, paid())
    assert (standing.paid, change) == (True, "paid")
    standing, change = domain.invoice_standing_after(standing, reversed_(10_000))
    assert (standing.paid, change) == (False, "reopened")


def test_a_reversal_within_what_was_overpaid_leaves_the_invoice_paid():
    standing, _ = domain.invoice_standing_after(None, paid(overpaid=3_000))
    standing, change = domain.invoice_standing_after(standing, reversed_(2_000))  # 1,000 over what is payable
    assert (standing.paid, standing.margin_minor, change) == (True, 1_000, None)
    standing, change = domain.invoice_standing_after(standing, reversed_(1_500))
    assert (standing.paid, change) == (False, "reopened")
