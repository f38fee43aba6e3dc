"""Reads and writes of the documents read models. Every query a staff caller can reach is scoped by tenant."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from loginless.documents import domain
from loginless.documents.storage import UploadedPart
from loginless.shared.eventstore import quote_ident

Executor = asyncpg.Connection | asyncpg.Pool


def _account(row: asyncpg.Record) -> domain.Account:
    return domain.Account(account_id=row["account_id"], tenant_id=row["tenant_id"], name=row["name"],
                          email=row["email"], kind=row["kind"], portal_access=row["portal_access"],
                          version=row["version"])


def _document(row: asyncpg.Record) -> domain.Document:
    return domain.Document(document_id=row["document_id"], tenant_id=row["tenant_id"], account_id=row["account_id"],
                           folder_id=row["folder_id"], display_name=row["display_name"], size=row["size"],
                           sha256=row["sha256"], content_type=row["content_type"], object_key=row["object_key"])


def _share(row: asyncpg.Record) -> domain.Share:
    return domain.Share(share_id=row["share_id"], tenant_id=row["tenant_id"], document_id=row["document_id"],
                        view_only=row["view_only"], expires_at=row["expires_at"],
                        revoked=row["revoked_at"] is not None, version=row["version"])


def _upload_request(row: asyncpg.Record) -> domain.UploadRequest:
    return domain.UploadRequest(
        upload_request_id=row["upload_request_id"], tenant_id=row["tenant_id"], account_id=row["account_id"],
        folder_id=row["folder_id"], deadline=row["deadline"], revoked=row["revoked_at"] is not None,
        version=row["version"],
        limits=domain.UploadLimits(max_file_size=row["max_file_size"], allowed_types=tuple(row["allowed_types"]),
                                   max_files=row["max_files"]),
    )


class Repository:
    def __init__(self, schema: str) -> None:
        self.s = quote_ident(schema)

    # -- accounts and folders ------------------------------------------------------------------------------

    async def account(self, db: Executor, tenant_id: str, account_id: str, *, lock: bool = False,
                      ) -> domain.Account | None:
        row = await db.fetchrow(f"SELECT * FROM {self.s}.accounts WHERE tenant_id = $1 AND account_id = $2"
                                + (" FOR UPDATE" if lock else ""), tenant_id, account_id)
        return _account(row) if row else None

    async def accounts(self, db: Executor, tenant_id: str, *, limit: int, after: str | None) -> list[asyncpg.Record]:
        return await db.fetch(
            f"SELECT * FROM {self.s}.accounts WHERE tenant_id = $1 AND ($2::text IS NULL OR account_id > $2)"
            " ORDER BY account_id LIMIT $3", tenant_id, after, limit)

    async def insert_account(self, db: Executor, event: Any) -> None:
        await db.execute(
            f"INSERT INTO {self.s}.accounts (account_id, tenant_id, name, email, kind, portal_access, created_at,"
            " version) VALUES ($1, $2, $3, $4, $5, $6, $7, 1)",
            event.account_id, event.tenant_id, event.account_name, event.email, event.kind, event.portal_access,
            event.created_at)

    async def mark_invited(self, db: Executor, account: domain.Account, at: datetime) -> None:
        await db.execute(f"UPDATE {self.s}.accounts SET portal_access = 'invited', invited_at = $2,"
                         " version = version + 1 WHERE account_id = $1", account.account_id, at)

    async def folder(self, db: Executor, tenant_id: str, folder_id: str) -> domain.Folder | None:
        row = await db.fetchrow(f"SELECT * FROM {self.s}.folders WHERE tenant_id = $1 AND folder_id = $2",
                                tenant_id, folder_id)
        return domain.Folder(row["folder_id"], row["tenant_id"], row["account_id"], row["name"]) if row else None

    async def folders(self, db: Executor, tenant_id: str, account_id: str) -> list[asyncpg.Record]:
        return await db.fetch(f"SELECT * FROM {self.s}.folders WHERE tenant_id = $1 AND account_id = $2"
                              " ORDER BY created_at, folder_id", tenant_id, account_id)

    async def insert_folder(self, db: Executor, event: Any) -> None:
        await db.execute(f"INSERT INTO {self.s}.folders (folder_id, tenant_id, account_id, name, created_at, version)"
                         " VALUES ($1, $2, $3, $4, $5, 1)",
                         event.folder_id, event.tenant_id, event.account_id, event.folder_name, event.created_at)

    # -- documents -----------------------------------------------------------------------------------------

    async def document(self, db: Executor, tenant_id: str, document_id: str) -> domain.Document | None:
        row = await db.fetchrow(f"SELECT * FROM {self.s}.documents WHERE tenant_id = $1 AND document_id = $2",
                                tenant_id, document_id)
        return _document(row) if row else None

    async def document_record(self, db: Executor, tenant_id: str, document_id: str) -> asyncpg.Record | None:
        return await db.fetchrow(f"SELECT * FROM {self.s}.documents WHERE tenant_id = $1 AND document_id = $2",
                                 tenant_id, document_id)

    async def documents(self, db: Executor, tenant_id: str, *, account_id: str | None, folder_id: str | None,
                        upload_request_id: str | None, limit: int, after: str | None) -> list[asyncpg.Record]:
        return await db.fetch(
            f"SELECT * FROM {self.s}.documents WHERE tenant_id = $1"
            " AND ($2::text IS NULL OR account_id = $2) AND ($3::text IS NULL OR folder_id = $3)"
            " AND ($4::text IS NULL OR upload_request_id = $4) AND ($5::text IS NULL OR document_id > $5)"
            " ORDER BY document_id LIMIT $6", tenant_id, account_id, folder_id, upload_request_id, after, limit)

    async def insert_document(self, db: Executor, document: domain.Document, *, source: str, created_at: datetime,
                              upload_request_id: str | None = None, link_id: str | None = None,
                              uploader_name: str | None = None, uploader_email: str | None = None) -> None:
        await db.execute(
            f"INSERT INTO {self.s}.documents (document_id, tenant_id, account_id, folder_id, display_name, size,"
            " sha256, content_type, object_key, source, upload_request_id, link_id, uploader_name, uploader_email,"
            " created_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1)",
            document.document_id, document.tenant_id, document.account_id, document.folder_id, document.display_name,
            document.size, document.sha256, document.content_type, document.object_key, source, upload_request_id,
            link_id, uploader_name, uploader_email, created_at)

    async def files_of_link(self, db: Executor, link_id: str) -> list[asyncpg.Record]:
        return await db.fetch(f"SELECT display_name, size, content_type, created_at FROM {self.s}.documents"
                              " WHERE link_id = $1 ORDER BY created_at, document_id", link_id)

    # -- shares, upload requests and their links -------------------------------------------------------------

    async def share(self, db: Executor, tenant_id: str, share_id: str, *, lock: bool = False) -> domain.Share | None:
        row = await db.fetchrow(f"SELECT * FROM {self.s}.shares WHERE tenant_id = $1 AND share_id = $2"
                                + (" FOR UPDATE" if lock else ""), tenant_id, share_id)
        return _share(row) if row else None

    async def insert_share(self, db: Executor, event: Any) -> None:
        await db.execute(f"INSERT INTO {self.s}.shares (share_id, tenant_id, document_id, view_only, expires_at,"
                         " created_at, version) VALUES ($1, $2, $3, $4, $5, $6, 1)",
                         event.share_id, event.tenant_id, event.document_id, event.view_only, event.expires_at,
                         event.shared_at)

    async def mark_share_revoked(self, db: Executor, share_id: str, at: datetime) -> None:
        await db.execute(f"UPDATE {self.s}.shares SET revoked_at = $2, version = version + 1 WHERE share_id = $1",
                         share_id, at)
        await db.execute(f"UPDATE {self.s}.recipient_links SET revoked_at = coalesce(revoked_at, $2)"
                         " WHERE resource_id = $1", share_id, at)

    async def insert_links(self, db: Executor, tenant_id: str, resource_id: str,
                           links: list[domain.IssuedLink]) -> None:
        await db.executemany(
            f"INSERT INTO {self.s}.recipient_links (link_id, tenant_id, resource_id, email, name)"
            " VALUES ($1, $2, $3, $4, $5)",
            [(link.link_id, tenant_id, resource_id, link.email, link.name) for link in links])

    async def links_of(self, db: Executor, resource_id: str) -> list[asyncpg.Record]:
        return await db.fetch(f"SELECT link_id, email, name, revoked_at FROM {self.s}.recipient_links"
                              " WHERE resource_id = $1 ORDER BY email", resource_id)

    async def link(self, db: Executor, tenant_id: str, resource_id: str, link_id: str, *,
                   lock: bool = False) -> asyncpg.Record | None:
        return await db.fetchrow(f"SELECT * FROM {self.s}.recipient_links WHERE tenant_id = $1 AND resource_id = $2"
                                 " AND link_id = $3" + (" FOR UPDATE" if lock else ""), tenant_id, resource_id, link_id)

    async def mark_link_revoked(self, db: Executor, link_id: str, at: datetime) -> None:
        await db.execute(f"UPDATE {self.s}.recipient_links SET revoked_at = coalesce(revoked_at, $2)"
                         " WHERE link_id = $1", link_id, at)

    async def upload_request(self, db: Executor, tenant_id: str, upload_request_id: str, *,
                             lock: bool = False) -> domain.UploadRequest | None:
        row = await db.fetchrow(f"SELECT * FROM {self.s}.upload_requests WHERE tenant_id = $1"
                                " AND upload_request_id = $2" + (" FOR UPDATE" if lock else ""),
                                tenant_id, upload_request_id)
        return _upload_request(row) if row else None

    async def insert_upload_request(self, db: Executor, event: Any) -> None:
        await db.execute(
            f"INSERT INTO {self.s}.upload_requests (upload_request_id, tenant_id, account_id, folder_id,"
            " max_file_size, allowed_types, max_files, deadline, created_at, version)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1)",
            event.upload_request_id, event.tenant_id, event.account_id, event.folder_id, event.max_file_size,
            event.allowed_types, event.max_files, event.deadline, event.created_at)

    async def mark_upload_request_revoked(self, db: Executor, upload_request_id: str, at: datetime) -> None:
        await db.execute(f"UPDATE {self.s}.upload_requests SET revoked_at = $2, version = version + 1"
                         " WHERE upload_request_id = $1", upload_request_id, at)
        await db.execute(f"UPDATE {self.s}.recipient_links SET revoked_at = coalesce(revoked_at, $2)"
                         " WHERE resource_id = $1", upload_request_id, at)

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
        """Uploads nobody touched for ``idle_hours``, or whose request ended (deadline passed or revoked)."""
        return await db.fetch(
            f"SELECT t.* FROM {self.s}.tus_uploads t JOIN {self.s}.upload_requests r USING (upload_request_id)"
            " WHERE (t.updated_at < now() - $1::double precision * interval '1 hour'"
            "        OR r.deadline < now() OR r.revoked_at IS NOT NULL)"
            "   AND (t.lease_owner IS NULL OR t.lease_until < now())"
            " ORDER BY t.updated_at LIMIT $2", idle_hours, limit)

    # -- access records --------------------------------------------------------------------------------------

    async def insert_access(self, db: Executor, *, access_id: str, tenant_id: str, document_id: str, share_id: str,
                            link_id: str, kind: str, client_ip: str | None, user_agent: str | None,
                            at: datetime) -> None:
        await db.execute(
            f"INSERT INTO {self.s}.access_records (access_id, tenant_id, document_id, share_id, link_id, kind,"
            " client_ip, user_agent, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            access_id, tenant_id, document_id, share_id, link_id, kind, client_ip, user_agent, at)

    async def accesses_of_share(self, db: Executor, tenant_id: str, share_id: str) -> list[asyncpg.Record]:
        return await db.fetch(f"SELECT * FROM {self.s}.access_records WHERE tenant_id = $1 AND share_id = $2"
                              " ORDER BY at", tenant_id, share_id)

    async def purge_access_records(self, db: asyncpg.Connection, older_than: datetime) -> int:
        """Delete access records recorded before ``older_than``, with the events and the published outbox messages
        that carried their personal data. Each access is a stream of its own (``axs_…``), so no other stream
        loses an event; a message still waiting for Kafka goes in a later run."""
        async with db.transaction():
            purged = await db.fetchval(
                f"WITH gone AS (DELETE FROM {self.s}.access_records WHERE at < $1 RETURNING 1)"
                " SELECT count(*) FROM gone", older_than)
            await db.execute(f"DELETE FROM {self.s}.events WHERE stream_id LIKE 'axs\\_%' AND recorded_at < $1",
                             older_than)
            await db.execute(f"DELETE FROM {self.s}.outbox WHERE published_at IS NOT NULL AND created_at < $1"
                             " AND substring(message_key FROM 1 FOR 4) = 'axs_'::bytea", older_than)
        return purged
