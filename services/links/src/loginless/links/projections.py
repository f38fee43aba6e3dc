"""The links read model: one row per link, kept from its events in the transaction that appends them.

Every column comes from an event (``version`` is the stream's), so ``python -m loginless.links projections
rebuild`` reproduces the table exactly. Token hashes, one-time codes, pending deliveries and access records are
not domain facts but plain rows beside it (``repository.py``); a rebuild never touches them.
"""

from __future__ import annotations

import asyncpg

from loginless.events.payloads import links as events
from loginless.links.domain import CodeLockPolicy
from loginless.shared.eventstore import RecordedEvent, quote_ident


class LinkRows:
    tables = ("links",)

    def __init__(self, schema: str) -> None:
        self._table = f"{quote_ident(schema)}.links"

    async def apply(self, connection: asyncpg.Connection, event: RecordedEvent) -> None:
        link_id, version = event.stream_id, event.version
        match event.payload:
            case events.LinkIssued() as issued:
                await connection.execute(
                    f"INSERT INTO {self._table} (link_id, tenant_id, action, resource_id, recipient_name,"
                    " recipient_email, recipient_phone, recipient_language, issued_at, expires_at, max_uses, uses,"
                    " opens, verification, delivery, delivery_status, version)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, 0, $12, $13, $14, $15)",
                    link_id, issued.tenant_id, issued.action, issued.resource_id, issued.recipient_name,
                    issued.recipient_email, issued.recipient_phone, issued.recipient_language,
                    issued.issued_at, issued.expires_at, issued.max_uses, issued.verification, issued.delivery,
                    "none" if issued.delivery == "none" else "pending", version)
            case events.LinkRevoked(revoked_at=at):
                await self._set(connection, link_id, version, "revoked_at = $3", at)
            case events.LinkOpened(opened_at=at):
                await self._set(connection, link_id, version, "opens = opens + 1, last_opened_at = $3", at)
            case events.LinkUsed(used_at=at, uses=uses):
                await self._set(connection, link_id, version, "uses = $3, last_used_at = $4", uses, at)
            case events.LinkDelivered():
                await self._set(connection, link_id, version, "delivery_status = 'delivered'")
            case events.LinkDeliveryFailed():
                await self._set(connection, link_id, version, "delivery_status = 'failed'")
            case events.LinkVerificationLocked(locked_at=at, locked_until=until):
                await self._set(connection, link_id, version, "verification_locked_at = $3,"
                                " verification_locked_until = $4, verification_locks = verification_locks + 1",
                                at, until if until is not None else at + CodeLockPolicy.first)
            case events.LinkVerificationReset():
                await self._set(connection, link_id, version, "verification_locked_at = NULL,"
                                " verification_locked_until = NULL, verification_locks = 0")
            case events.LinkExpired():
                await self._set(connection, link_id, version, "expiry_recorded = true")

    async def forget(self, connection: asyncpg.Connection, stream_id: str) -> None:
        await connection.execute(f"DELETE FROM {self._table} WHERE link_id = $1", stream_id)

    async def _set(self, connection: asyncpg.Connection, link_id: str, version: int, assignments: str,
                   *values: object) -> None:
        await connection.execute(f"UPDATE {self._table} SET {assignments}, version = $2 WHERE link_id = $1",
                                 link_id, version, *values)
