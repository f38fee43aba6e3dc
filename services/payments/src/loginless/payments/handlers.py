"""The service layer: one async function per command or query of the payments service.

Commands run through the kernel's decider runner (load -> decide -> append -> project, in one transaction). No
transaction waits on the network: the invoice's pay link is issued at links by a durable job queued in the
transaction that issues the invoice, tried at once while staff wait, and otherwise done by the worker until links
answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import asyncpg
import structlog
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

from loginless.events.payloads.payments import (
    BankAccount,
    Party,
    PaymentFlagged,
    PaymentMethod,
    PaymentReceived,
    PaymentRefunded,
)
from loginless.links.client import LinksApi
from loginless.links.views import IssueLinksIn, RecipientIn
from loginless.payments import domain, money, pdfs, statements
from loginless.payments.domain import Invoice
from loginless.payments.ports import (
    Checkout,
    PaymentProvider,
    ProviderFailed,
    ProviderReport,
    ProviderUnavailable,
    Refund,
)
from loginless.payments.projections import InvoiceQueries
from loginless.payments.settings import PaymentsSettings
from loginless.shared.clock import Clock, utc_now
from loginless.shared.errors import InvalidRequest, LoginlessError, NotFound
from loginless.shared.eventstore import (
    Cause,
    DeciderRunner,
    EventStore,
    Job,
    JobKind,
    Jobs,
    Outcome,
    Projections,
    database_errors,
    quote_ident,
)
from loginless.shared.eventstore.runner import retrying_on_conflict
from loginless.shared.web.assertion import GuestAssertion
from loginless.shared.web.idempotency import IdempotentRequests

log = structlog.get_logger(__name__)

ISSUE_LINK = "issue-link"
PROVIDER_REFUND = "provider-refund"


@dataclass(frozen=True)
class PaymentsContext:
    """What every handler needs; built once per process by ``bootstrap``."""

    settings: PaymentsSettings
    store: EventStore
    projections: Projections
    invoices: DeciderRunner[Invoice, domain.Command]
    queries: InvoiceQueries
    jobs: Jobs
    links: LinksApi
    idempotency: IdempotentRequests
    provider: PaymentProvider
    clock: Clock = utc_now

    @property
    def pool(self) -> asyncpg.Pool:
        return self.store.pool


class InvoiceNumberTaken(LoginlessError):
    status_code = 409
    problem_type = "invoice-number-taken"
    title = "The tenant has an invoice with this number already"


# ---- what staff send --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankIn:
    iban: str
    holder: str
    bic: str | None = None


@dataclass(frozen=True)
class InvoiceRequest:
    account_id: str
    number: str
    currency: str
    issue_date: date
    due_date: date
    lines: tuple[money.LineIn, ...]
    discounts: tuple[money.DiscountIn, ...]
    withholdings: tuple[money.WithholdingIn, ...]
    notes: str | None
    bank: BankIn | None
    partial_payments: bool
    minimum_partial: str | None  # major units, as staff write it
    payer_name: str | None
    payer_email: str | None
    payer_language: str | None
    seller: Party | None = None
    buyer: Party | None = None


def checked_bank(bank: BankIn) -> BankAccount:
    """The firm's account as a transfer needs it: an IBAN whose checksum and national format hold (schwifty),
    and a BIC that is one, or the one the IBAN's bank code names when schwifty knows it."""
    try:
        iban = IBAN(bank.iban)
    except SchwiftyException as error:
        raise InvalidRequest(f"bank.iban: {error}") from error
    bic = None
    if bank.bic:
        try:
            bic = str(BIC(bank.bic))
        except SchwiftyException as error:
            raise InvalidRequest(f"bank.bic: {error}") from error
    elif iban.bic is not None:
        bic = str(iban.bic)
    return BankAccount(iban=iban.compact, bic=bic, holder=bank.holder)


def creditor_reference(invoice_id: str) -> str:
    """An ISO 11649 RF reference for the invoice: what a bank transfer quotes, and a statement is matched by."""
    reference = invoice_id.removeprefix("inv_")[:16].upper()
    reference = f"RF{mod_97_10.calc_check_digits(reference + 'RF')}{reference}"
    return iso11649.validate(reference)


