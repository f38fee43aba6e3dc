"""The invoice, as a decider: what may happen to an invoice and its payments. No I/O.

An invoice (stream ``inv_…``) is a draft until issued; only then can it be paid. Its amounts never change after
creation: a credit note lowers what is *payable* (all of it: the invoice is *credited*). Payments:

- a payment through a provider is *processing* first (``PaymentStarted``); what is processing counts against what
  a guest may still start, so two tabs or a double submit never pay twice. It ends *succeeded*
  (``PaymentReceived``) or *failed* (``PaymentFailed``); a succeeded one may be *reversed* (a failed debit, a
  chargeback: the invoice reopens) or refunded in part or whole;
- staff record a payment made outside any provider (a transfer, cash) as received at once.

**InvoicePaid** is decided here, on the invoice's stream, when succeeded payments first cover what is payable:
two payments confirmed at once conflict on the stream's version, and the loser is judged again against the
winner's state, so it is recorded exactly once. It is recorded again only after a reversal or a refund reopened
the invoice.

Overpayment: a guest can never start more than is still open (due less processing), and staff can never record
more than is due. Money that still arrives beyond it -- a card payment that was processing when staff recorded
the transfer that settled the invoice -- is received (it happened), and the invoice shows it as *overpaid* for
staff to refund; it is never silently kept or dropped.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from loginless.events import IntegrationEvent
from loginless.events.payloads.payments import (
    BankAccount,
    CreditNoteIssued,
    DocumentDiscount,
    InvoiceCreated,
    InvoiceIssued,
    InvoiceLine,
    InvoiceLinkIssued,
    InvoicePaid,
    InvoiceTotals,
    Party,
    PaymentCheckoutOpened,
    PaymentFailed,
    PaymentFlagged,
    PaymentMethod,
    PaymentReceived,
    PaymentRefunded,
    PaymentReversed,
    PaymentStarted,
    TaxBreakdown,
    Withholding,
)
from loginless.shared.errors import InvalidRequest, LoginlessError, NotFound
from loginless.shared.eventstore.decider import Decider

InvoiceStatus = Literal["draft", "open", "partially_paid", "paid", "credited"]
PaymentStatus = Literal["processing", "succeeded", "failed", "reversed"]
OFFLINE = "offline"


def new_invoice_id() -> str:
    return f"inv_{secrets.token_hex(12)}"


def new_payment_id() -> str:
    return f"pay_{secrets.token_hex(12)}"


# ---- errors a guest or staff can meet ---------------------------------------------------------------------


class InvoiceNotFound(NotFound):
    problem_type = "invoice-not-found"
    title = "No such invoice"


class NotPayable(LoginlessError):
    """The invoice takes no payment now (a draft, paid, credited) or not this one (more than is open)."""

    status_code = 409
    problem_type = "invoice-not-payable"
    title = "The invoice cannot take this payment"


class InvalidPayment(InvalidRequest):
    problem_type = "invalid-payment"
    title = "The payment is not valid"


class InvoiceIssuedAlready(LoginlessError):
    status_code = 409
    problem_type = "invoice-issued"
    title = "An issued invoice is corrected with a credit note"


# ---- commands -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateInvoice:
    invoice_id: str
    tenant_id: str
    account_id: str
    number: str
    currency: str
    issue_date: date
    due_date: date
    lines: tuple[InvoiceLine, ...]
    discounts: tuple[DocumentDiscount, ...]
    withholdings: tuple[Withholding, ...]
    taxes: tuple[TaxBreakdown, ...]
    totals: InvoiceTotals
    notes: str | None
    bank: BankAccount | None
    creditor_reference: str | None
    partial_payments: bool
    minimum_partial_minor: int | None
    payer_name: str | None
    payer_email: str | None
    payer_language: Literal["en", "es"] | None
    now: datetime
    seller: Party | None = None
    buyer: Party | None = None


@dataclass(frozen=True)
class IssueInvoice:
    now: datetime


@dataclass(frozen=True)
class RecordLinkIssued:
    link_id: str
    now: datetime


@dataclass(frozen=True)
class IssueCreditNote:
    credit_note_id: str
    number: str
    reason: str
    lines: tuple[InvoiceLine, ...]
    taxes: tuple[TaxBreakdown, ...]
    totals: InvoiceTotals
    now: datetime


@dataclass(frozen=True)
class StartPayment:
    """A guest starts paying through a provider: the amount is the server's (all that is open, or a part)."""

    payment_id: str
    amount_minor: int
    method: PaymentMethod
    provider: str
    payer_name: str | None
    payer_email: str | None
    link_id: str | None
    now: datetime


