"""Payments' read model, kept from its own events in the transaction that appends them: ``invoices`` (one row
each, with what is paid and processing, for staff listings and filters) and ``invoice_payments``.
``python -m loginless.payments projections rebuild`` reproduces both from the events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from loginless.events.payloads import payments as events
from loginless.shared.eventstore import RecordedEvent, quote_ident


class InvoiceRows:
    tables = ("invoices", "invoice_payments")

    def __init__(self, schema: str) -> None:
        self._invoices = f"{quote_ident(schema)}.invoices"
        self._payments = f"{quote_ident(schema)}.invoice_payments"

    async def apply(self, connection: asyncpg.Connection, event: RecordedEvent) -> None:
        match event.payload:
            case events.InvoiceCreated() as created:
                await connection.execute(
                    f"INSERT INTO {self._invoices} (invoice_id, tenant_id, account_id, number, currency, status,"
                    " total_minor, issue_date, due_date, created_at, creditor_reference)"
                    " VALUES ($1, $2, $3, $4, $5, 'draft', $6, $7, $8, $9, $10)", created.invoice_id,
                    created.tenant_id, created.account_id, created.number, created.currency,
                    created.totals.payable_minor, created.issue_date, created.due_date, created.created_at,
                    created.creditor_reference)
            case events.InvoiceIssued(invoice_id=invoice_id, issued_at=at):
                await connection.execute(f"UPDATE {self._invoices} SET issued_at = $2 WHERE invoice_id = $1",
                                         invoice_id, at)
                await self._refresh(connection, invoice_id)
            case events.CreditNoteIssued(invoice_id=invoice_id, totals=totals):
                await connection.execute(f"UPDATE {self._invoices} SET credited_minor = credited_minor + $2"
                                         " WHERE invoice_id = $1", invoice_id, totals.payable_minor)
                await self._refresh(connection, invoice_id)
            case events.PaymentStarted() as started:
                await connection.execute(
                    f"INSERT INTO {self._payments} (payment_id, invoice_id, amount_minor, status, provider, started_at)"
                    " VALUES ($1, $2, $3, 'processing', $4, $5)", started.payment_id, started.invoice_id,
                    started.amount_minor, started.provider, started.started_at)
                await self._refresh(connection, started.invoice_id)
            case events.PaymentCheckoutOpened(payment_id=payment_id, provider_reference=reference):
                await connection.execute(f"UPDATE {self._payments} SET provider_reference = $2 WHERE payment_id = $1",
                                         payment_id, reference)
            case events.PaymentFlagged(payment_id=payment_id):
                await connection.execute(f"UPDATE {self._payments} SET flagged = true WHERE payment_id = $1",
                                         payment_id)
            case events.PaymentReceived() as received:
                await connection.execute(
                    f"INSERT INTO {self._payments} (payment_id, invoice_id, amount_minor, status)"
                    " VALUES ($1, $2, $3, 'succeeded') ON CONFLICT (payment_id) DO UPDATE SET status = 'succeeded'",
                    received.payment_id, received.invoice_id, received.amount_minor)
                await self._refresh(connection, received.invoice_id)
            case events.PaymentFailed(payment_id=payment_id, invoice_id=invoice_id):
                await self._payment_status(connection, payment_id, invoice_id, "failed")
            case events.PaymentReversed(payment_id=payment_id, invoice_id=invoice_id):
                await self._payment_status(connection, payment_id, invoice_id, "reversed")
            case events.PaymentRefunded(payment_id=payment_id, invoice_id=invoice_id, amount_minor=amount):
                await connection.execute(f"UPDATE {self._payments} SET refunded_minor = refunded_minor + $2"
                                         " WHERE payment_id = $1", payment_id, amount)
                await self._refresh(connection, invoice_id)
            case events.InvoicePaid(invoice_id=invoice_id, paid_at=at):
                await connection.execute(f"UPDATE {self._invoices} SET paid_at = $2 WHERE invoice_id = $1",
                                         invoice_id, at)

    async def _payment_status(self, connection: asyncpg.Connection, payment_id: str, invoice_id: str,
                              status: str) -> None:
        await connection.execute(f"UPDATE {self._payments} SET status = $2 WHERE payment_id = $1", payment_id, status)
        await self._refresh(connection, invoice_id)

    async def _refresh(self, connection: asyncpg.Connection, invoice_id: str) -> None:
        """The invoice's sums and status from its payments: the domain's rules (``Invoice.status``) in SQL."""
        await connection.execute(
            f"WITH sums AS (SELECT coalesce(sum(amount_minor - refunded_minor) FILTER (WHERE status = 'succeeded'), 0)"
            f"   AS paid, coalesce(sum(amount_minor) FILTER (WHERE status = 'processing'), 0) AS processing"
            f"   FROM {self._payments} WHERE invoice_id = $1)"
            f" UPDATE {self._invoices} i SET paid_minor = sums.paid, processing_minor = sums.processing,"
            "  status = CASE WHEN i.issued_at IS NULL THEN 'draft'"
            "    WHEN i.total_minor - i.credited_minor <= 0 THEN 'credited'"
            "    WHEN sums.paid >= i.total_minor - i.credited_minor THEN 'paid'"
            "    WHEN sums.paid > 0 THEN 'partially_paid' ELSE 'open' END,"
            "  paid_at = CASE WHEN sums.paid >= i.total_minor - i.credited_minor THEN i.paid_at END"
            " FROM sums WHERE i.invoice_id = $1", invoice_id)

    async def forget(self, connection: asyncpg.Connection, stream_id: str) -> None:
        await connection.execute(f"DELETE FROM {self._payments} WHERE invoice_id = $1", stream_id)
        await connection.execute(f"DELETE FROM {self._invoices} WHERE invoice_id = $1", stream_id)


@dataclass(frozen=True)
class PendingPayment:
    invoice_id: str
    payment_id: str
    provider_reference: str | None
    started_at: datetime


class InvoiceQueries:
    """What staff listings (and the worker's sweep) read from the read model."""

    def __init__(self, schema: str) -> None:
        self._table = f"{quote_ident(schema)}.invoices"
        self._payments = f"{quote_ident(schema)}.invoice_payments"

    async def pending_since(self, db: asyncpg.Pool, provider: str, before: datetime,
                            limit: int) -> list[PendingPayment]:
        """Payments through ``provider`` processing since before ``before`` and not flagged, oldest first."""
        rows = await db.fetch(
            f"SELECT invoice_id, payment_id, provider_reference, started_at FROM {self._payments}"
            " WHERE status = 'processing' AND provider = $1 AND started_at < $2 AND NOT flagged"
            " ORDER BY started_at LIMIT $3", provider, before, limit)
        return [PendingPayment(**row) for row in rows]

    async def list(self, db: asyncpg.Pool, tenant_id: str, *, status: str | None, account_id: str | None,
                   overdue_on: date | None, limit: int, after: str | None) -> list[asyncpg.Record]:
        """Newest first; ``overdue_on``: only invoices still due that were due before that day; ``after`` is the
        last invoice id of the previous page."""
        return await db.fetch(
            f"SELECT * FROM {self._table} WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2)"
            " AND ($3::text IS NULL OR account_id = $3)"
            " AND ($4::date IS NULL OR (status IN ('open', 'partially_paid') AND due_date < $4))"
            f" AND ($5::text IS NULL OR (created_at, invoice_id) < (SELECT created_at, invoice_id FROM {self._table}"
            "   WHERE invoice_id = $5 AND tenant_id = $1))"
            " ORDER BY created_at DESC, invoice_id DESC LIMIT $6", tenant_id, status, account_id, overdue_on, after,
            limit)

    async def by_creditor_reference(self, db: asyncpg.Pool, tenant_id: str, reference: str) -> str | None:
        return await db.fetchval(f"SELECT invoice_id FROM {self._table} WHERE tenant_id = $1"
                                 " AND creditor_reference = $2", tenant_id, reference)