async def create_invoice(ctx: PaymentsContext, tenant_id: str, request: InvoiceRequest, *, cause: Cause) -> Invoice:
    """Compute the invoice's amounts, check its bank details, and record the draft."""
    currency = request.currency.upper()
    amounts = money.compute(currency, request.lines, request.discounts, request.withholdings)
    digits = money.exponent(currency)
    minimum = None
    if request.minimum_partial is not None:
        minimum = money.to_minor(money.decimal_of(request.minimum_partial, "minimum_partial"), digits)
    invoice_id = domain.new_invoice_id()
    command = domain.CreateInvoice(
        invoice_id=invoice_id, tenant_id=tenant_id, account_id=request.account_id, number=request.number.strip(),
        currency=currency, issue_date=request.issue_date, due_date=request.due_date, lines=amounts.lines,
        discounts=amounts.discounts, withholdings=amounts.withholdings, taxes=amounts.taxes, totals=amounts.totals,
        notes=request.notes, bank=checked_bank(request.bank) if request.bank else None,
        creditor_reference=creditor_reference(invoice_id) if request.bank else None,
        partial_payments=request.partial_payments, minimum_partial_minor=minimum, payer_name=request.payer_name,
        payer_email=request.payer_email, payer_language=request.payer_language,  # type: ignore[arg-type]
        seller=request.seller, buyer=request.buyer, now=ctx.clock())
    try:
        outcome = await ctx.invoices.run(invoice_id, command, cause)
    except asyncpg.UniqueViolationError as error:
        raise InvoiceNumberTaken(f"number: {command.number} is taken", number=command.number) from error
    return outcome.state


@dataclass(frozen=True)
class IssuedInvoice:
    invoice: Invoice
    link_url: str | None  # the pay link's URL, when links issued it while staff waited (shown this once)


async def issue_invoice(ctx: PaymentsContext, tenant_id: str, invoice_id: str, *, cause: Cause) -> IssuedInvoice:
    """Issue a draft: it becomes payable, and its pay link is issued at links (now, or by the worker)."""
    outcome = await ctx.invoices.run(invoice_id, lambda: domain.IssueInvoice(ctx.clock()), cause,
                                     check=_scoped(tenant_id), also=_queue_link(ctx))
    url = None
    if outcome.events:
        try:
            url = await _issue_link_job(ctx, invoice_id)
            await ctx.jobs.finish(ctx.pool, ISSUE_LINK, invoice_id)
        except Exception as error:  # noqa: BLE001 -- the queued job stays; the worker issues the link
            log.info("pay link left to the worker", invoice_id=invoice_id, error=str(error)[:200])
    return IssuedInvoice(await invoice(ctx, tenant_id, invoice_id), url)


async def issue_credit_note(ctx: PaymentsContext, tenant_id: str, invoice_id: str, *, number: str, reason: str,
                            lines: Sequence[money.LineIn], cause: Cause) -> Invoice:
    """A credit note of the invoice, computed as the invoice is (its withholdings at the invoice's rates)."""
    state = await invoice(ctx, tenant_id, invoice_id)
    rates = [money.WithholdingIn(w.description, w.rate) for w in state.created.withholdings]
    amounts = money.compute(state.currency, lines, (), rates)
    note = domain.IssueCreditNote(credit_note_id=f"cn_{secrets.token_hex(12)}", number=number.strip(),
                                  reason=reason, lines=amounts.lines, taxes=amounts.taxes, totals=amounts.totals,
                                  now=ctx.clock())
    return (await ctx.invoices.run(invoice_id, note, cause, check=_scoped(tenant_id))).state


async def record_offline_payment(ctx: PaymentsContext, tenant_id: str, invoice_id: str, *, amount: str | None,
                                 method: PaymentMethod, reference: str | None, payer_name: str | None,
                                 cause: Cause, payer_email: str | None = None) -> tuple[Invoice, str]:
    """Record money received outside any provider; ``amount`` None: all that is due when it is recorded."""
    state = await invoice(ctx, tenant_id, invoice_id)
    fixed = None if amount is None else money.to_minor(money.decimal_of(amount, "amount"),
                                                        money.exponent(state.currency))
    payment_id = domain.new_payment_id()
    outcome = await ctx.invoices.run(
        invoice_id, lambda: domain.RecordOfflinePayment(payment_id=payment_id, amount_minor=fixed, method=method,
                                                        reference=reference, payer_name=payer_name, now=ctx.clock(),
                                                        payer_email=payer_email),
        cause, check=_scoped(tenant_id))
    return outcome.state, payment_id