@dataclass(frozen=True)
class RecordCheckout:
    """The guest was handed to the provider's page, which the provider knows as ``reference``."""

    payment_id: str
    reference: str
    now: datetime


@dataclass(frozen=True)
class ConfirmPayment:
    """The provider says the payment succeeded, for this amount and currency."""

    payment_id: str
    provider_payment_id: str
    amount_minor: int
    currency: str
    now: datetime


@dataclass(frozen=True)
class FailPayment:
    payment_id: str
    reason: str
    now: datetime


@dataclass(frozen=True)
class RecordOfflinePayment:
    payment_id: str
    amount_minor: int | None  # None: all that is due
    method: PaymentMethod
    reference: str | None
    payer_name: str | None
    now: datetime
    booked_by_bank: bool = False  # from a bank statement: the money is there, whatever is due (overpaid if more)
    payer_email: str | None = None  # where the receipt goes


@dataclass(frozen=True)
class ReversePayment:
    payment_id: str
    reason: Literal["failed_debit", "chargeback", "other"]
    now: datetime


@dataclass(frozen=True)
class RefundPayment:
    refund_id: str
    payment_id: str
    amount_minor: int | None  # None: all that is left of it
    reason: str
    now: datetime


Command = (CreateInvoice | IssueInvoice | RecordLinkIssued | IssueCreditNote | StartPayment | RecordCheckout
           | ConfirmPayment | FailPayment | RecordOfflinePayment | ReversePayment | RefundPayment)


# ---- state --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payment:
    payment_id: str
    amount_minor: int
    method: PaymentMethod
    provider: str
    status: PaymentStatus
    started_at: datetime
    provider_payment_id: str | None = None
    provider_reference: str | None = None  # the provider's id of the page the guest paid on (a Checkout Session)
    reference: str | None = None
    payer_name: str | None = None
    payer_email: str | None = None
    link_id: str | None = None
    refunded_minor: int = 0
    refund_ids: tuple[str, ...] = ()
    ended_at: datetime | None = None
    flagged: bool = False  # a provider reported it for another amount or currency

    @property
    def kept_minor(self) -> int:
        """What of it the firm still holds."""
        return self.amount_minor - self.refunded_minor if self.status == "succeeded" else 0


@dataclass(frozen=True)
class CreditNote:
    credit_note_id: str
    number: str
    reason: str
    amount_minor: int
    issued_at: datetime


@dataclass(frozen=True)
class Invoice:
    created: InvoiceCreated
    issued_at: datetime | None = None
    link_ids: tuple[str, ...] = ()
    payments: tuple[Payment, ...] = ()
    credit_notes: tuple[CreditNote, ...] = ()
    paid_at: datetime | None = None  # set while covered; a reopening clears it

    @property
    def tenant_id(self) -> str:
        return self.created.tenant_id

    @property
    def invoice_id(self) -> str:
        return self.created.invoice_id

    @property
    def currency(self) -> str:
        return self.created.currency

    @property
    def total_minor(self) -> int:
        return self.created.totals.payable_minor

    @property
    def credited_minor(self) -> int:
        return sum(note.amount_minor for note in self.credit_notes)

    @property
    def payable_minor(self) -> int:
        """The total less credit notes."""
        return max(self.total_minor - self.credited_minor, 0)

    @property
    def paid_minor(self) -> int:
        return sum(payment.kept_minor for payment in self.payments)

    @property
    def processing_minor(self) -> int:
        return sum(p.amount_minor for p in self.payments if p.status == "processing")

    @property
    def due_minor(self) -> int:
        return max(self.payable_minor - self.paid_minor, 0)

    @property
    def open_minor(self) -> int:
        """What a guest may still start paying: what is due less what is processing."""
        return max(self.due_minor - self.processing_minor, 0)

    @property
    def overpaid_minor(self) -> int:
        return max(self.paid_minor - self.payable_minor, 0)

    @property
    def status(self) -> InvoiceStatus:
        if self.issued_at is None:
            return "draft"
        if self.payable_minor == 0:
            return "credited"
        if self.paid_minor >= self.payable_minor:
            return "paid"
        return "partially_paid" if self.paid_minor > 0 else "open"

    def payment(self, payment_id: str) -> Payment | None:
        return next((p for p in self.payments if p.payment_id == payment_id), None)

    def smallest_payment(self) -> int:
        """The least a guest may pay now: all that is open, or the minimum part when parts are allowed."""
        if not self.created.partial_payments:
            return self.open_minor
        return min(self.created.minimum_partial_minor or 1, self.open_minor)


