"""The documents service's SQL besides its event store: reads of the read models (``projections.py`` writes them),
resumable uploads in progress, and the jobs that issue and revoke links at the links service. Every query a staff
caller can reach is scoped by tenant."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from loginless.documents import domain
from loginless.documents.storage import UploadedPart
from loginless.events import CloudEvent, IntegrationEvent
from loginless.shared.eventstore import RecordedEvent, advisory_key, quote_ident
from loginless.shared.tracing import current_traceparent

Executor = asyncpg.Connection | asyncpg.Pool


def document_of(row: asyncpg.Record) -> domain.Document:
    return domain.Document(document_id=row["document_id"], tenant_id=row["tenant_id"], account_id=row["account_id"],
                           folder_id=row["folder_id"], display_name=row["display_name"], size=row["size"],
                           sha256=row["sha256"], content_type=row["content_type"], object_key=row["object_key"])


@dataclass(frozen=True)
class DueJob:
    key: str  # the resource to issue links for, or the link to revoke
    tenant_id: str
    attempts: int
    deadline: datetime | None = None


JobKind = Literal["issue", "revoke"]
# Each kind of job: its table, the column that names it, and its deadline (revocations have none).
JOB_TABLES: dict[JobKind, tuple[str, str, str]] = {
    "issue": ("link_issuing_jobs", "resource_id", "deadline"),
    "revoke": ("link_revoking_jobs", "link_id", "NULL::timestamptz"),
}


class Repository:
    def __init__(self, schema: str) -> None:
        self.s = quote_ident(schema)

    # -- read models ---------------------------------------------------------------------------------------

    async def account(self, db: Executor, tenant_id: str, account_id: str) -> asyncpg.Record | None:
        return await db.fetchrow(f"SELECT * FROM {self.s}.accounts WHERE tenant_id = $1 AND account_id = $2",
                                 tenant_id, account_id)

    async def accounts(self, db: Executor, tenant_id: str, *, limit: int, after: str | None) -> list[asyncpg.Record]:
        return await db.fetch(
            f"SELECT * FROM {self.s}.accounts WHERE tenant_id = $1 AND ($2::text IS NULL OR account_id > $2)"
            " ORDER BY account_id LIMIT $3", tenant_id, after, limit)

    async def folders(self, db: Executor, tenant_id: str, account_id: str, *, limit: int,
                      after: tuple[datetime, str] | None = None) -> list[asyncpg.Record]:
        """Oldest first; ``after`` is the (created_at, folder_id) of the previous page's last folder."""
        return await db.fetch(f"SELECT * FROM {self.s}.folders WHERE tenant_id = $1 AND account_id = $2"
                              " AND ($4::timestamptz IS NULL OR (created_at, folder_id) > ($4, $5))"
                              " ORDER BY created_at, folder_id LIMIT $3",
                              tenant_id, account_id, limit, *(after or (None, None)))

    async def document(self, db: Executor, tenant_id: str, document_id: str) -> asyncpg.Record | None:
        return await db.fetchrow(f"SELECT * FROM {self.s}.documents WHERE tenant_id = $1 AND document_id = $2",
                                 tenant_id, document_id)

    async def documents(self, db: Executor, tenant_id: str, *, account_id: str | None, folder_id: str | None,
                        upload_request_id: str | None, limit: int, after: str | None) -> list[asyncpg.Record]:
        return await db.fetch(
            f"SELECT * FROM {self.s}.documents WHERE tenant_id = $1"
            " AND ($2::text IS NULL OR account_id = $2) AND ($3::text IS NULL OR folder_id = $3)"
            " AND ($4::text IS NULL OR upload_request_id = $4) AND ($5::text IS NULL OR document_id > $5)"
            " ORDER BY document_id LIMIT $6", tenant_id, account_id, folder_id, upload_request_id, after, limit)

    async def files_of_link(self, db: Executor, link_id: str) -> list[asyncpg.Record]:
        return await db.fetch(f"SELECT display_name, size, content_type, created_at FROM {self.s}.documents"
                              " WHERE link_id = $1 ORDER BY created_at, document_id", link_id)

    async def share(self, db: Executor, tenant_id: str, share_id: str) -> asyncpg.Record | None:
        return await db.fetchrow(f"SELECT * FROM {self.s}.shares WHERE tenant_id = $1 AND share_id = $2",
                                 tenant_id, share_id)

    async def upload_request(self, db: Executor, tenant_id: str, upload_request_id: str) -> asyncpg.Record | None:
        return await db.fetchrow(f"SELECT * FROM {self.s}.upload_requests WHERE tenant_id = $1"
                                 " AND upload_request_id = $2", tenant_id, upload_request_id)

    async def links_of(self, db: Executor, resource_id: str) -> list[asyncpg.Record]:
        return await db.fetch(f"SELECT link_id, email, name, status FROM {self.s}.recipient_links"
                              " WHERE resource_id = $1 ORDER BY email", resource_id)

    async def resource_of_link(self, db: Executor, link_id: str) -> str | None:
        """The share or upload request a link was issued for, if it is one of ours."""
        return await db.fetchval(f"SELECT resource_id FROM {self.s}.recipient_links WHERE link_id = $1", link_id)

    async def accesses_of_share(self, db: Executor, tenant_id: str, share_id: str) -> list[asyncpg.Record]:
        return await db.fetch(f"SELECT * FROM {self.s}.access_records WHERE tenant_id = $1 AND share_id = $2"
                              " ORDER BY at", tenant_id, share_id)

    async def accesses_before(self, db: Executor, cutoff: datetime, limit: int) -> list[str]:
        """Access records (each a stream) older than ``cutoff``: past their retention."""
        rows = await db.fetch(f"SELECT access_id FROM {self.s}.access_records WHERE at < $1 ORDER BY at LIMIT $2",
                              cutoff, limit)
        return [row["access_id"] for row in rows]

    # -- events ----------------------------------------------------------------------------------------------

    async def publish_beside(self, connection: asyncpg.Connection, topic: str, recorded: RecordedEvent,
                             old_version: IntegrationEvent) -> None:
        """Queue ``old_version`` -- the previous version of ``recorded``'s type, still published for a deprecation
        period -- in the outbox beside it, in the same transaction: same subject and metadata, an id of its own.
        Only the current version is stored as an event; the relay sends both, in this order."""
        metadata = recorded.metadata
        copy = CloudEvent(source=old_version.source(), type=old_version.type_name(), subject=recorded.stream_id,
                          data=old_version.model_dump(mode="json"), tenantid=metadata.tenant_id,
                          correlationid=metadata.correlation_id,
                          causationid=metadata.causation_id or metadata.correlation_id,
                          time=recorded.recorded_at, traceparent=current_traceparent())
        await connection.execute(
            f"INSERT INTO {self.s}.outbox (event_id, topic, message_key, message_value) VALUES ($1, $2, $3, $4)",
            uuid.UUID(copy.id), topic, recorded.stream_id.encode(), copy.to_message()[1])

    # -- pay to unlock: what documents has seen of invoices -----------------------------------------------------

    async def hold_invoice(self, connection: asyncpg.Connection, tenant_id: str, invoice_id: str) -> None:
        """Serialise, until the transaction ends, everything that reads or changes an invoice's standing and the
        shares locked on it: a share being locked while the consumer records the invoice paid then sees the
        payment, or is seen by the consumer -- never neither."""
        await connection.execute("SELECT pg_advisory_xact_lock($1)",
                                 advisory_key(self.s, "invoice", tenant_id, invoice_id))

    async def invoice_standing(self, db: Executor, tenant_id: str, invoice_id: str) -> domain.InvoiceStanding | None:
        row = await db.fetchrow(f"SELECT number, paid, margin_minor FROM {self.s}.invoice_standing"
                                " WHERE tenant_id = $1 AND invoice_id = $2", tenant_id, invoice_id)
        if row is None:
            return None
        return domain.InvoiceStanding(tenant_id=tenant_id, invoice_id=invoice_id, number=row["number"],
                                      paid=row["paid"], margin_minor=row["margin_minor"])

    async def save_invoice_standing(self, db: Executor, standing: domain.InvoiceStanding) -> None:
        await db.execute(
            f"INSERT INTO {self.s}.invoice_standing (tenant_id, invoice_id, number, paid, margin_minor, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (tenant_id, invoice_id) DO UPDATE SET"
            " number = EXCLUDED.number, paid = EXCLUDED.paid, margin_minor = EXCLUDED.margin_minor,"
            " updated_at = EXCLUDED.updated_at",
            standing.tenant_id, standing.invoice_id, standing.number, standing.paid, standing.margin_minor)

    async def shares_locked_on(self, db: Executor, tenant_id: str, invoice_id: str) -> list[str]:
        """The tenant's shares whose lock is this invoice (locked, or unlocked by its payment)."""
        rows = await db.fetch(f"SELECT share_id FROM {self.s}.shares WHERE tenant_id = $1 AND lock_invoice_id = $2"
                              " ORDER BY share_id", tenant_id, invoice_id)
        return [row["share_id"] for row in rows]

    # -- resumable uploads ---------------------------------------------------------------------------------

    async def count_files_of_link(self, db: Executor, link_id: str) -> int:
        return await db.fetchval(
            f"SELECT (SELECT count(*) FROM {self.s}.documents WHERE link_id = $1)"
            f" + (SELECT count(*) FROM {self.s}.tus_uploads WHERE link_id = $1)", link_id)

    async def insert_tus_upload(self, db: Executor, values: dict[str, Any]) -> None:
        names = ", ".join(values)
        placeholders = ", ".join(f"${n}" for n in range(1, len(values) + 1))
        await db.execute(f"INSERT INTO {self.s}.tus_uploads ({names}) VALUES ({placeholders})", *values.values())

    async def tus_upload(self, db: Executor, upload_id: str) -> asyncpg.Record | None:
        return await db.fetchrow(f"SELECT * FROM {self.s}.tus_uploads WHERE upload_id = $1", upload_id)

    async def take_lease(self, db: Executor, upload_id: str, owner: str, seconds: float) -> asyncpg.Record | None:
        """The upload's row with its lease taken by ``owner``, or None while another request holds it."""
        return await db.fetchrow(
            f"UPDATE {self.s}.tus_uploads SET lease_owner = $2, lease_until = now() + make_interval(secs => $3)"
            " WHERE upload_id = $1 AND (lease_owner IS NULL OR lease_until < now()) RETURNING *",
            upload_id, owner, seconds)

    async def record_progress(self, db: Executor, upload_id: str, owner: str, *, received: int,
                              parts: list[UploadedPart], tail_size: int, content_type: str | None,
                              lease_seconds: float, release: bool = False) -> bool:
        status = await db.execute(
            f"UPDATE {self.s}.tus_uploads SET received = $3, parts = $4::jsonb, tail_size = $5,"
            " content_type = coalesce(content_type, $6), updated_at = now(),"
            " lease_owner = CASE WHEN $8 THEN NULL ELSE lease_owner END,"
            " lease_until = CASE WHEN $8 THEN NULL ELSE now() + make_interval(secs => $7) END"
            " WHERE upload_id = $1 AND lease_owner = $2",
            upload_id, owner, received, json.dumps([p.__dict__ for p in parts]), tail_size, content_type,
            lease_seconds, release)
        return status.endswith(" 1")

    async def release_lease(self, db: Executor, upload_id: str, owner: str) -> None:
        await db.execute(f"UPDATE {self.s}.tus_uploads SET lease_owner = NULL, lease_until = NULL"
                         " WHERE upload_id = $1 AND lease_owner = $2", upload_id, owner)

    async def delete_tus_upload(self, db: Executor, upload_id: str) -> None:
        await db.execute(f"DELETE FROM {self.s}.tus_uploads WHERE upload_id = $1", upload_id)

    async def complete_tus_upload(self, db: Executor, upload_id: str, at: datetime) -> None:
        """The upload's row becomes a record that it completed (see migration 0002)."""
        await db.execute(
            f"WITH done AS (DELETE FROM {self.s}.tus_uploads WHERE upload_id = $1"
            "  RETURNING upload_id, tenant_id, link_id, file_id, length)"
            f" INSERT INTO {self.s}.completed_uploads (upload_id, tenant_id, link_id, file_id, length, completed_at)"
            " SELECT upload_id, tenant_id, link_id, file_id, length, $2 FROM done", upload_id, at)

    async def completed_upload(self, db: Executor, upload_id: str) -> asyncpg.Record | None:
        return await db.fetchrow(f"SELECT * FROM {self.s}.completed_uploads WHERE upload_id = $1", upload_id)

    async def forget_completed_uploads(self, db: Executor, *, older_than_hours: float) -> int:
        status = await db.execute(
            f"DELETE FROM {self.s}.completed_uploads"
            " WHERE completed_at < now() - $1::double precision * interval '1 hour'", older_than_hours)
        return int(status.split()[-1])

    async def stale_tus_uploads(self, db: Executor, *, idle_hours: float, limit: int = 100) -> list[asyncpg.Record]:
        """Uploads nobody touched for ``idle_hours``, or whose request ended (deadline passed, revoked, failed)."""
        return await db.fetch(
            f"SELECT t.* FROM {self.s}.tus_uploads t JOIN {self.s}.upload_requests r USING (upload_request_id)"
            " WHERE (t.updated_at < now() - $1::double precision * interval '1 hour'"
            "        OR r.deadline < now() OR r.status IN ('revoked', 'failed'))"
            "   AND (t.lease_owner IS NULL OR t.lease_until < now())"
            " ORDER BY t.updated_at LIMIT $2", idle_hours, limit)

    # -- jobs at the links service: issuing a resource's links, revoking links -------------------------------

    async def queue_issuing(self, db: Executor, resource_id: str, tenant_id: str, deadline: datetime) -> None:
        await db.execute(f"INSERT INTO {self.s}.link_issuing_jobs (resource_id, tenant_id, deadline)"
                         " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", resource_id, tenant_id, deadline)

    async def queue_revoking(self, db: Executor, tenant_id: str, resource_id: str, link_ids: list[str]) -> None:
        await db.executemany(f"INSERT INTO {self.s}.link_revoking_jobs (link_id, tenant_id, resource_id)"
                             " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                             [(link_id, tenant_id, resource_id) for link_id in link_ids])

    async def claim_due_jobs(self, db: Executor, kind: JobKind, *, limit: int,
                             lease_seconds: float) -> list[DueJob]:
        """Take up to ``limit`` due jobs: other workers skip them until the lease ends (also if this one dies)."""
        table, key, deadline = JOB_TABLES[kind]
        rows = await db.fetch(
            f"UPDATE {self.s}.{table} SET attempts = attempts + 1,"
            " next_attempt_at = now() + make_interval(secs => $2)"
            f" WHERE {key} IN (SELECT {key} FROM {self.s}.{table} WHERE next_attempt_at <= now()"
            "                  ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
            f" RETURNING {key} AS key, tenant_id, attempts, {deadline} AS deadline",
            limit, lease_seconds)
        return [DueJob(**dict(row)) for row in rows]

    async def revoking_jobs(self, db: Executor, resource_id: str) -> list[DueJob]:
        """The revocations still to be done for one resource's links."""
        rows = await db.fetch(f"SELECT link_id AS key, tenant_id, attempts FROM {self.s}.link_revoking_jobs"
                              " WHERE resource_id = $1", resource_id)
        return [DueJob(**dict(row)) for row in rows]

    async def retry_job_later(self, db: Executor, kind: JobKind, key: str, delay_seconds: float, error: str) -> None:
        table, column, _ = JOB_TABLES[kind]
        await db.execute(f"UPDATE {self.s}.{table} SET next_attempt_at = now() + make_interval(secs => $2),"
                         f" last_error = $3 WHERE {column} = $1", key, delay_seconds, error[:500])

    async def finish_job(self, db: Executor, kind: JobKind, key: str) -> None:
        table, column, _ = JOB_TABLES[kind]
        await db.execute(f"DELETE FROM {self.s}.{table} WHERE {column} = $1", key)