async def refund_payment(ctx: PaymentsContext, tenant_id: str, invoice_id: str, payment_id: str, *,
                         amount: str | None, reason: str, cause: Cause) -> tuple[Invoice, str]:
    """Record a refund; one of a payment the provider took is also given back through it, by a durable job queued
    in the same transaction (tried at once, else by the worker), the refund id its idempotency key."""
    state = await invoice(ctx, tenant_id, invoice_id)
    fixed = None if amount is None else money.to_minor(money.decimal_of(amount, "amount"),
                                                        money.exponent(state.currency))
    refund_id = f"re_{secrets.token_hex(12)}"
    outcome = await ctx.invoices.run(invoice_id, lambda: domain.RefundPayment(refund_id, payment_id, fixed, reason,
                                                                              ctx.clock()),
                                     cause, check=_scoped(tenant_id), also=_queue_provider_refund(ctx))
    if await ctx.jobs.pending(ctx.pool, PROVIDER_REFUND, refund_id):
        try:
            await _refund_at_provider(ctx, refund_id, tenant_id)
            await ctx.jobs.finish(ctx.pool, PROVIDER_REFUND, refund_id)
        except Exception as error:  # noqa: BLE001 -- the queued job stays; the worker gives the money back
            log.info("provider refund left to the worker", refund_id=refund_id, error=str(error)[:200])
    return outcome.state, refund_id


async def reverse_payment(ctx: PaymentsContext, tenant_id: str, invoice_id: str, payment_id: str, *,
                          reason: str, cause: Cause) -> Invoice:
    outcome = await ctx.invoices.run(invoice_id, lambda: domain.ReversePayment(payment_id, reason,  # type: ignore[arg-type]
                                                                               ctx.clock()),
                                     cause, check=_scoped(tenant_id))
    return outcome.state


@dataclass(frozen=True)
class StatementLine:
    entry_reference: str
    amount: str
    currency: str
    creditor_reference: str | None
    outcome: str  # "recorded", "recorded before", or why it was not matched
    invoice_id: str | None = None
    payment_id: str | None = None


async def import_statement(ctx: PaymentsContext, tenant_id: str, xml: bytes, *, cause: Cause) -> list[StatementLine]:
    """Match a camt.053 statement's booked credits to the tenant's invoices by their RF reference, and record each
    as a transfer received. The payment id is derived from the bank's entry reference, so importing a statement
    again (or one that overlaps) records nothing twice."""
    lines = []
    for credit in statements.credits_of(xml):
        line = StatementLine(credit.entry_reference, str(credit.amount), credit.currency, credit.creditor_reference,
                             "no RF creditor reference")
        if credit.creditor_reference is not None:
            line = await _matched(ctx, tenant_id, credit, line, cause)
        lines.append(line)
    return lines


async def _matched(ctx: PaymentsContext, tenant_id: str, credit: statements.StatementCredit, line: StatementLine,
                   cause: Cause) -> StatementLine:
    async with database_errors():
        invoice_id = await ctx.queries.by_creditor_reference(ctx.pool, tenant_id, credit.creditor_reference or "")
    if invoice_id is None:
        return replace(line, outcome="no invoice has this reference")
    state = await invoice(ctx, tenant_id, invoice_id)
    digits = money.exponent(state.currency)
    if credit.currency != state.currency or money.from_minor(money.to_minor(credit.amount, digits), digits) \
            != credit.amount or credit.amount <= 0:
        return replace(line, invoice_id=invoice_id, outcome=f"not an amount in {state.currency}: recorded by hand")
    digest = hashlib.sha256(f"{tenant_id}/{credit.entry_reference}".encode()).hexdigest()[:24]
    payment_id = f"pay_st{digest}"
    before = state.payment(payment_id) is not None
    try:
        await ctx.invoices.run(invoice_id, lambda: domain.RecordOfflinePayment(
            payment_id=payment_id, amount_minor=money.to_minor(credit.amount, digits), method="transfer",
            reference=credit.entry_reference, payer_name=credit.debtor_name, now=ctx.clock(), booked_by_bank=True),
            cause, check=_scoped(tenant_id))
    except InvalidRequest as error:
        return replace(line, invoice_id=invoice_id, outcome=error.detail)
    return replace(line, invoice_id=invoice_id, payment_id=payment_id,
                   outcome="recorded before" if before else "recorded")


