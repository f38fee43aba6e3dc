"""Events of the payments service (topic ``payments.events``), all of the invoice stream (subject: the invoice id).

Amounts are integers in the currency's minor unit (ISO 4217 exponent 0, 2 or 3), decided on the server; quantities,
unit prices and rates are decimals written as strings, never floats. An invoice is created as a draft, issued (its
pay link is issued at links), paid by one or more payments, corrected only by credit notes. A payment is
*processing* (``PaymentStarted``) until it succeeds (``PaymentReceived``) or fails (``PaymentFailed``); a received
payment can later be reversed (a failed debit, a chargeback) or refunded. **InvoicePaid** (its name is part of
the contract) is recorded when succeeded payments first cover what is payable, and again only if a reversal or a
refund reopened the invoice in between.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from loginless.events.catalog import IntegrationEvent

# EN 16931 VAT category codes (UNTDID 5305): standard, zero, exempt, reverse charge, intra-community, export,
# outside the scope, Canary Islands (IGIC), Ceuta and Melilla (IPSI).
TaxCategory = Literal["S", "Z", "E", "AE", "K", "G", "O", "L", "M"]
PaymentMethod = Literal["card", "transfer", "cash", "other"]


class InvoiceLine(BaseModel):
    description: str
    quantity: Decimal
    unit_price: Decimal  # in the currency's major unit, before tax
    discount_percent: Decimal | None = None
    tax_category: TaxCategory
    tax_rate: Decimal  # percent
    net_minor: int  # quantity x unit price less the line's discount, rounded once


class DocumentDiscount(BaseModel):
    """A discount on the whole document (EN 16931 BG-20): it lowers one VAT category's taxable amount."""

    description: str
    amount_minor: int
    tax_category: TaxCategory
    tax_rate: Decimal


class TaxBreakdown(BaseModel):
    """One VAT category and rate (EN 16931 BG-23): its taxable amount and the tax on it, rounded once."""

    tax_category: TaxCategory
    tax_rate: Decimal
    taxable_minor: int
    tax_minor: int
    exemption_reason: str | None = None


class Withholding(BaseModel):
    """Tax the payer keeps back and pays to the authority themselves (Spain's IRPF): off the amount payable."""

    description: str
    rate: Decimal  # percent of the taxable amount
    base_minor: int
    amount_minor: int


class InvoiceTotals(BaseModel):
    lines_minor: int  # sum of the lines' net amounts
    discounts_minor: int  # document-level discounts
    taxable_minor: int  # lines less discounts: the total without VAT
    tax_minor: int
    gross_minor: int  # with VAT
    withheld_minor: int
    payable_minor: int  # gross less withholdings: what the payer pays


class BankAccount(BaseModel):
    iban: str  # electronic form, no spaces
    bic: str | None = None
    holder: str


class PostalAddress(BaseModel):
    lines: list[str]  # street, number, floor: up to three
    city: str | None = None
    postcode: str | None = None
    country: str  # ISO 3166-1 alpha-2, e.g. "ES"


class Party(BaseModel):
    """The seller (the firm, EN 16931 BG-4) or the buyer (BG-7) as the e-invoice names them."""

    name: str
    vat_id: str | None = None  # with its country prefix, e.g. "ESB12345678"
    address: PostalAddress


class InvoiceCreated(IntegrationEvent, service="payments", version=1):
    """A draft invoice; nothing is payable until it is issued."""

    invoice_id: str
    tenant_id: str
    account_id: str  # the client account of the documents service
    number: str
    currency: str
    issue_date: date
    due_date: date
    lines: list[InvoiceLine]
    discounts: list[DocumentDiscount]
    withholdings: list[Withholding]
    taxes: list[TaxBreakdown]
    totals: InvoiceTotals
    notes: str | None = None
    bank: BankAccount | None = None
    creditor_reference: str | None = None  # ISO 11649 RF reference a bank transfer quotes
    partial_payments: bool = False
    minimum_partial_minor: int | None = None
    payer_name: str | None = None  # whom the pay link is for
    payer_email: str | None = None
    payer_language: Literal["en", "es"] | None = None
    seller: Party | None = None  # with the buyer: what makes the invoice's PDF an EN 16931 e-invoice (Factur-X)
    buyer: Party | None = None
    created_at: datetime