# ---- decide -------------------------------------------------------------------------------------------------


def decide(state: Invoice | None, command: Command) -> list[IntegrationEvent]:
    if isinstance(command, CreateInvoice):
        return [] if state is not None else [_created(command)]
    if state is None:
        raise InvoiceNotFound("no such invoice")
    tenant = {"invoice_id": state.invoice_id, "tenant_id": state.tenant_id}
    match command:
        case IssueInvoice(now=now):
            if state.issued_at is not None:
                return []
            return [InvoiceIssued(**tenant, account_id=state.created.account_id, number=state.created.number,
                                  currency=state.currency, payable_minor=state.total_minor,
                                  due_date=state.created.due_date, issued_at=now)]
        case RecordLinkIssued(link_id=link_id, now=now):
            return [] if link_id in state.link_ids else [InvoiceLinkIssued(**tenant, link_id=link_id, issued_at=now)]
        case IssueCreditNote() as note:
            return _credit_note(state, note, tenant)
        case StartPayment() as start:
            return _start(state, start, tenant)
        case RecordCheckout(payment_id=payment_id, reference=reference, now=now):
            payment = _payment(state, payment_id)
            if payment.provider_reference == reference:
                return []  # the same attempt handed over again (a resubmitted form): the provider gave the same page
            return [PaymentCheckoutOpened(**tenant, payment_id=payment_id, provider=payment.provider,
                                          provider_reference=reference, opened_at=now)]
        case ConfirmPayment() as confirm:
            return _confirm(state, confirm, tenant)
        case FailPayment(payment_id=payment_id, reason=reason, now=now):
            payment = _payment(state, payment_id)
            if payment.status != "processing":
                return []  # it succeeded already (a late or replayed failure), or failed before
            return [PaymentFailed(**tenant, payment_id=payment_id, reason=reason, failed_at=now)]
        case RecordOfflinePayment() as offline:
            return _offline(state, offline, tenant)
        case ReversePayment(payment_id=payment_id, reason=reason, now=now):
            payment = _payment(state, payment_id)
            if payment.status != "succeeded":
                return []
            return [PaymentReversed(**tenant, payment_id=payment_id, amount_minor=payment.kept_minor, reason=reason,
                                    reversed_at=now)]
        case RefundPayment() as refund:
            return _refund(state, refund, tenant)
    raise AssertionError(f"unhandled command {command!r}")


def _created(command: CreateInvoice) -> InvoiceCreated:
    if command.due_date < command.issue_date:
        raise InvalidRequest("due_date: not before the issue date")
    payable = command.totals.payable_minor
    if command.minimum_partial_minor is not None:
        if not command.partial_payments:
            raise InvalidRequest("minimum_partial: only with partial payments allowed")
        if not 0 < command.minimum_partial_minor <= payable:
            raise InvalidRequest("minimum_partial: more than 0 and at most the amount payable")
    return InvoiceCreated(
        invoice_id=command.invoice_id, tenant_id=command.tenant_id, account_id=command.account_id,
        number=command.number, currency=command.currency, issue_date=command.issue_date,
        due_date=command.due_date, lines=list(command.lines), discounts=list(command.discounts),
        withholdings=list(command.withholdings), taxes=list(command.taxes), totals=command.totals,
        notes=command.notes, bank=command.bank, creditor_reference=command.creditor_reference,
        partial_payments=command.partial_payments, minimum_partial_minor=command.minimum_partial_minor,
        payer_name=command.payer_name, payer_email=command.payer_email, payer_language=command.payer_language,
        seller=command.seller, buyer=command.buyer, created_at=command.now)


def _credit_note(state: Invoice, note: IssueCreditNote, tenant: dict) -> list[IntegrationEvent]:
    if any(n.credit_note_id == note.credit_note_id for n in state.credit_notes):
        return []
    if state.status == "draft":
        raise InvoiceIssuedAlready("a draft is not credited: it was never issued", status="draft")
    if note.totals.payable_minor > state.payable_minor:
        raise InvalidRequest(f"lines: the credit note is for more than is left to credit ({state.payable_minor})")
    issued = CreditNoteIssued(**tenant, credit_note_id=note.credit_note_id, number=note.number, reason=note.reason,
                              lines=list(note.lines), taxes=list(note.taxes), totals=note.totals, issued_at=note.now)
    return [issued, *_paid_if_covered(state, issued, note.now)]