# ---- payments through a provider -------------------------------------------------------------------------


async def start_payment(ctx: PaymentsContext, tenant_id: str, invoice_id: str, *, payment_id: str,
                        amount_minor: int | None, method: PaymentMethod, provider: str, payer_name: str | None,
                        payer_email: str | None, link_id: str | None, cause: Cause) -> Invoice:
    """Start a payment (processing) for ``amount_minor``, or for all that is open when it is decided. The
    ``payment_id`` is the attempt's: submitting the same attempt again starts nothing more."""
    def command() -> domain.StartPayment:
        return domain.StartPayment(payment_id=payment_id, amount_minor=amount_minor or 0, method=method,
                                   provider=provider, payer_name=payer_name, payer_email=payer_email,
                                   link_id=link_id, now=ctx.clock())

    async def attempt() -> Invoice:
        state, version = await ctx.invoices.load(invoice_id)
        _scoped(tenant_id)(state)
        assert state is not None
        decided = command() if amount_minor is not None else \
            replace(command(), amount_minor=state.open_minor)  # "all that is open", read from the state decided on
        async with ctx.store.transaction() as connection:
            outcome = await ctx.invoices.run_in(connection, invoice_id, decided, cause, known=(state, version))
        return outcome.state

    return await retrying_on_conflict(attempt)


async def settle_payment(ctx: PaymentsContext, invoice_id: str, payment_id: str, *, succeeded: bool,
                         provider_payment_id: str, amount_minor: int, currency: str, reason: str | None,
                         cause: Cause) -> Invoice:
    """What a provider reports about a payment: succeeded (for this amount and currency) or failed. A report
    delivered twice or after a later one changes nothing; a success for another amount or currency is flagged."""
    outcome = await ctx.invoices.run(invoice_id, lambda: domain.ConfirmPayment(
        payment_id, provider_payment_id, amount_minor, currency, ctx.clock()) if succeeded else
        domain.FailPayment(payment_id, reason or "failed", ctx.clock()), cause)
    return outcome.state


async def receive_webhook(ctx: PaymentsContext, provider: str, payload: bytes, signature: str | None) -> Webhook:
    """A provider's webhook: verified (else ``WebhookRefused``) and read by the provider (which fetches what it
    is about again), then its reports judged by the invoice's decider in the transaction that records the event
    id, so a replayed delivery does nothing."""
    if provider != ctx.provider.name:
        raise NotFound(f"no webhooks of {provider}: payments are taken by {ctx.provider.name}")
    event = await ctx.provider.receive(payload, signature)
    if not event.reports:
        return Webhook(new=True, flagged=False)  # nothing of ours, or nothing final yet: nothing to record
    return await _apply(ctx, event.reports, Cause(f"webhook:{event.event_id}"), event_id=event.event_id)


@dataclass(frozen=True)
class Webhook:
    new: bool  # False: this event was handled before
    flagged: bool  # a report named another amount or currency than the payment's: not counted


def _command_of(report: ProviderReport, now: datetime) -> domain.Command:
    match report.outcome:
        case "succeeded":
            return domain.ConfirmPayment(report.payment_id, report.provider_payment_id, report.amount_minor,
                                         report.currency, now)
        case "failed":
            return domain.FailPayment(report.payment_id, report.reason or "failed", now)
        case "refunded":
            return domain.RefundPayment(report.refund_id or report.event_id, report.payment_id, report.amount_minor,
                                        report.reason or "refunded by the provider", now)
        case _:
            return domain.ReversePayment(report.payment_id, "chargeback", now)


