"""The pay page and the built-in test provider's card page, reached only through the gateway at ``/guest/…``.

The invoice is always the assertion's (its resource), whatever the path or the form says. The page shows the firm,
the invoice (lines, VAT per category, withholdings, totals, due date) and what is due; the payer gives their
name and e-mail and, when the invoice allows parts, how much to pay -- judged on the server, never above what is
open. Card payments are handed to the provider's hosted page (the built-in test provider's is served here); a
bank transfer shows the firm's IBAN, the RF creditor reference and an EPC QR code. A paid or credited invoice's
page says so and has no pay button. Everything works without JavaScript; no third-party script is ever loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import structlog
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from markupsafe import Markup
from segno import helpers as segno_helpers

from loginless.payments import domain, handlers, money
from loginless.payments.domain import Invoice
from loginless.payments.handlers import PaymentsContext
from loginless.payments.http import pdf_response
from loginless.payments.i18n import CATALOGS
from loginless.payments.ports import CANCELED_QUERY, ProviderReport
from loginless.payments.testprovider import TestProvider, new_event_id
from loginless.shared.errors import LoginlessError, NotFound
from loginless.shared.eventstore import Cause
from loginless.shared.guest.i18n import N_, format_date
from loginless.shared.guest.pages import NO_STORE, forwarded_prefix, guest_asset_routes, service_page_context
from loginless.shared.guest.problems import GuestProblem, guest_problem
from loginless.shared.web.assertion import GuestAssertion
from loginless.shared.web.context import correlation_id_of

log = structlog.get_logger(__name__)

UNNAMED_FIRM = N_("the firm")
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]

NOT_PAYABLE = GuestProblem(
    title=N_("This payment cannot be made now"),
    explanation=N_("The invoice changed while you were paying, or a payment of it is already under way."),
    next_step=N_("Open your link again to see what is due now. If you have questions, contact %(firm)s."),
    next_step_unbranded=N_("Open your link again to see what is due now."))


class GuestPages:
    """What the page handlers share: the service, and the kit's page context with the firm's branding."""

    def __init__(self, ctx: PaymentsContext) -> None:
        self.ctx = ctx

    async def context(self, request: Request, guest: GuestAssertion, **values: Any) -> dict[str, Any]:
        return service_page_context(request, recipient_language=guest.recipient.language,
                                    branding=await self.ctx.links.branding(guest.tenant_id), catalogs=CATALOGS,
                                    unnamed_firm=UNNAMED_FIRM, **values)


def error_page(error: LoginlessError, context: dict[str, Any]) -> Template:
    problem = NOT_PAYABLE if isinstance(error, domain.NotPayable) else \
        guest_problem(error.problem_type, error.status_code)
    return Template("guest/error.html", context={**context, "problem": problem}, status_code=error.status_code,
                    headers=NO_STORE)


def facts(invoice: Invoice, lang: str) -> dict[str, Any]:
    """The invoice as the page shows it: every amount written in the guest's locale."""
    def amount(minor: int) -> str:
        return money.formatted(minor, invoice.currency, lang)

    c = invoice.created
    digits = money.exponent(invoice.currency)
    return {
        "invoice": invoice, "number": c.number, "status": invoice.status, "amount": amount,
        "due_date": format_date(c.due_date, lang), "issue_date": format_date(c.issue_date, lang),
        "due": amount(invoice.due_minor), "open": amount(invoice.open_minor), "open_minor": invoice.open_minor,
        "processing": invoice.processing_minor, "smallest": amount(invoice.smallest_payment()),
        "open_major": str(money.from_minor(invoice.open_minor, digits)),
        "step": "1" if digits == 0 else f"0.{'0' * (digits - 1)}1",
        "payable": invoice.status in ("open", "partially_paid") and invoice.open_minor > 0,
    }