def _start(state: Invoice, start: StartPayment, tenant: dict) -> list[IntegrationEvent]:
    if state.payment(start.payment_id) is not None:
        return []  # the same attempt again (a double submit): started once
    if state.status not in ("open", "partially_paid"):
        raise NotPayable(f"the invoice is {state.status}", status=state.status)
    if state.open_minor == 0:
        raise NotPayable("a payment of what is due is already under way", status="processing")
    amount = start.amount_minor
    if amount > state.open_minor:
        raise InvalidPayment(f"amount: at most {state.open_minor}, what is still open", open_minor=state.open_minor)
    if amount < state.smallest_payment():
        raise InvalidPayment(f"amount: at least {state.smallest_payment()}", open_minor=state.open_minor)
    return [PaymentStarted(**tenant, payment_id=start.payment_id, amount_minor=amount, currency=state.currency,
                           method=start.method, provider=start.provider, payer_name=start.payer_name,
                           payer_email=start.payer_email, link_id=start.link_id, started_at=start.now)]


def _confirm(state: Invoice, confirm: ConfirmPayment, tenant: dict) -> list[IntegrationEvent]:
    payment = _payment(state, confirm.payment_id)
    if payment.status in ("succeeded", "reversed"):
        return []  # a webhook delivered twice, or after the reversal it preceded
    if confirm.amount_minor != payment.amount_minor or confirm.currency != state.currency:
        if payment.flagged:
            return []
        return [PaymentFlagged(**tenant, payment_id=payment.payment_id, reported_amount_minor=confirm.amount_minor,
                               reported_currency=confirm.currency, flagged_at=confirm.now,
                               reason=f"started for {payment.amount_minor} {state.currency}, confirmed for "
                                      f"{confirm.amount_minor} {confirm.currency}")]
    # "failed" then "succeeded" happens (a declined first try, a successful retry of the same payment): it counts
    received = PaymentReceived(**tenant, payment_id=payment.payment_id, amount_minor=payment.amount_minor,
                               currency=state.currency, method=payment.method, provider=payment.provider,
                               provider_payment_id=confirm.provider_payment_id, payer_name=payment.payer_name,
                               payer_email=payment.payer_email, link_id=payment.link_id, received_at=confirm.now)
    return [received, *_paid_if_covered(state, received, received.received_at)]


def _offline(state: Invoice, offline: RecordOfflinePayment, tenant: dict) -> list[IntegrationEvent]:
    if state.payment(offline.payment_id) is not None:
        return []
    amount = state.due_minor if offline.amount_minor is None else offline.amount_minor
    if offline.booked_by_bank:
        if state.status == "draft" or amount <= 0:
            raise InvalidPayment(f"the invoice is {state.status}: a transfer to it is not recorded")
    elif state.status not in ("open", "partially_paid"):
        raise NotPayable(f"the invoice is {state.status}", status=state.status)
    elif not 0 < amount <= state.due_minor:
        raise InvalidPayment(f"amount: more than 0 and at most {state.due_minor}, what is due",
                             due_minor=state.due_minor)
    received = PaymentReceived(**tenant, payment_id=offline.payment_id, amount_minor=amount,
                               currency=state.currency, method=offline.method, provider=OFFLINE,
                               provider_payment_id=None, reference=offline.reference, payer_name=offline.payer_name,
                               payer_email=offline.payer_email,
                               received_at=offline.now)
    return [received, *_paid_if_covered(state, received, received.received_at)]


def _paid_if_covered(state: Invoice, event: PaymentReceived | CreditNoteIssued,
                     now: datetime) -> list[IntegrationEvent]:
    """InvoicePaid, when ``event`` makes what is received cover what is payable (a credit note can, for an
    invoice paid in part); a fully credited invoice is not "paid"."""
    after = evolve(state, event)
    if state.paid_at is not None or after.status != "paid":
        return []
    last = event if isinstance(event, PaymentReceived) else \
        max((p for p in after.payments if p.status == "succeeded"), key=lambda p: p.ended_at or p.started_at)
    return [InvoicePaid(invoice_id=state.invoice_id, tenant_id=state.tenant_id, amount_minor=after.paid_minor,
                        currency=state.currency, paid_at=now, provider=last.provider,
                        provider_payment_id=last.provider_payment_id or last.payment_id, link_id=last.link_id,
                        number=state.created.number, overpaid_minor=after.overpaid_minor or None)]