async def _apply(ctx: PaymentsContext, reports: Sequence[ProviderReport], cause: Cause, *,
                 event_id: str | None = None) -> Webhook:
    """Judge a provider's reports in one transaction, with the event id (when a webhook's) recorded in it. A
    report the decider refuses (a refund of a payment that is not succeeded, a payment that is not ours) is logged
    and skipped: the provider would only deliver it again."""
    table = f"{quote_ident(ctx.settings.schema)}.webhook_events"

    async def attempt() -> Webhook:
        flagged = False
        async with ctx.store.transaction() as connection:
            if event_id is not None:
                fresh = await connection.fetchval(
                    f"INSERT INTO {table} (provider, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
                    ctx.provider.name, event_id)
                if not fresh:
                    return Webhook(new=False, flagged=False)
            for report in reports:
                try:
                    async with connection.transaction():  # a savepoint: a refused report leaves the others
                        outcome = await ctx.invoices.run_in(connection, report.invoice_id,
                                                            _command_of(report, ctx.clock()), cause)
                except (NotFound, InvalidRequest) as error:
                    log.warning("provider report not applied", provider=ctx.provider.name, event_id=event_id,
                                payment_id=report.payment_id, outcome=report.outcome, error=error.detail)
                    continue
                if any(isinstance(event.payload, PaymentFlagged) for event in outcome.events):
                    flagged = True
                    log.warning("provider reported another amount or currency: payment flagged",
                                provider=ctx.provider.name, event_id=event_id, payment_id=report.payment_id,
                                invoice_id=report.invoice_id, reported_amount_minor=report.amount_minor,
                                reported_currency=report.currency)
        return Webhook(new=True, flagged=flagged)

    return await retrying_on_conflict(attempt)


# ---- the sweep: payments whose webhook never came ----------------------------------------------------------


async def sweep_pending(ctx: PaymentsContext) -> int:
    """Ask the provider about payments processing for longer than ``sweep_after_seconds``, and judge what it says
    as a webhook's reports (Stripe fails a payment whose session was never recorded: nobody can pay it). Returns
    how many payments were asked about."""
    before = ctx.clock() - timedelta(seconds=ctx.settings.sweep_after_seconds)
    async with database_errors():
        pending = await ctx.queries.pending_since(ctx.pool, ctx.provider.name, before, limit=100)
    for payment in pending:
        try:
            reports = await ctx.provider.status(payment.payment_id, payment.invoice_id, payment.provider_reference)
            if reports:
                await _apply(ctx, reports, Cause(f"sweep:{payment.payment_id}"))
        except Exception as error:  # noqa: BLE001 -- one payment the provider cannot answer for holds up no other
            log.warning("sweep could not settle a payment", payment_id=payment.payment_id, error=repr(error)[:300])
    return len(pending)


# ---- the guest's side -------------------------------------------------------------------------------------


async def guest_invoice(ctx: PaymentsContext, guest: GuestAssertion) -> Invoice:
    """The invoice the guest's link is for -- the assertion's resource, whatever the path says."""
    state, _ = await ctx.invoices.load(guest.resource_id)
    if state is None or state.tenant_id != guest.tenant_id or state.status == "draft":
        raise domain.InvoiceNotFound("no such invoice")
    return state


async def pay_by_card(ctx: PaymentsContext, guest: GuestAssertion, *, attempt_id: str, amount_minor: int | None,
                      payer_name: str, payer_email: str, return_url: str, cause: Cause) -> str:
    """Start the guest's payment (the form's attempt id: a double submit starts one) and hand them to the
    provider's page; returns its URL."""
    invoice_state = await guest_invoice(ctx, guest)
    state = await start_payment(ctx, guest.tenant_id, invoice_state.invoice_id, payment_id=attempt_id,
                                amount_minor=amount_minor, method="card", provider=ctx.provider.name,
                                payer_name=payer_name, payer_email=payer_email, link_id=guest.link_id, cause=cause)
    payment = state.payment(attempt_id)
    assert payment is not None
    if payment.status != "processing":
        return return_url  # this attempt ended already (a resubmitted form): the page says how
    try:
        page = await ctx.provider.checkout(Checkout(
            payment_id=payment.payment_id, invoice_id=state.invoice_id, tenant_id=state.tenant_id,
            amount_minor=payment.amount_minor, currency=state.currency,
            description=f"Invoice {state.created.number}", return_url=return_url, payer_email=payer_email,
            started_at=payment.started_at))
    except (ProviderFailed, ProviderUnavailable):
        # Nobody holds a page to pay this attempt on: it fails, so its amount is open again.
        await ctx.invoices.run(state.invoice_id, lambda: domain.FailPayment(
            attempt_id, "the provider's page could not be opened", ctx.clock()), cause)
        raise
    if page.reference is not None:
        await ctx.invoices.run(state.invoice_id, lambda: domain.RecordCheckout(attempt_id, page.reference or "",
                                                                               ctx.clock()), cause)
    return page.url