def epc_qr(invoice: Invoice) -> Markup | None:
    """The EPC069-12 QR code of a SEPA transfer of what is due (euros only), with the RF reference, as inline
    SVG (no image request, nothing the page's CSP must allow)."""
    bank, c = invoice.created.bank, invoice.created
    if bank is None or invoice.currency != "EUR" or not 0 < invoice.due_minor <= 99_999_999_999:
        return None
    qr = segno_helpers.make_epc_qr(name=bank.holder[:70], iban=bank.iban, bic=bank.bic or None,
                                   amount=money.from_minor(invoice.due_minor, 2), reference=c.creditor_reference)
    return Markup(qr.svg_inline(scale=4, border=2, omitsize=True))  # noqa: S704 -- segno's own SVG markup


class GuestController(Controller):
    path = "/guest"
    include_in_schema = False

    @get(["/"], media_type=MediaType.HTML)
    async def landing(self, request: Request, guest: NamedDependency[GuestAssertion],
                      guest_pages: NamedDependency[GuestPages]) -> Template:
        """The invoice and what is due; the pay form while something is open."""
        context = await guest_pages.context(request, guest)
        payment_id = request.query_params.get("payment", "")
        try:
            if CANCELED_QUERY in request.query_params:  # back from the provider's page by its cancel link
                invoice = await handlers.cancel_card_payment(guest_pages.ctx, guest, payment_id,
                                                             cause=Cause(correlation_id_of(request)))
            else:
                invoice = await handlers.guest_invoice(guest_pages.ctx, guest)
        except LoginlessError as error:
            return error_page(error, context)
        returned = invoice.payment(payment_id)
        return self._page(invoice, context, returned=returned)

    def _page(self, invoice: Invoice, context: dict[str, Any], *, returned: domain.Payment | None = None,
              errors: list[str] | None = None, form: dict[str, str] | None = None, status_code: int = 200) -> Template:
        return Template("pay.html", headers=NO_STORE, status_code=status_code, context={
            **context, **facts(invoice, context["lang"]), "returned": returned, "errors": errors or [],
            "form": form or {}, "attempt": domain.new_payment_id(), "qr": epc_qr(invoice)})

    @post("/pay", media_type=MediaType.HTML)
    async def pay(self, request: Request, guest: NamedDependency[GuestAssertion],
                  guest_pages: NamedDependency[GuestPages], data: Form) -> Response:
        """Start a card payment of the amount the server decides, and hand the guest to the provider's page."""
        ctx = guest_pages.ctx
        context = await guest_pages.context(request, guest)
        try:
            invoice = await handlers.guest_invoice(ctx, guest)
            name, email = data.get("name", "").strip(), data.get("email", "").strip()
            errors = []
            if not name:
                errors.append(N_("Enter your name."))
            if "@" not in email or len(email) > 254:
                errors.append(N_("Enter your e-mail address, so we can send you a receipt."))
            amount_minor = None
            if invoice.created.partial_payments and data.get("amount"):
                try:
                    amount = money.parsed(data["amount"], context["lang"])
                    amount_minor = money.to_minor(amount, money.exponent(invoice.currency))
                except ValueError:
                    errors.append(N_("Enter the amount as a number."))
            if errors:
                return self._page(invoice, context, errors=errors, form=data, status_code=422)
            attempt = data.get("attempt", "")
            if not attempt.startswith("pay_") or len(attempt) > 40:
                raise NotFound("no such payment attempt")
            url = await handlers.pay_by_card(ctx, guest, attempt_id=attempt, amount_minor=amount_minor,
                                             payer_name=name[:200], payer_email=email, return_url=context["prefix"],
                                             cause=Cause(correlation_id_of(request)))
        except domain.InvalidPayment as error:
            invoice = await handlers.guest_invoice(ctx, guest)
            return self._page(invoice, context, errors=[_amount_error(error, invoice)], form=data, status_code=422)
        except LoginlessError as error:
            return error_page(error, context)
        return Redirect(url if url != context["prefix"] else f"{url}/?payment={attempt}", status_code=303)

    @get("/invoice.pdf")
    async def invoice_pdf(self, request: Request, guest: NamedDependency[GuestAssertion],
                          guest_pages: NamedDependency[GuestPages]) -> Response:
        """The invoice's PDF (its Factur-X e-invoice) in the guest's language."""
        context = await guest_pages.context(request, guest)
        try:
            invoice = await handlers.guest_invoice(guest_pages.ctx, guest)
            rendered = await handlers.invoice_pdf(guest_pages.ctx, invoice, context["lang"])
        except LoginlessError as error:
            return error_page(error, context)
        return pdf_response(rendered.content, f"invoice-{invoice.created.number}.pdf")

    @get("/receipts/{payment_id:str}")
    async def receipt_pdf(self, request: Request, payment_id: FromPath[str], guest: NamedDependency[GuestAssertion],
                          guest_pages: NamedDependency[GuestPages]) -> Response:
        """A received payment's receipt, for whoever holds the invoice's link and the payment's id."""
        context = await guest_pages.context(request, guest)
        try:
            invoice = await handlers.guest_invoice(guest_pages.ctx, guest)
            content = await handlers.receipt_pdf(guest_pages.ctx, guest.tenant_id, invoice.invoice_id, payment_id,
                                                 context["lang"])
        except LoginlessError as error:
            return error_page(error, context)
        return pdf_response(content, f"receipt-{payment_id}.pdf")

    # ---- the built-in test provider's hosted page -----------------------------------------------------------

    @get("/test-provider/{payment_id:str}", media_type=MediaType.HTML)
    async def card_page(self, request: Request, payment_id: FromPath[str], guest: NamedDependency[GuestAssertion],
                        guest_pages: NamedDependency[GuestPages]) -> Template:
        context = await guest_pages.context(request, guest)
        try:
            invoice, payment = await _test_payment(guest_pages.ctx, guest, payment_id)
        except LoginlessError as error:
            return error_page(error, context)
        return Template("card.html", headers=NO_STORE, context={
            **context, **facts(invoice, context["lang"]), "payment": payment,
            "charged": money.formatted(payment.amount_minor, invoice.currency, context["lang"]),
            "challenge": request.query_params.get("step") == "3ds",
            "leave_url": f"{context['prefix']}/?payment={payment.payment_id}&{CANCELED_QUERY}=1"})

    @post("/test-provider/{payment_id:str}", media_type=MediaType.HTML)
    async def card_answer(self, request: Request, payment_id: FromPath[str], data: Form,
                          guest: NamedDependency[GuestAssertion],
                          guest_pages: NamedDependency[GuestPages]) -> Response:
        """What the guest chose, reported back as the provider's signed webhook, then back to the pay page."""
        ctx = guest_pages.ctx
        prefix = forwarded_prefix(request)
        choice = data.get("choice")
        if choice == "3ds":
            return Redirect(f"{prefix}/test-provider/{payment_id}?step=3ds", status_code=303)
        try:
            invoice, payment = await _test_payment(ctx, guest, payment_id)
            if payment.status == "processing" and choice in ("approve", "decline"):
                provider = ctx.provider
                assert isinstance(provider, TestProvider)
                payload, signature = provider.report(ProviderReport(
                    event_id=new_event_id(), payment_id=payment.payment_id, invoice_id=invoice.invoice_id,
                    outcome="succeeded" if choice == "approve" else "failed",
                    provider_payment_id=f"test_{payment.payment_id}", amount_minor=payment.amount_minor,
                    currency=invoice.currency, reason=None if choice == "approve" else "card_declined"))
                await handlers.receive_webhook(ctx, provider.name, payload, signature)
        except LoginlessError as error:
            return error_page(error, await guest_pages.context(request, guest))
        return Redirect(f"{prefix}/?payment={payment_id}", status_code=303)


async def _test_payment(ctx: PaymentsContext, guest: GuestAssertion,
                        payment_id: str) -> tuple[Invoice, domain.Payment]:
    if not isinstance(ctx.provider, TestProvider):
        raise NotFound("the test provider is not in use")
    invoice = await handlers.guest_invoice(ctx, guest)
    payment = invoice.payment(payment_id)
    if payment is None or payment.provider != ctx.provider.name:
        raise NotFound("no such payment")
    return invoice, payment


def _amount_error(error: domain.InvalidPayment, invoice: Invoice) -> str:
    if invoice.open_minor and "at least" in error.detail:
        return N_("The amount is less than the least you may pay.")
    return N_("The amount is more than what is still open.")


ASSET_ROUTES = guest_asset_routes("/guest", static_directories=[Path(__file__).parent / "static"])