class InvoiceIssued(IntegrationEvent, service="payments", version=1):
    invoice_id: str
    tenant_id: str
    account_id: str
    number: str
    currency: str
    payable_minor: int
    due_date: date
    issued_at: datetime


class InvoiceLinkIssued(IntegrationEvent, service="payments", version=1):
    """A pay link of the invoice was issued at links (the link's own events say to whom and until when)."""

    invoice_id: str
    tenant_id: str
    link_id: str
    issued_at: datetime


class CreditNoteIssued(IntegrationEvent, service="payments", version=1):
    """A correction: the invoice is never edited; a credit note lowers what is payable (all of it: *credited*)."""

    invoice_id: str
    tenant_id: str
    credit_note_id: str
    number: str
    reason: str
    lines: list[InvoiceLine]
    taxes: list[TaxBreakdown]
    totals: InvoiceTotals
    issued_at: datetime


class PaymentStarted(IntegrationEvent, service="payments", version=1):
    """A payment is processing: its amount counts against what may still be paid until it succeeds or fails."""

    invoice_id: str
    tenant_id: str
    payment_id: str
    amount_minor: int
    currency: str
    method: PaymentMethod
    provider: str
    payer_name: str | None = None
    payer_email: str | None = None
    link_id: str | None = None
    started_at: datetime


class PaymentCheckoutOpened(IntegrationEvent, service="payments", version=1):
    """The guest was handed to the provider's hosted page for a processing payment. ``provider_reference`` is the
    provider's id of that page (Stripe: the Checkout Session), by which the service asks the provider about the
    payment when no webhook came."""

    invoice_id: str
    tenant_id: str
    payment_id: str
    provider: str
    provider_reference: str
    opened_at: datetime


class PaymentFailed(IntegrationEvent, service="payments", version=1):
    invoice_id: str
    tenant_id: str
    payment_id: str
    reason: str
    failed_at: datetime


class PaymentFlagged(IntegrationEvent, service="payments", version=1):
    """A provider confirmed a payment for another amount or currency than it was started for: never counted; the
    payment stays processing (its amount held back) until staff look into it."""

    invoice_id: str
    tenant_id: str
    payment_id: str
    reason: str
    reported_amount_minor: int
    reported_currency: str
    flagged_at: datetime


class PaymentReceived(IntegrationEvent, service="payments", version=1):
    """One successful payment: through a provider, or recorded by staff (a transfer, cash)."""

    invoice_id: str
    tenant_id: str
    payment_id: str
    amount_minor: int
    currency: str
    method: PaymentMethod
    provider: str  # "offline" when staff recorded it
    provider_payment_id: str | None = None
    reference: str | None = None
    payer_name: str | None = None
    payer_email: str | None = None
    link_id: str | None = None
    received_at: datetime


class PaymentReversed(IntegrationEvent, service="payments", version=1):
    """Money received went back without our doing: a failed direct debit, a chargeback. The invoice reopens."""

    invoice_id: str
    tenant_id: str
    payment_id: str
    amount_minor: int
    reason: Literal["failed_debit", "chargeback", "other"]
    reversed_at: datetime


class PaymentRefunded(IntegrationEvent, service="payments", version=1):
    invoice_id: str
    tenant_id: str
    payment_id: str
    refund_id: str
    amount_minor: int
    reason: str
    refunded_at: datetime


class InvoicePaid(IntegrationEvent, service="payments", version=1):
    """Amounts are integers in the currency's minor unit, decided server-side."""

    invoice_id: str
    tenant_id: str
    amount_minor: int
    currency: str
    paid_at: datetime
    provider: str
    provider_payment_id: str
    link_id: str | None = None
    number: str | None = None
    overpaid_minor: int | None = None  # received beyond what is payable, for staff to refund