async def cancel_card_payment(ctx: PaymentsContext, guest: GuestAssertion, payment_id: str, *,
                              cause: Cause) -> Invoice:
    """The guest came back by the provider's cancel URL: the provider closes that page, and what it says then is
    judged as a webhook's reports, so the amount is open again at once rather than when the page expires. Only a
    card payment still under way, started through this same link, is touched; the invoice as it is then."""
    state = await guest_invoice(ctx, guest)
    payment = state.payment(payment_id)
    if (payment is None or payment.status != "processing" or payment.provider != ctx.provider.name
            or payment.link_id != guest.link_id):
        return state
    try:
        reports = await ctx.provider.cancel(payment.payment_id, state.invoice_id, payment.provider_reference)
    except ProviderUnavailable as error:  # the page expires on its own; the sweep settles it then
        log.warning("provider could not close the payment page", payment_id=payment_id, error=str(error))
        return state
    if reports:
        await _apply(ctx, reports, cause)
    return await guest_invoice(ctx, guest)


# ---- queries -------------------------------------------------------------------------------------------------


async def invoice(ctx: PaymentsContext, tenant_id: str, invoice_id: str) -> Invoice:
    state, _ = await ctx.invoices.load(invoice_id)
    _scoped(tenant_id)(state)
    assert state is not None
    return state


# ---- the invoice's PDF and a payment's receipt -----------------------------------------------------------------


async def invoice_pdf(ctx: PaymentsContext, state: Invoice, language: str) -> pdfs.RenderedPdf:
    """The invoice's PDF (its Factur-X e-invoice when it can be one), drawn off the event loop."""
    firm = await _firm_name(ctx, state.tenant_id)
    return await asyncio.to_thread(pdfs.invoice_pdf, state, language=language, firm=firm, now=ctx.clock())


async def receipt_pdf(ctx: PaymentsContext, tenant_id: str, invoice_id: str, payment_id: str,
                      language: str) -> bytes:
    """The receipt of a received payment, with the invoice as it stood right after it (what was paid so far and
    what remained due then): the same figures however often, and whenever, it is downloaded."""
    async with database_errors():
        recorded = await ctx.store.load(invoice_id)
    events = []
    for event in recorded:
        events.append(event.payload)
        if isinstance(event.payload, PaymentReceived) and event.payload.payment_id == payment_id:
            break
    else:
        raise NotFound(f"payment_id: no payment {payment_id} was received on this invoice")
    state = domain.INVOICE.replay(events)
    _scoped(tenant_id)(state)
    assert state is not None
    payment = state.payment(payment_id)
    assert payment is not None
    firm = await _firm_name(ctx, tenant_id)
    return await asyncio.to_thread(pdfs.receipt_pdf, state, payment, language=language, firm=firm)


async def _firm_name(ctx: PaymentsContext, tenant_id: str) -> str:
    branding = await ctx.links.branding(tenant_id)
    return branding.name if branding else ""


async def invoices(ctx: PaymentsContext, tenant_id: str, *, status: str | None, account_id: str | None,
                   overdue: bool, limit: int, after: str | None) -> list[asyncpg.Record]:
    async with database_errors():
        return await ctx.queries.list(ctx.pool, tenant_id, status=status, account_id=account_id,
                                      overdue_on=ctx.clock().date() if overdue else None, limit=limit, after=after)


def _scoped(tenant_id: str):  # noqa: ANN202
    def check(state: Invoice | None) -> None:
        if state is None or state.tenant_id != tenant_id:  # another tenant's invoice is simply not found
            raise domain.InvoiceNotFound("no such invoice")
    return check


