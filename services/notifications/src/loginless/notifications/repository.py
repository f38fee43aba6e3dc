"""SQL of notifications' read models and plain tables. Only SQL; nothing here calls up.

Plain tables (never touched by a projections rebuild): ``known_links`` and ``known_documents`` (what other
services' events said about a link's recipient or a document's name, for the wording of a mail), ``mail_items``
(facts waiting for their batch to become one mail) and ``outgoing_mail`` (mails composed, waiting to be sent).
Times are passed in from the service's clock, never read from the database's, so a test can move them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from loginless.notifications.domain import Preferences
from loginless.notifications.projections import schedule_of
from loginless.shared.eventstore import quote_ident

Executor = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class KnownLink:
    link_id: str
    tenant_id: str
    action: str
    resource_id: str
    recipient_name: str | None
    recipient_email: str | None
    recipient_language: str | None
    expires_at: datetime
    max_uses: int | None
    delivery: str

    @property
    def recipient(self) -> str | None:
        """How a mail names the link's recipient: "Name <address>", or whichever of the two is known."""
        if self.recipient_name and self.recipient_email:
            return f"{self.recipient_name} <{self.recipient_email}>"
        return self.recipient_name or self.recipient_email


@dataclass(frozen=True)
class MailBatch:
    batch_key: str
    tenant_id: str
    kind: str
    recipient: str
    language: str
    items: list[dict[str, Any]]
    due_at: datetime  # of its last fact: for a digest, the moment it gathers the facts up to


@dataclass(frozen=True)
class DueMail:
    notification_id: str
    tenant_id: str
    kind: str
    recipient: str
    message_id: str
    message: bytes
    attempts: int


