"""The invoice's rules, without I/O: what is open to pay while payments process, InvoicePaid exactly when what is
received first covers what is payable, reversals and refunds that reopen it, credit notes, and the overpayment
rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loginless.events.payloads.payments import InvoicePaid, PaymentReceived
from loginless.payments import domain, money
from loginless.payments.domain import INVOICE, Invoice
from loginless.payments.money import LineIn

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def issued(payable: str = "100", *, partial: bool = False, minimum: int | None = None,
           currency: str = "EUR") -> Invoice:
    amounts = money.compute(currency, [LineIn("Advice", Decimal(1), Decimal(payable), "E", Decimal(0))])
    create = domain.CreateInvoice(
        invoice_id="inv_1", tenant_id="t1", account_id="acc_1", number="2026-001", currency=currency,
        issue_date=date(2026, 12, 6), due_date=date(2026, 12, 31), lines=amounts.lines, discounts=(),
        withholdings=(), taxes=amounts.taxes, totals=amounts.totals, notes=None, bank=None, creditor_reference=None,
        partial_payments=partial, minimum_partial_minor=minimum, payer_name=None, payer_email=None,
        payer_language=None, now=NOW)
    return run(run(None, create), domain.IssueInvoice(NOW))


def run(state: Invoice | None, command: domain.Command) -> Invoice:
    return INVOICE.replay(INVOICE.decide(state, command), state)


def start(payment_id: str, amount: int) -> domain.StartPayment:
    return domain.StartPayment(payment_id, amount, "card", "test", "Ana", "ana@example.test", "lnk_1", NOW)


def confirm(payment_id: str, amount: int, currency: str = "EUR") -> domain.ConfirmPayment:
    return domain.ConfirmPayment(payment_id, f"prov_{payment_id}", amount, currency, NOW)


def names(events: list) -> list[str]:  # noqa: ANN001
    return [type(e).__name__ for e in events]


def test_a_processing_payment_counts_against_what_a_second_tab_may_start() -> None:
    invoice = run(issued(), start("p1", 10000))
    assert (invoice.due_minor, invoice.processing_minor, invoice.open_minor) == (10000, 10000, 0)
    with pytest.raises(domain.NotPayable, match="already under way"):
        INVOICE.decide(invoice, start("p2", 10000))


def test_the_same_attempt_submitted_twice_starts_one_payment() -> None:
    invoice = run(issued(), start("p1", 10000))
    assert INVOICE.decide(invoice, start("p1", 10000)) == []


def test_a_failed_payment_frees_its_amount_and_the_invoice_can_be_paid_again() -> None:
    invoice = run(run(issued(), start("p1", 10000)), domain.FailPayment("p1", "card_declined", NOW))
    assert invoice.open_minor == 10000 and invoice.status == "open"
    assert names(INVOICE.decide(invoice, start("p2", 10000))) == ["PaymentStarted"]


def test_invoice_paid_comes_with_the_payment_that_covers_it_and_a_replayed_confirmation_changes_nothing() -> None:
    invoice = run(issued(), start("p1", 10000))
    events = INVOICE.decide(invoice, confirm("p1", 10000))
    assert names(events) == ["PaymentReceived", "InvoicePaid"]
    paid = INVOICE.replay(events, invoice)
    assert paid.status == "paid" and events[1].amount_minor == 10000 and events[1].provider_payment_id == "prov_p1"
    assert INVOICE.decide(paid, confirm("p1", 10000)) == []  # a webhook delivered twice


def test_a_failure_arriving_after_the_success_changes_nothing() -> None:
    paid = run(run(issued(), start("p1", 10000)), confirm("p1", 10000))
    assert INVOICE.decide(paid, domain.FailPayment("p1", "late", NOW)) == []


def test_a_success_after_a_failure_of_the_same_payment_counts() -> None:
    failed = run(run(issued(), start("p1", 10000)), domain.FailPayment("p1", "first try declined", NOW))
    assert names(INVOICE.decide(failed, confirm("p1", 10000))) == ["PaymentReceived", "InvoicePaid"]


def test_a_confirmation_of_another_amount_or_currency_is_flagged_once_and_counts_nothing() -> None:
    invoice = run(issued(), start("p1", 10000))
    events = INVOICE.decide(invoice, confirm("p1", 9999))
    assert names(events) == ["PaymentFlagged"] and events[0].reported_amount_minor == 9999
    flagged = INVOICE.replay(events, invoice)
    assert (flagged.paid_minor, flagged.processing_minor, flagged.status) == (0, 10000, "open")
    assert INVOICE.decide(flagged, confirm("p1", 10000, "USD")) == []  # flagged already: staff look into it


def test_a_transfer_recorded_while_a_card_payment_processes_settles_it_and_the_card_money_is_overpaid() -> None:
    invoice = run(issued(), start("card", 10000))
    transfer = INVOICE.decide(invoice, domain.RecordOfflinePayment("tr", None, "transfer", "BANK-1", None, NOW))
    assert names(transfer) == ["PaymentReceived", "InvoicePaid"]
    invoice = INVOICE.replay(transfer, invoice)
    late = INVOICE.decide(invoice, confirm("card", 10000))
    assert names(late) == ["PaymentReceived"]  # received (it happened), not paid a second time
    invoice = INVOICE.replay(late, invoice)
    assert (invoice.status, invoice.overpaid_minor, invoice.due_minor) == ("paid", 10000, 0)


def test_staff_never_record_more_than_is_due() -> None:
    invoice = run(issued(), domain.RecordOfflinePayment("tr", 4000, "transfer", None, None, NOW))
    with pytest.raises(domain.InvalidPayment, match="at most 6000"):
        INVOICE.decide(invoice, domain.RecordOfflinePayment("tr2", 6001, "transfer", None, None, NOW))


def test_a_reversal_reopens_a_paid_invoice_and_the_next_payment_announces_it_paid_again() -> None:
    paid = run(run(issued(), start("p1", 10000)), confirm("p1", 10000))
    reversed_ = run(paid, domain.ReversePayment("p1", "chargeback", NOW))
    assert (reversed_.status, reversed_.due_minor, reversed_.paid_at) == ("open", 10000, None)
    again = INVOICE.decide(reversed_, domain.RecordOfflinePayment("tr", None, "transfer", None, None, NOW))
    assert names(again) == ["PaymentReceived", "InvoicePaid"]


def test_a_refund_lowers_what_is_paid_and_is_never_more_than_the_payment() -> None:
    paid = run(issued(), domain.RecordOfflinePayment("tr", None, "transfer", None, None, NOW))
    refunded = run(paid, domain.RefundPayment("re1", "tr", 2500, "goodwill", NOW))
    assert (refunded.status, refunded.paid_minor, refunded.due_minor) == ("partially_paid", 7500, 2500)
    assert INVOICE.decide(refunded, domain.RefundPayment("re1", "tr", 2500, "goodwill", NOW)) == []  # the same refund
    with pytest.raises(domain.InvalidPayment, match="at most 7500"):
        INVOICE.decide(refunded, domain.RefundPayment("re2", "tr", 7501, "too much", NOW))


def test_partial_payments_keep_to_the_minimum_except_for_the_last_part() -> None:
    invoice = issued(partial=True, minimum=3000)
    with pytest.raises(domain.InvalidPayment, match="at least 3000"):
        INVOICE.decide(invoice, start("p1", 2999))
    invoice = run(run(invoice, start("p1", 8000)), confirm("p1", 8000))
    assert invoice.smallest_payment() == 2000  # the rest, below the minimum, may be paid
    with pytest.raises(domain.InvalidPayment, match="at most 2000"):
        INVOICE.decide(invoice, start("p2", 2001))


def test_without_partial_payments_a_guest_pays_all_that_is_open() -> None:
    with pytest.raises(domain.InvalidPayment, match="at least 10000"):
        INVOICE.decide(issued(), start("p1", 5000))


def test_a_credit_note_lowers_what_is_payable_and_a_full_one_credits_the_invoice() -> None:
    invoice = issued()
    note = money.compute("EUR", [LineIn("Correction", Decimal(1), Decimal(100), "E", Decimal(0))])
    credited = run(invoice, domain.IssueCreditNote("cn1", "R-1", "wrong client", note.lines, note.taxes,
                                                   note.totals, NOW))
    assert (credited.status, credited.payable_minor) == ("credited", 0)
    with pytest.raises(domain.NotPayable, match="credited"):
        INVOICE.decide(credited, start("p1", 1))


def test_a_credit_note_that_leaves_what_was_paid_covering_the_rest_makes_it_paid() -> None:
    invoice = run(issued(partial=True), domain.RecordOfflinePayment("tr", 6000, "transfer", None, None, NOW))
    note = money.compute("EUR", [LineIn("Discount agreed", Decimal(1), Decimal(40), "E", Decimal(0))])
    events = INVOICE.decide(invoice, domain.IssueCreditNote("cn1", "R-1", "agreed", note.lines, note.taxes,
                                                           note.totals, NOW))
    assert names(events) == ["CreditNoteIssued", "InvoicePaid"]


def test_a_draft_takes_no_payment() -> None:
    draft = replace(issued(), issued_at=None)
    with pytest.raises(domain.NotPayable, match="draft"):
        INVOICE.decide(draft, start("p1", 10000))


@given(st.sampled_from(["JPY", "EUR", "KWD"]), st.integers(1, 10**7),
       st.lists(st.integers(1, 10**7), min_size=1, max_size=30))
def test_partial_payments_never_exceed_the_total_and_invoice_paid_comes_exactly_once(currency, total, parts) -> None:  # noqa: ANN001
    amounts = money.compute(currency, [LineIn("x", Decimal(1), money.from_minor(total, money.exponent(currency)),
                                              "O", Decimal(0))])
    invoice = issued(currency=currency, partial=True)
    invoice = replace(invoice, created=invoice.created.model_copy(update={"totals": amounts.totals}))
    paid_events = 0
    for n, part in enumerate(parts):
        amount = min(part, invoice.open_minor)
        if amount == 0:
            break
        events = INVOICE.decide(invoice, start(f"p{n}", amount))
        invoice = INVOICE.replay(events, invoice)
        events = INVOICE.decide(invoice, confirm(f"p{n}", amount, currency))
        paid_events += sum(isinstance(e, InvoicePaid) for e in events)
        assert sum(isinstance(e, PaymentReceived) for e in events) == 1
        invoice = INVOICE.replay(events, invoice)
        assert invoice.paid_minor <= total
    assert paid_events == (1 if invoice.paid_minor == total else 0)
    assert invoice.status == ("paid" if invoice.paid_minor == total else "partially_paid")