# ---- the pay link: a durable job ------------------------------------------------------------------------------


def _queue_link(ctx: PaymentsContext):  # noqa: ANN202
    async def queue(connection: asyncpg.Connection, outcome: Outcome[Invoice]) -> None:
        if outcome.events and outcome.state is not None:
            await ctx.jobs.queue(connection, ISSUE_LINK, outcome.state.invoice_id, tenant_id=outcome.state.tenant_id)
    return queue


async def _issue_link_job(ctx: PaymentsContext, invoice_id: str) -> str | None:
    """Issue the invoice's pay link at links (which e-mails it to the payer) and record it;
    the invoice id as idempotency key makes a retry get the same link back. Returns its URL."""
    state, _ = await ctx.invoices.load(invoice_id)
    if state is None or state.link_ids or state.status in ("draft", "credited"):
        return None
    created = state.created
    issued = await ctx.links.issue(state.tenant_id, IssueLinksIn(
        action="pay", resource_id=invoice_id,
        recipients=[RecipientIn(name=created.payer_name, email=created.payer_email, language=created.payer_language,
                                delivery="email")]),
        idempotency_key=f"{invoice_id}/pay-link")
    link = issued.links[0]
    await ctx.invoices.run(invoice_id, lambda: domain.RecordLinkIssued(link.link_id, ctx.clock()),
                           Cause(f"issue-link:{invoice_id}"))
    return link.url


# ---- refunds through the provider: a durable job ----------------------------------------------------------


def _queue_provider_refund(ctx: PaymentsContext):  # noqa: ANN202
    async def queue(connection: asyncpg.Connection, outcome: Outcome[Invoice]) -> None:
        for recorded in outcome.events:
            refunded = recorded.payload
            if not isinstance(refunded, PaymentRefunded) or outcome.state is None:
                continue
            payment = outcome.state.payment(refunded.payment_id)
            if payment is not None and payment.provider == ctx.provider.name and payment.provider_payment_id:
                await ctx.jobs.queue(connection, PROVIDER_REFUND, refunded.refund_id,
                                     tenant_id=outcome.state.tenant_id,
                                     payload={"invoice_id": refunded.invoice_id, "payment_id": refunded.payment_id,
                                              "amount_minor": refunded.amount_minor, "reason": refunded.reason})
    return queue


async def _refund_at_provider(ctx: PaymentsContext, refund_id: str, tenant_id: str,
                              payload: dict | None = None) -> None:
    """Give a recorded refund back through the provider that took the payment."""
    if payload is None:
        jobs = f"{quote_ident(ctx.settings.schema)}.jobs"
        payload = json.loads(await ctx.pool.fetchval(f"SELECT payload FROM {jobs} WHERE kind = $1 AND key = $2",
                                                     PROVIDER_REFUND, refund_id))
    state, _ = await ctx.invoices.load(payload["invoice_id"])
    payment = state.payment(payload["payment_id"]) if state else None
    if payment is None or not payment.provider_payment_id:
        return
    await ctx.provider.refund(Refund(refund_id=refund_id, payment_id=payment.payment_id,
                                     invoice_id=payload["invoice_id"], tenant_id=tenant_id,
                                     provider_payment_id=payment.provider_payment_id,
                                     amount_minor=payload["amount_minor"], currency=state.currency,
                                     reason=payload["reason"]))


def job_kinds(ctx: PaymentsContext) -> list[JobKind]:
    async def issue(job: Job) -> None:
        await _issue_link_job(ctx, job.key)

    async def refund(job: Job) -> None:
        await _refund_at_provider(ctx, job.key, job.tenant_id, dict(job.payload))

    async def refund_refused(job: Job, reason: str) -> None:
        log.error("the provider refused a refund: staff must give the money back by hand", refund_id=job.key,
                  payment_id=job.payload.get("payment_id"), reason=reason)

    return [JobKind(ISSUE_LINK, issue), JobKind(PROVIDER_REFUND, refund, give_up=refund_refused)]


async def work_through_jobs(ctx: PaymentsContext) -> int:
    """One round of the worker over every kind of job."""
    return await ctx.jobs.work_through(job_kinds(ctx), now=ctx.clock())

