"""Signing's read model, kept from its own events in the transaction that appends them: ``envelopes``, one row
each, for staff listings and the worker's expiry sweep. ``python -m loginless.signing projections rebuild``
reproduces it from the events."""

from __future__ import annotations

import asyncpg

from loginless.events.payloads import signing as events
from loginless.shared.eventstore import RecordedEvent, quote_ident
from loginless.signing.domain import SIGNER_ROLES


class EnvelopeRows:
    tables = ("envelopes", "templates")

    def __init__(self, schema: str) -> None:
        self._schema = quote_ident(schema)

    async def apply(self, connection: asyncpg.Connection, event: RecordedEvent) -> None:
        table = f"{self._schema}.envelopes"
        match event.payload:
            case events.EnvelopeCreated() as created:
                signers = sum(1 for r in created.recipients if r.role in SIGNER_ROLES)
                await connection.execute(
                    f"INSERT INTO {table} (envelope_id, tenant_id, title, status, signers, created_at, expires_at)"
                    " VALUES ($1, $2, $3, 'draft', $4, $5, $6)", created.envelope_id, created.tenant_id,
                    created.title, signers, created.created_at, created.expires_at)
            case events.EnvelopeSent(envelope_id=envelope_id, sent_at=at):
                await connection.execute(f"UPDATE {table} SET status = 'sent', sent_at = $2 WHERE envelope_id = $1",
                                         envelope_id, at)
            case events.DocumentSigned(signature_request_id=envelope_id):
                await connection.execute(
                    f"UPDATE {table} SET signed = signed + 1,"
                    " status = CASE WHEN signed + 1 >= signers THEN 'sealing' ELSE status END WHERE envelope_id = $1",
                    envelope_id)
            case events.SigningDeclined(signature_request_id=envelope_id, declined_at=at):
                await self._ended(connection, envelope_id, "declined", at)
            case events.EnvelopeVoided(envelope_id=envelope_id, voided_at=at):
                await self._ended(connection, envelope_id, "voided", at)
            case events.EnvelopeExpired(envelope_id=envelope_id, expired_at=at):
                await self._ended(connection, envelope_id, "expired", at)
            case events.EnvelopeCompleted(envelope_id=envelope_id, completed_at=at):
                await self._ended(connection, envelope_id, "completed", at)
            case events.TemplateCreated() as created:
                await connection.execute(
                    f"INSERT INTO {self._schema}.templates (template_id, tenant_id, name, roles, created_at)"
                    " VALUES ($1, $2, $3, $4, $5)", created.template_id, created.tenant_id, created.template_name,
                    [r.role_id for r in created.roles], created.created_at)
            case events.TemplateDeleted(template_id=template_id):
                await connection.execute(f"DELETE FROM {self._schema}.templates WHERE template_id = $1", template_id)

    async def _ended(self, connection: asyncpg.Connection, envelope_id: str, status: str, at: object) -> None:
        await connection.execute(f"UPDATE {self._schema}.envelopes SET status = $2, ended_at = $3"
                                 " WHERE envelope_id = $1", envelope_id, status, at)

    async def forget(self, connection: asyncpg.Connection, stream_id: str) -> None:
        await connection.execute(f"DELETE FROM {self._schema}.envelopes WHERE envelope_id = $1", stream_id)
        await connection.execute(f"DELETE FROM {self._schema}.templates WHERE template_id = $1", stream_id)


class EnvelopeQueries:
    """What staff listings and the worker read from the read model."""

    def __init__(self, schema: str) -> None:
        self._table = f"{quote_ident(schema)}.envelopes"

    async def list(self, db: asyncpg.Pool, tenant_id: str, *, status: str | None, limit: int,
                   after: str | None) -> list[asyncpg.Record]:
        """Newest first; ``after`` is the last envelope id of the previous page."""
        return await db.fetch(
            f"SELECT * FROM {self._table} WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2)"
            f" AND ($3::text IS NULL OR (created_at, envelope_id) < (SELECT created_at, envelope_id FROM {self._table}"
            "   WHERE envelope_id = $3 AND tenant_id = $1))"
            " ORDER BY created_at DESC, envelope_id DESC LIMIT $4", tenant_id, status, after, limit)

    async def templates(self, db: asyncpg.Pool, tenant_id: str, *, limit: int,
                        after: str | None) -> list[asyncpg.Record]:
        table = self._table.replace(".envelopes", ".templates")
        return await db.fetch(
            f"SELECT * FROM {table} WHERE tenant_id = $1 AND ($2::text IS NULL OR (created_at, template_id) <"
            f" (SELECT created_at, template_id FROM {table} WHERE template_id = $2 AND tenant_id = $1))"
            " ORDER BY created_at DESC, template_id DESC LIMIT $3", tenant_id, after, limit)

    async def due_to_expire(self, db: asyncpg.Pool, now: object, *, limit: int = 50) -> list[str]:
        rows = await db.fetch(f"SELECT envelope_id FROM {self._table} WHERE status IN ('draft', 'sent')"
                              " AND expires_at <= $1 ORDER BY expires_at LIMIT $2", now, limit)
        return [row["envelope_id"] for row in rows]
