"""The staff API (``/v1/invoices``): invoices of the caller's tenant, their payments, refunds and credit notes.

Controllers only translate: HTTP to calls of ``handlers`` and their answers back to wire models. Invoices of
another tenant are simply not found (404). Creating POSTs honour ``Idempotency-Key`` (the kernel's). Money comes
in as decimal strings in the currency's major unit ("1234.50", never a JSON float) and goes out as integers of
its minor unit with the currency's exponent beside them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, TypeAlias

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from pydantic import BaseModel, Field

from loginless.events.payloads.payments import (
    BankAccount,
    DocumentDiscount,
    InvoiceLine,
    InvoiceTotals,
    Party,
    PaymentMethod,
    PostalAddress,
    TaxBreakdown,
    TaxCategory,
    Withholding,
)
from loginless.payments import handlers, money
from loginless.payments.domain import Invoice, InvoiceStatus, PaymentStatus
from loginless.payments.handlers import BankIn, InvoiceRequest, PaymentsContext
from loginless.payments.pdfs import RenderedPdf
from loginless.shared.web.auth import StaffPrincipal, internal_only
from loginless.shared.web.context import cause_of
from loginless.shared.web.downloads import content_disposition
from loginless.shared.web.idempotency import Answer, IdempotencyKey
from loginless.shared.web.pagination import PAGE_LIMIT_DEFAULT, PageCursor, PageLimit, after_key, page
from loginless.shared.web.problems import problem_responses

Staff: TypeAlias = NamedDependency[StaffPrincipal]
Payments: TypeAlias = NamedDependency[PaymentsContext]
PathId: TypeAlias = FromPath[str]
Text = Annotated[str, Field(min_length=1, max_length=500)]
Amount = Annotated[str, Field(pattern=r"^[0-9]{1,13}(\.[0-9]{1,6})?$", description='Major units, e.g. "1234.50"')]
Rate = Annotated[str, Field(pattern=r"^[0-9]{1,2}(\.[0-9]{1,4})?$", description='Percent, e.g. "21" or "7.5"')]


# ---- wire models ----------------------------------------------------------------------------------------


class LineIn(BaseModel):
    description: Text
    quantity: Amount = "1"
    unit_price: Amount = Field(description="Before tax, in major units")
    discount_percent: Rate | None = None
    tax_category: TaxCategory = Field("S", description="EN 16931 VAT category: S standard, Z zero, E exempt, "
                                      "AE reverse charge, K intra-community, G export, O outside scope, L IGIC, M IPSI")
    tax_rate: Rate = Field(description="VAT percent; 0 for Z, E, AE, K, G and O")

    def to_line(self) -> money.LineIn:
        return money.LineIn(description=self.description, quantity=Decimal(self.quantity),
                            unit_price=Decimal(self.unit_price), tax_category=self.tax_category,
                            tax_rate=Decimal(self.tax_rate),
                            discount_percent=Decimal(self.discount_percent) if self.discount_percent else None)


class DiscountIn(BaseModel):
    description: Text
    amount: Amount
    tax_category: TaxCategory = "S"
    tax_rate: Rate


class WithholdingIn(BaseModel):
    description: Text = Field(description='e.g. "IRPF"')
    rate: Rate


class BankDetailsIn(BaseModel):
    iban: str = Field(max_length=42)
    holder: Text
    bic: str | None = Field(None, max_length=11)


class PayerIn(BaseModel):
    """Whom the pay link is for: links e-mails it to them (and the issuing answer shows its URL once, to share by
    another channel too). Anyone holding the link may pay -- their accountant, say."""

    name: str | None = Field(None, max_length=200)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    language: Literal["en", "es"] | None = None


class AddressIn(BaseModel):
    lines: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=3)
    city: str | None = Field(None, max_length=100)
    postcode: str | None = Field(None, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, e.g. ES")


class PartyIn(BaseModel):
    """The seller (the firm) or the buyer, as the e-invoice names them (EN 16931 BG-4 and BG-7)."""

    name: Text
    vat_id: str | None = Field(None, pattern=r"^[A-Z]{2}[0-9A-Za-z+*.]{2,13}$",
                               description="VAT identifier with its country prefix, e.g. ESB12345678")
    address: AddressIn

    def to_party(self) -> Party:
        return Party(name=self.name, vat_id=self.vat_id, address=PostalAddress(**self.address.model_dump()))


class NewInvoice(BaseModel):
    account_id: str = Field(min_length=1, max_length=100, description="The client account at the documents service")
    number: str = Field(min_length=1, max_length=60, description="Unique within the tenant")
    currency: str = Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217")
    issue_date: date
    due_date: date
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    discounts: list[DiscountIn] = Field(default_factory=list, max_length=50)
    withholdings: list[WithholdingIn] = Field(default_factory=list, max_length=5)
    notes: str | None = Field(None, max_length=2000)
    bank: BankDetailsIn | None = Field(None, description="For payment by bank transfer")
    partial_payments: bool = False
    minimum_partial: Amount | None = Field(None, description="The least one part may be (the last part may be less)")
    payer: PayerIn
    seller: PartyIn | None = Field(None, description="The firm's legal details: with the buyer's, the invoice's PDF "
                                   "is also an EN 16931 e-invoice (Factur-X)")
    buyer: PartyIn | None = None

    def to_request(self) -> InvoiceRequest:
        payer = self.payer
        return InvoiceRequest(
            account_id=self.account_id, number=self.number, currency=self.currency, issue_date=self.issue_date,
            due_date=self.due_date, lines=tuple(line.to_line() for line in self.lines),
            discounts=tuple(money.DiscountIn(d.description, Decimal(d.amount), d.tax_category, Decimal(d.tax_rate))
                            for d in self.discounts),
            withholdings=tuple(money.WithholdingIn(w.description, Decimal(w.rate)) for w in self.withholdings),
            notes=self.notes, bank=BankIn(self.bank.iban, self.bank.holder, self.bank.bic) if self.bank else None,
            partial_payments=self.partial_payments, minimum_partial=self.minimum_partial, payer_name=payer.name,
            payer_email=payer.email, payer_language=payer.language,
            seller=self.seller.to_party() if self.seller else None, buyer=self.buyer.to_party() if self.buyer else None)


class CreditNoteIn(BaseModel):
    number: str = Field(min_length=1, max_length=60)
    reason: Text
    lines: list[LineIn] = Field(min_length=1, max_length=500)


class OfflinePaymentIn(BaseModel):
    amount: Amount | None = Field(None, description="Absent: all that is due")
    method: PaymentMethod = "transfer"
    reference: str | None = Field(None, max_length=140, description="The bank's reference of the transfer")
    payer_name: str | None = Field(None, max_length=200)
    payer_email: str | None = Field(None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$",
                                    description="Where the payment's receipt is e-mailed")


class RefundIn(BaseModel):
    amount: Amount | None = Field(None, description="Absent: all that is left of the payment")
    reason: Text


class ReversalIn(BaseModel):
    reason: Literal["failed_debit", "chargeback", "other"]


class PaymentOut(BaseModel):
    payment_id: str
    amount_minor: int
    refunded_minor: int
    status: PaymentStatus
    method: PaymentMethod
    provider: str
    provider_payment_id: str | None
    reference: str | None
    payer_name: str | None
    started_at: datetime
    ended_at: datetime | None
    flagged: bool = Field(description="A provider reported it for another amount or currency: not counted")


class CreditNoteOut(BaseModel):
    credit_note_id: str
    number: str
    reason: str
    amount_minor: int
    issued_at: datetime


class InvoiceOut(BaseModel):
    invoice_id: str
    account_id: str
    number: str
    status: InvoiceStatus
    currency: str
    currency_exponent: int
    issue_date: date
    due_date: date
    lines: list[InvoiceLine]
    discounts: list[DocumentDiscount]
    taxes: list[TaxBreakdown]
    withholdings: list[Withholding]
    totals: InvoiceTotals
    credited_minor: int
    payable_minor: int = Field(description="The total less credit notes")
    paid_minor: int
    processing_minor: int = Field(description="Payments under way: they count against what may still be started")
    due_minor: int
    overpaid_minor: int = Field(description="Received beyond what is payable: for staff to refund")
    notes: str | None
    bank: BankAccount | None
    creditor_reference: str | None
    partial_payments: bool
    minimum_partial_minor: int | None
    link_ids: list[str]
    payments: list[PaymentOut]
    credit_notes: list[CreditNoteOut]
    created_at: datetime
    issued_at: datetime | None
    paid_at: datetime | None

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        c = invoice.created
        return cls(
            invoice_id=invoice.invoice_id, account_id=c.account_id, number=c.number, status=invoice.status,
            currency=c.currency, currency_exponent=money.exponent(c.currency), issue_date=c.issue_date,
            due_date=c.due_date, lines=c.lines, discounts=c.discounts, taxes=c.taxes, withholdings=c.withholdings,
            totals=c.totals, credited_minor=invoice.credited_minor, payable_minor=invoice.payable_minor,
            paid_minor=invoice.paid_minor, processing_minor=invoice.processing_minor, due_minor=invoice.due_minor,
            overpaid_minor=invoice.overpaid_minor, notes=c.notes, bank=c.bank,
            creditor_reference=c.creditor_reference, partial_payments=c.partial_payments,
            minimum_partial_minor=c.minimum_partial_minor, link_ids=list(invoice.link_ids),
            payments=[PaymentOut(payment_id=p.payment_id, amount_minor=p.amount_minor,
                                 refunded_minor=p.refunded_minor, status=p.status, method=p.method,
                                 provider=p.provider, provider_payment_id=p.provider_payment_id,
                                 reference=p.reference, payer_name=p.payer_name, started_at=p.started_at,
                                 ended_at=p.ended_at, flagged=p.flagged) for p in invoice.payments],
            credit_notes=[CreditNoteOut(credit_note_id=n.credit_note_id, number=n.number, reason=n.reason,
                                        amount_minor=n.amount_minor, issued_at=n.issued_at)
                          for n in invoice.credit_notes],
            created_at=c.created_at, issued_at=invoice.issued_at, paid_at=invoice.paid_at)


class IssuedOut(InvoiceOut):
    link_url: str | None = Field(description="The pay link's URL when links issued it at once: shown this once "
                                 "(links keeps only a hash). Otherwise the worker issues it and links e-mails it")


class InvoiceSummary(BaseModel):
    invoice_id: str
    account_id: str
    number: str
    status: InvoiceStatus
    currency: str
    total_minor: int
    credited_minor: int
    paid_minor: int
    processing_minor: int
    due_date: date
    created_at: datetime
    issued_at: datetime | None
    paid_at: datetime | None


class InvoiceList(BaseModel):
    invoices: list[InvoiceSummary]
    next: str | None = Field(description="Pass as ``after`` for the next page")
    next_cursor: str | None = Field(default=None, description="Pass as ``cursor`` for the next page; null at the end")


# ---- controllers ------------------------------------------------------------------------------------------


class InvoicesController(Controller):
    path = "/v1/invoices"
    tags = ["invoices"]

    @post("/")
    async def create(self, request: Request, data: JSONBody[NewInvoice], staff: Staff, payments: Payments,
                     idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """A draft invoice: its lines, discounts and withholdings; VAT is computed per category and rate."""
        invoice_request = data.to_request()

        async def work() -> Answer:
            invoice = await handlers.create_invoice(payments, staff.tenant_id, invoice_request,
                                                    cause=cause_of(request))
            return Answer(201, InvoiceOut.of(invoice).model_dump(mode="json"))

        return (await payments.idempotency.run(tenant_id=staff.tenant_id, operation="create-invoice",
                                               key=idempotency_key, request=data.model_dump(mode="json"),
                                               work=work)).response()

    @get("/")
    async def list(self, staff: Staff, payments: Payments, status: FromQuery[InvoiceStatus | None] = None,
                   account_id: Annotated[str | None, QueryParameter(max_length=100)] = None,
                   overdue: FromQuery[bool] = False,
                   after: Annotated[str | None, QueryParameter(max_length=64)] = None, cursor: PageCursor = None,
                   limit: PageLimit = PAGE_LIMIT_DEFAULT) -> InvoiceList:
        """Newest first, filtered by status, client account, or overdue (still due after the due date)."""
        rows = await handlers.invoices(payments, staff.tenant_id, status=status, account_id=account_id,
                                       overdue=overdue, limit=limit + 1, after=after_key(cursor, after))
        rows, next_cursor = page(rows, limit, key=lambda row: (row["invoice_id"],))
        items = [InvoiceSummary(**{name: row[name] for name in InvoiceSummary.model_fields}) for row in rows]
        return InvoiceList(invoices=items, next=items[-1].invoice_id if next_cursor else None,
                           next_cursor=next_cursor)

    @get("/{invoice_id:str}")
    async def get_one(self, invoice_id: PathId, staff: Staff, payments: Payments) -> InvoiceOut:
        return InvoiceOut.of(await handlers.invoice(payments, staff.tenant_id, invoice_id))

    @get("/{invoice_id:str}/pdf", media_type="application/pdf")
    async def pdf(self, invoice_id: PathId, staff: Staff, payments: Payments,
                  language: FromQuery[Literal["en", "es"] | None] = None) -> Response[bytes]:
        """The invoice's PDF, in the payer's language unless asked for another: also its EN 16931 e-invoice
        (Factur-X, PDF/A-3 with ``factur-x.xml``) when the invoice has the seller's and buyer's details and a
        currency of at most two decimals. ``X-E-Invoice`` says which (and why not)."""
        invoice = await handlers.invoice(payments, staff.tenant_id, invoice_id)
        rendered = await handlers.invoice_pdf(payments, invoice, language or invoice.created.payer_language or "en")
        return pdf_response(rendered.content, f"invoice-{invoice.created.number}.pdf", e_invoice=rendered)

    @get("/{invoice_id:str}/payments/{payment_id:str}/receipt", media_type="application/pdf")
    async def receipt(self, invoice_id: PathId, payment_id: PathId, staff: Staff, payments: Payments,
                      language: FromQuery[Literal["en", "es"]] = "en") -> Response[bytes]:
        """A received payment's receipt (PDF): who paid, how much, how and when, and what remained due after it."""
        content = await handlers.receipt_pdf(payments, staff.tenant_id, invoice_id, payment_id, language)
        return pdf_response(content, f"receipt-{payment_id}.pdf")

    @post("/{invoice_id:str}/issue", status_code=200)
    async def issue(self, request: Request, invoice_id: PathId, staff: Staff, payments: Payments) -> IssuedOut:
        """Issue a draft: it becomes payable and its pay link is issued; issuing again changes nothing."""
        issued = await handlers.issue_invoice(payments, staff.tenant_id, invoice_id, cause=cause_of(request))
        return IssuedOut(**InvoiceOut.of(issued.invoice).model_dump(), link_url=issued.link_url)

    @post("/{invoice_id:str}/credit-notes")
    async def credit(self, request: Request, invoice_id: PathId, data: JSONBody[CreditNoteIn], staff: Staff,
                     payments: Payments, idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Correct an issued invoice: a credit note lowers what is payable (all of it: the invoice is credited)."""
        async def work() -> Answer:
            invoice = await handlers.issue_credit_note(
                payments, staff.tenant_id, invoice_id, number=data.number, reason=data.reason,
                lines=[line.to_line() for line in data.lines], cause=cause_of(request))
            return Answer(201, InvoiceOut.of(invoice).model_dump(mode="json"))

        return (await payments.idempotency.run(tenant_id=staff.tenant_id, operation=f"credit-note:{invoice_id}",
                                               key=idempotency_key, request=data.model_dump(mode="json"),
                                               work=work)).response()

    @post("/{invoice_id:str}/payments")
    async def record_payment(self, request: Request, invoice_id: PathId, data: JSONBody[OfflinePaymentIn],
                             staff: Staff, payments: Payments,
                             idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Record a payment received outside any provider (a transfer, cash); never more than is due."""
        async def work() -> Answer:
            invoice, payment_id = await handlers.record_offline_payment(
                payments, staff.tenant_id, invoice_id, amount=data.amount, method=data.method,
                reference=data.reference, payer_name=data.payer_name, payer_email=data.payer_email,
                cause=cause_of(request))
            return Answer(201, {"payment_id": payment_id, "invoice": InvoiceOut.of(invoice).model_dump(mode="json")})

        return (await payments.idempotency.run(tenant_id=staff.tenant_id, operation=f"payment:{invoice_id}",
                                               key=idempotency_key, request=data.model_dump(mode="json"),
                                               work=work)).response()

    @post("/{invoice_id:str}/payments/{payment_id:str}/refunds")
    async def refund(self, request: Request, invoice_id: PathId, payment_id: PathId, data: JSONBody[RefundIn],
                     staff: Staff, payments: Payments, idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Refund a received payment, in part or whole; the invoice reopens if it no longer is covered."""
        async def work() -> Answer:
            invoice, refund_id = await handlers.refund_payment(
                payments, staff.tenant_id, invoice_id, payment_id, amount=data.amount, reason=data.reason,
                cause=cause_of(request))
            return Answer(201, {"refund_id": refund_id, "invoice": InvoiceOut.of(invoice).model_dump(mode="json")})

        return (await payments.idempotency.run(tenant_id=staff.tenant_id, operation=f"refund:{payment_id}",
                                               key=idempotency_key, request=data.model_dump(mode="json"),
                                               work=work)).response()

    @post("/{invoice_id:str}/payments/{payment_id:str}/reversal", status_code=200)
    async def reverse(self, request: Request, invoice_id: PathId, payment_id: PathId, data: JSONBody[ReversalIn],
                      staff: Staff, payments: Payments) -> InvoiceOut:
        """Record that received money went back (a returned transfer or debit, a chargeback): the invoice
        reopens. Recording it again changes nothing."""
        invoice = await handlers.reverse_payment(payments, staff.tenant_id, invoice_id, payment_id,
                                                 reason=data.reason, cause=cause_of(request))
        return InvoiceOut.of(invoice)


def pdf_response(content: bytes, name: str, *, e_invoice: RenderedPdf | None = None) -> Response[bytes]:
    headers = {"Content-Disposition": content_disposition("attachment", name), "X-Content-Type-Options": "nosniff"}
    if e_invoice is not None:
        headers["X-E-Invoice"] = "factur-x; profile=en16931" if e_invoice.einvoice else \
            f'none; reason="{e_invoice.why_not}"'
    return Response(content, media_type="application/pdf", headers=headers)


class InternalController(Controller):
    """For the other services only (``Authorization: Bearer <PAYMENTS_INTERNAL_API_SECRET>``): notifications
    attaches a payment's receipt to the mail it sends the payer."""

    path = "/internal/v1/tenants/{tenant_id:str}/invoices/{invoice_id:str}/payments/{payment_id:str}"
    guards = [internal_only]
    include_in_schema = False

    @get("/receipt", media_type="application/pdf")
    async def receipt(self, tenant_id: PathId, invoice_id: PathId, payment_id: PathId, payments: Payments,
                      language: FromQuery[Literal["en", "es"]] = "en") -> Response[bytes]:
        content = await handlers.receipt_pdf(payments, tenant_id, invoice_id, payment_id, language)
        return pdf_response(content, f"receipt-{payment_id}.pdf")


class StatementLineOut(BaseModel):
    entry_reference: str
    amount: str
    currency: str
    creditor_reference: str | None
    outcome: str = Field(description='"recorded", "recorded before", or why the credit was not matched')
    invoice_id: str | None
    payment_id: str | None


class StatementOut(BaseModel):
    credits: list[StatementLineOut]


class StatementsController(Controller):
    path = "/v1/statements"
    tags = ["statements"]

    @post("/", request_max_body_size=10 * 1024 * 1024, status_code=200, responses=problem_responses({
        413: "The statement is larger than 10 MiB", 422: "The body is not a camt.053 statement"}))
    async def import_statement(self, request: Request, staff: Staff, payments: Payments) -> StatementOut:
        """A bank statement (ISO 20022 camt.053 XML, as the request body): each booked credit quoting an invoice's
        RF creditor reference is recorded as a transfer received. Importing it again records nothing twice."""
        lines = await handlers.import_statement(payments, staff.tenant_id, await request.body(),
                                                cause=cause_of(request))
        return StatementOut(credits=[StatementLineOut(**line.__dict__) for line in lines])


class WebhooksController(Controller):
    """Where payment providers report what happened to a payment: verified by its signature, deduplicated by
    the provider's event id, judged by the invoice's decider. No API key: the signature is the credential."""

    path = "/webhooks"
    tags = ["webhooks"]

    @post("/test", status_code=200, responses=problem_responses({
        400: "The signature is missing, wrong or too old, or the body is not an event of the provider",
        404: "The built-in test provider is not the one in use"}))
    async def test_provider(self, request: Request, payments: Payments) -> WebhookOut:
        """The built-in test provider's webhook (``Test-Signature: t=<unix time>,v1=<HMAC-SHA256>``)."""
        return await _webhook(payments, "test", request, "test-signature")

    @post("/stripe", status_code=200, responses=problem_responses({
        400: "The signature is missing, wrong or too old, or the body is not a Stripe event",
        404: "Stripe is not the provider in use",
        502: "Stripe did not answer as expected when the object was fetched again (it retries the webhook)"}))
    async def stripe(self, request: Request, payments: Payments) -> WebhookOut:
        """Stripe's webhook endpoint (``Stripe-Signature``, verified with ``PAYMENTS_STRIPE_WEBHOOK_SECRET``); its
        events only say which object changed: the service fetches it again and acts on its current state."""
        return await _webhook(payments, "stripe", request, "stripe-signature")


class WebhookOut(BaseModel):
    received: bool
    duplicate: bool = Field(description="Handled before (the same event id): nothing changed")
    flagged: bool = Field(description="It named another amount or currency than the payment's: not counted, "
                          "the payment flagged for staff")


async def _webhook(payments: PaymentsContext, provider: str, request: Request, header: str) -> WebhookOut:
    handled = await handlers.receive_webhook(payments, provider, await request.body(), request.headers.get(header))
    return WebhookOut(received=True, duplicate=not handled.new, flagged=handled.flagged)


ROUTE_HANDLERS = [InvoicesController, StatementsController, WebhooksController, InternalController]