def _refund(state: Invoice, refund: RefundPayment, tenant: dict) -> list[IntegrationEvent]:
    payment = _payment(state, refund.payment_id)
    if refund.refund_id in payment.refund_ids:
        return []
    if payment.status != "succeeded":
        raise InvalidPayment(f"payment_id: a {payment.status} payment is not refunded", status=payment.status)
    left = payment.kept_minor
    amount = left if refund.amount_minor is None else refund.amount_minor
    if not 0 < amount <= left:
        raise InvalidPayment(f"amount: more than 0 and at most {left}, what is left of the payment")
    return [PaymentRefunded(**tenant, payment_id=payment.payment_id, refund_id=refund.refund_id, amount_minor=amount,
                            reason=refund.reason, refunded_at=refund.now)]


def _payment(state: Invoice, payment_id: str) -> Payment:
    payment = state.payment(payment_id)
    if payment is None:
        raise NotFound(f"payment_id: no payment {payment_id} on this invoice")
    return payment


# ---- evolve -------------------------------------------------------------------------------------------------


def evolve(state: Invoice | None, event: IntegrationEvent) -> Invoice:
    if isinstance(event, InvoiceCreated):
        return Invoice(created=event)
    assert state is not None, f"{type(event).__name__} before InvoiceCreated"
    match event:
        case InvoiceIssued(issued_at=at):
            return replace(state, issued_at=at)
        case InvoiceLinkIssued(link_id=link_id):
            return replace(state, link_ids=(*state.link_ids, link_id))
        case CreditNoteIssued() as note:
            return _reopened_or_not(replace(state, credit_notes=(*state.credit_notes, CreditNote(
                note.credit_note_id, note.number, note.reason, note.totals.payable_minor, note.issued_at))))
        case PaymentStarted() as started:
            return replace(state, payments=(*state.payments, Payment(
                payment_id=started.payment_id, amount_minor=started.amount_minor, method=started.method,
                provider=started.provider, status="processing", started_at=started.started_at,
                payer_name=started.payer_name, payer_email=started.payer_email, link_id=started.link_id)))
        case PaymentCheckoutOpened(payment_id=payment_id, provider_reference=reference):
            return _with(state, payment_id, provider_reference=reference)
        case PaymentFailed(payment_id=payment_id, failed_at=at):
            return _with(state, payment_id, status="failed", ended_at=at)
        case PaymentFlagged(payment_id=payment_id):
            return _with(state, payment_id, flagged=True)
        case PaymentReceived() as received:
            if state.payment(received.payment_id) is None:  # recorded by staff: never processing
                state = replace(state, payments=(*state.payments, Payment(
                    payment_id=received.payment_id, amount_minor=received.amount_minor, method=received.method,
                    provider=received.provider, status="processing", started_at=received.received_at,
                    reference=received.reference, payer_name=received.payer_name,
                    payer_email=received.payer_email)))
            return _with(state, received.payment_id, status="succeeded", ended_at=received.received_at,
                         provider_payment_id=received.provider_payment_id)
        case InvoicePaid(paid_at=at):
            return replace(state, paid_at=at)
        case PaymentReversed(payment_id=payment_id, reversed_at=at):
            return _reopened_or_not(_with(state, payment_id, status="reversed", ended_at=at))
        case PaymentRefunded(payment_id=payment_id, refund_id=refund_id, amount_minor=amount):
            payment = state.payment(payment_id)
            assert payment is not None
            return _reopened_or_not(_with(state, payment_id, refunded_minor=payment.refunded_minor + amount,
                                          refund_ids=(*payment.refund_ids, refund_id)))
    return state


def _with(state: Invoice, payment_id: str, **changes: object) -> Invoice:
    return replace(state, payments=tuple(replace(p, **changes) if p.payment_id == payment_id else p  # type: ignore[arg-type]
                                         for p in state.payments))


def _reopened_or_not(state: Invoice) -> Invoice:
    """A paid invoice that no longer is (money went back): it may be paid, and announced paid, again."""
    if state.paid_at is not None and state.paid_minor < state.payable_minor:
        return replace(state, paid_at=None)
    return state


INVOICE: Decider[Invoice, Command] = Decider(decide=decide, evolve=evolve)