class NotificationsRepository:
    def __init__(self, schema: str) -> None:
        self._schema = quote_ident(schema)

    # ---- read models --------------------------------------------------------------------------------------

    async def preferences(self, connection: Executor, tenant_id: str) -> Preferences | None:
        row = await connection.fetchrow(f"SELECT * FROM {self._schema}.preferences WHERE tenant_id = $1", tenant_id)
        if row is None:
            return None
        return Preferences(tenant_id=tenant_id, owner_addresses=tuple(row["owner_addresses"]),
                           owner_alerts=row["owner_alerts"], digest_hour=row["digest_hour"],
                           timezone=row["timezone"], language=row["language"],
                           reminders=schedule_of(row["reminders"]))

    async def suppressed(self, connection: Executor, tenant_id: str) -> dict[str, str]:
        rows = await connection.fetch(
            f"SELECT address, reason FROM {self._schema}.suppressed_addresses WHERE tenant_id = $1", tenant_id)
        return {row["address"]: row["reason"] for row in rows}

    async def due_reminders(self, connection: Executor, now: datetime, limit: int) -> list[str]:
        rows = await connection.fetch(
            f"SELECT link_id FROM {self._schema}.pending_actions WHERE next_reminder_at <= $1"
            " ORDER BY next_reminder_at LIMIT $2", now, limit)
        return [row["link_id"] for row in rows]

    async def lock_pending_action(self, connection: asyncpg.Connection, link_id: str) -> bool:
        """Hold the link's row for this transaction, unless another worker holds it (then skip it)."""
        return bool(await connection.fetchval(
            f"SELECT true FROM {self._schema}.pending_actions WHERE link_id = $1 FOR UPDATE SKIP LOCKED", link_id))

    async def awaited_links(self, connection: Executor, *, tenant_id: str, resource_id: str) -> list[str]:
        rows = await connection.fetch(
            f"SELECT link_id FROM {self._schema}.pending_actions WHERE tenant_id = $1 AND resource_id = $2"
            " AND stopped IS NULL", tenant_id, resource_id)
        return [row["link_id"] for row in rows]

    # ---- what other services told us ----------------------------------------------------------------------

    async def remember_link(self, connection: asyncpg.Connection, link: KnownLink) -> None:
        await connection.execute(
            f"INSERT INTO {self._schema}.known_links (link_id, tenant_id, action, resource_id, recipient_name,"
            " recipient_email, recipient_language, expires_at, max_uses, delivery)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (link_id) DO NOTHING",
            link.link_id, link.tenant_id, link.action, link.resource_id, link.recipient_name, link.recipient_email,
            link.recipient_language, link.expires_at, link.max_uses, link.delivery)

    async def known_link(self, connection: Executor, link_id: str | None) -> KnownLink | None:
        if link_id is None:
            return None
        row = await connection.fetchrow(f"SELECT * FROM {self._schema}.known_links WHERE link_id = $1", link_id)
        return KnownLink(**dict(row)) if row else None

    async def remember_document(self, connection: asyncpg.Connection, *, document_id: str, tenant_id: str,
                                display_name: str, added_at: datetime) -> None:
        await connection.execute(
            f"INSERT INTO {self._schema}.known_documents (document_id, tenant_id, display_name, added_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (document_id) DO NOTHING",
            document_id, tenant_id, display_name, added_at)

    async def document_name(self, connection: Executor, document_id: str) -> str | None:
        return await connection.fetchval(
            f"SELECT display_name FROM {self._schema}.known_documents WHERE document_id = $1", document_id)

    async def forget_links_expired_before(self, connection: Executor, cutoff: datetime) -> int:
        """Links that expired before ``cutoff``: no mail will name their recipient any more."""
        deleted = await connection.execute(f"DELETE FROM {self._schema}.known_links WHERE expires_at < $1", cutoff)
        return int(deleted.split()[-1])

    async def notifications_recorded_before(self, connection: Executor, cutoff: datetime, limit: int) -> list[str]:
        """Streams of mails whose outcome was recorded before ``cutoff`` (each holds a recipient's address)."""
        rows = await connection.fetch(
            f"SELECT stream_id FROM {self._schema}.events WHERE stream_id LIKE 'notification:%'"
            " AND recorded_at < $1 LIMIT $2", cutoff, limit)
        return [row["stream_id"] for row in rows]

    # ---- facts waiting for their mail ---------------------------------------------------------------------

    async def add_mail_item(self, connection: asyncpg.Connection, *, batch_key: str, tenant_id: str, kind: str,
                            recipient: str, language: str, item: dict[str, Any], due_at: datetime) -> None:
        """One fact for a batch. A later fact moves the whole batch's due time (a receipt waits for the last
        file of a burst)."""
        await connection.execute(
            f"UPDATE {self._schema}.mail_items SET due_at = $2 WHERE batch_key = $1 AND due_at < $2",
            batch_key, due_at)
        await connection.execute(
            f"INSERT INTO {self._schema}.mail_items (batch_key, tenant_id, kind, recipient, language, item, due_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            batch_key, tenant_id, kind, recipient, language, json.dumps(item), due_at)

    async def due_batches(self, connection: Executor, now: datetime, limit: int) -> list[str]:
        rows = await connection.fetch(
            f"SELECT batch_key FROM {self._schema}.mail_items GROUP BY batch_key HAVING max(due_at) <= $1"
            " ORDER BY min(created_at) LIMIT $2", now, limit)
        return [row["batch_key"] for row in rows]

    async def take_batch(self, connection: asyncpg.Connection, batch_key: str) -> MailBatch | None:
        """The batch's facts, deleted in the caller's transaction (which also queues their mail); None when
        another worker is taking it."""
        rows = await connection.fetch(
            f"SELECT * FROM {self._schema}.mail_items WHERE batch_key = $1 ORDER BY id FOR UPDATE SKIP LOCKED",
            batch_key)
        if not rows:
            return None
        await connection.execute(f"DELETE FROM {self._schema}.mail_items WHERE id = ANY($1::bigint[])",
                                 [row["id"] for row in rows])
        first = rows[0]
        return MailBatch(batch_key=batch_key, tenant_id=first["tenant_id"], kind=first["kind"],
                         recipient=first["recipient"], language=first["language"],
                         items=[json.loads(row["item"]) for row in rows],
                         due_at=max(row["due_at"] for row in rows))

    # ---- mails waiting to be sent -------------------------------------------------------------------------

    async def queue_mail(self, connection: asyncpg.Connection, *, notification_id: str, tenant_id: str, kind: str,
                         recipient: str, message_id: str, message: bytes, now: datetime) -> None:
        await connection.execute(
            f"INSERT INTO {self._schema}.outgoing_mail (notification_id, tenant_id, kind, recipient, message_id,"
            " message, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            notification_id, tenant_id, kind, recipient, message_id, message, now)

    async def claim_due_mail(self, connection: Executor, *, now: datetime, limit: int,
                             lease_seconds: float) -> list[DueMail]:
        """Take up to ``limit`` due mails for this worker: other workers skip them, and if this one dies they are
        due again when the lease ends. The claim commits before anything is sent."""
        rows = await connection.fetch(
            f"""
            UPDATE {self._schema}.outgoing_mail
            SET attempts = attempts + 1, next_attempt_at = $2::timestamptz + make_interval(secs => $3)
            WHERE notification_id IN (
                SELECT notification_id FROM {self._schema}.outgoing_mail WHERE next_attempt_at <= $2
                ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
            RETURNING notification_id, tenant_id, kind, recipient, message_id, message, attempts
            """,
            limit, now, lease_seconds)
        return [DueMail(**dict(row)) for row in rows]

    async def retry_mail_later(self, connection: Executor, notification_id: str, at: datetime, error: str) -> None:
        await connection.execute(
            f"UPDATE {self._schema}.outgoing_mail SET next_attempt_at = $2, last_error = $3"
            " WHERE notification_id = $1", notification_id, at, error)

    async def erase_mail(self, connection: Executor, notification_id: str) -> None:
        await connection.execute(f"DELETE FROM {self._schema}.outgoing_mail WHERE notification_id = $1",
                                 notification_id)



@dataclass(frozen=True)
class EndpointRow:
    endpoint_id: str
    tenant_id: str
    url: str
    event_types: list[str]
    description: str | None
    created_at: datetime


@dataclass(frozen=True)
class DueWebhook:
    delivery_id: str
    endpoint_id: str
    tenant_id: str
    subject: str
    event_id: str
    event_type: str
    body: bytes
    attempts: int
    first_attempt_at: datetime


@dataclass(frozen=True)
class DeliveryRow:
    delivery_id: str
    endpoint_id: str
    subject: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    id: int = 0  # the order events came in: the page cursor's key


class WebhooksRepository:
    """Endpoints (a read model), their encrypted secrets and the deliveries waiting (plain tables)."""

    def __init__(self, schema: str) -> None:
        self._schema = quote_ident(schema)

    async def endpoints(self, connection: Executor, tenant_id: str) -> list[EndpointRow]:
        rows = await connection.fetch(
            f"SELECT endpoint_id, tenant_id, url, event_types, description, created_at"
            f" FROM {self._schema}.webhook_endpoints WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at",
            tenant_id)
        return [EndpointRow(**dict(row)) for row in rows]

    async def endpoints_page(self, connection: Executor, tenant_id: str, *, limit: int,
                             after: tuple[datetime, str] | None = None) -> list[EndpointRow]:
        """Oldest first; ``after`` is the (created_at, endpoint_id) of the previous page's last endpoint."""
        rows = await connection.fetch(
            f"SELECT endpoint_id, tenant_id, url, event_types, description, created_at"
            f" FROM {self._schema}.webhook_endpoints WHERE tenant_id = $1 AND deleted_at IS NULL"
            " AND ($3::timestamptz IS NULL OR (created_at, endpoint_id) > ($3, $4))"
            " ORDER BY created_at, endpoint_id LIMIT $2", tenant_id, limit, *(after or (None, None)))
        return [EndpointRow(**dict(row)) for row in rows]

    async def endpoint(self, connection: Executor, endpoint_id: str) -> EndpointRow | None:
        row = await connection.fetchrow(
            f"SELECT endpoint_id, tenant_id, url, event_types, description, created_at"
            f" FROM {self._schema}.webhook_endpoints WHERE endpoint_id = $1 AND deleted_at IS NULL", endpoint_id)
        return EndpointRow(**dict(row)) if row else None

    # ---- secrets ------------------------------------------------------------------------------------------

    async def add_secret(self, connection: asyncpg.Connection, endpoint_id: str, secret: bytes, *, now: datetime,
                         previous_valid_until: datetime | None = None) -> None:
        """The endpoint's new current secret; the one before keeps signing until ``previous_valid_until``."""
        await connection.execute(
            f"UPDATE {self._schema}.webhook_secrets SET expires_at = $2 WHERE endpoint_id = $1 AND expires_at IS NULL",
            endpoint_id, previous_valid_until or now)
        await connection.execute(
            f"INSERT INTO {self._schema}.webhook_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, $3)",
            endpoint_id, secret, now)

    async def secrets(self, connection: Executor, endpoint_id: str, now: datetime) -> list[bytes]:
        """The secrets in force, newest first."""
        rows = await connection.fetch(
            f"SELECT secret FROM {self._schema}.webhook_secrets WHERE endpoint_id = $1"
            " AND (expires_at IS NULL OR expires_at > $2) ORDER BY id DESC", endpoint_id, now)
        return [row["secret"] for row in rows]

    async def erase_endpoint_records(self, connection: asyncpg.Connection, endpoint_id: str) -> None:
        await connection.execute(f"DELETE FROM {self._schema}.webhook_secrets WHERE endpoint_id = $1", endpoint_id)
        await connection.execute(f"DELETE FROM {self._schema}.webhook_deliveries WHERE endpoint_id = $1",
                                 endpoint_id)

    # ---- deliveries ---------------------------------------------------------------------------------------

    async def queue_webhook(self, connection: asyncpg.Connection, *, delivery_id: str, endpoint_id: str,
                            tenant_id: str, subject: str, event_id: str, event_type: str, body: bytes,
                            now: datetime) -> None:
        await connection.execute(
            f"INSERT INTO {self._schema}.webhook_deliveries (delivery_id, endpoint_id, tenant_id, subject, event_id,"
            " event_type, body, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (endpoint_id, event_id) DO NOTHING",
            delivery_id, endpoint_id, tenant_id, subject, event_id, event_type, body, now)

    async def endpoints_with_due_webhooks(self, connection: Executor, now: datetime, limit: int) -> list[str]:
        rows = await connection.fetch(
            f"SELECT DISTINCT endpoint_id FROM {self._schema}.webhook_deliveries"
            " WHERE status = 'pending' AND next_attempt_at <= $1 LIMIT $2", now, limit)
        return [row["endpoint_id"] for row in rows]

    async def claim_next_webhook(self, connection: Executor, endpoint_id: str, *, now: datetime,
                                 lease_seconds: float) -> DueWebhook | None:
        """The endpoint's oldest due delivery that no earlier pending delivery of its subject waits before (so one
        subject's events arrive in order); claimed for ``lease_seconds`` (another worker skips it meanwhile)."""
        row = await connection.fetchrow(
            f"""
            UPDATE {self._schema}.webhook_deliveries
            SET attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, $2),
                next_attempt_at = $2::timestamptz + make_interval(secs => $3)
            WHERE id = (
                SELECT d.id FROM {self._schema}.webhook_deliveries d
                WHERE d.endpoint_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2
                  AND NOT EXISTS (SELECT 1 FROM {self._schema}.webhook_deliveries e
                                  WHERE e.endpoint_id = d.endpoint_id AND e.subject = d.subject
                                    AND e.status = 'pending' AND e.id < d.id)
                ORDER BY d.id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING delivery_id, endpoint_id, tenant_id, subject, event_id, event_type, body, attempts,
                      first_attempt_at
            """,
            endpoint_id, now, lease_seconds)
        return DueWebhook(**dict(row)) if row else None

    async def retry_webhook_at(self, connection: Executor, delivery_id: str, at: datetime, error: str) -> None:
        await connection.execute(
            f"UPDATE {self._schema}.webhook_deliveries SET next_attempt_at = $2, last_error = $3"
            " WHERE delivery_id = $1", delivery_id, at, error)

    async def mark_webhook_failed(self, connection: asyncpg.Connection, delivery_id: str, error: str) -> None:
        await connection.execute(
            f"UPDATE {self._schema}.webhook_deliveries SET status = 'failed', last_error = $2 WHERE delivery_id = $1",
            delivery_id, error)

    async def erase_webhook(self, connection: asyncpg.Connection, delivery_id: str) -> None:
        await connection.execute(f"DELETE FROM {self._schema}.webhook_deliveries WHERE delivery_id = $1",
                                 delivery_id)

    async def deliveries(self, connection: Executor, endpoint_id: str, *, status: str | None,
                         limit: int, after: int = 0) -> list[DeliveryRow]:
        rows = await connection.fetch(
            f"SELECT id, delivery_id, endpoint_id, subject, event_id, event_type, status, attempts, next_attempt_at,"
            f" last_error FROM {self._schema}.webhook_deliveries WHERE endpoint_id = $1"
            " AND ($2::text IS NULL OR status = $2) AND id > $4 ORDER BY id LIMIT $3", endpoint_id, status, limit,
            after)
        return [DeliveryRow(**dict(row)) for row in rows]

    async def redeliver(self, connection: asyncpg.Connection, endpoint_id: str, delivery_id: str | None,
                        now: datetime) -> int:
        """Failed deliveries of the endpoint (one, or all) back to pending, due now, with a fresh day of retries."""
        done = await connection.execute(
            f"UPDATE {self._schema}.webhook_deliveries SET status = 'pending', attempts = 0, first_attempt_at = NULL,"
            " next_attempt_at = $3 WHERE endpoint_id = $1 AND status = 'failed'"
            " AND ($2::text IS NULL OR delivery_id = $2)", endpoint_id, delivery_id, now)
        return int(done.split()[-1])
