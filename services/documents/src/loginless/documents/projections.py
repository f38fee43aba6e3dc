"""The documents read models, kept from the events in the transaction that appends them.

Every column comes from an event (times are the events' own, ``version`` the stream's), so ``python -m
loginless.documents projections rebuild`` reproduces the tables exactly. The staff API reads them; decisions load
the aggregates from their streams instead. Upload offsets, leases and the links jobs are plain rows beside them
(``repository.py``) that a rebuild never touches.
"""

from __future__ import annotations

import json

import asyncpg

from loginless.documents.domain import object_key
from loginless.events.payloads import documents as events
from loginless.shared.eventstore import RecordedEvent, quote_ident

# Each stream's id names its kind (``new_id``), and with it the rows made from it.
ROWS_OF_STREAM = {
    "act": (("accounts", "account_id"),),
    "fld": (("folders", "folder_id"),),
    "doc": (("documents", "document_id"),),
    "shr": (("shares", "share_id"), ("recipient_links", "resource_id")),
    "upr": (("upload_requests", "upload_request_id"), ("recipient_links", "resource_id")),
    "axs": (("access_records", "access_id"),),
}


def _recipients(recipients: list[events.RequestedRecipient]) -> str:
    return json.dumps([{"email": r.email, "name": r.recipient_name, "language": r.language} for r in recipients])


def _recipients_named_by_email(recipients: list[events.ShareRecipient]) -> str:
    """Recipients of DocumentShared and UploadRequestCreated, which name no more than the e-mail address."""
    return json.dumps([{"email": r.email, "name": None, "language": None} for r in recipients])


class DocumentRows:
    tables = ("accounts", "folders", "documents", "shares", "upload_requests", "recipient_links", "access_records")

    def __init__(self, schema: str) -> None:
        self.s = quote_ident(schema)

    async def apply(self, db: asyncpg.Connection, recorded: RecordedEvent) -> None:  # noqa: C901 (one case each)
        s, version, event = self.s, recorded.version, recorded.payload
        match event:
            case events.ClientAccountCreated():
                await db.execute(
                    f"INSERT INTO {s}.accounts (account_id, tenant_id, name, email, kind, portal_access, created_at,"
                    " version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    event.account_id, event.tenant_id, event.account_name, event.email, event.kind,
                    event.portal_access, event.created_at, version)
            case events.ClientInvitedToPortal():
                await db.execute(f"UPDATE {s}.accounts SET portal_access = 'invited', invited_at = $2, version = $3"
                                 " WHERE account_id = $1", event.account_id, event.invited_at, version)
            case events.FolderCreated():
                await db.execute(
                    f"INSERT INTO {s}.folders (folder_id, tenant_id, account_id, name, created_at, version)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    event.folder_id, event.tenant_id, event.account_id, event.folder_name, event.created_at, version)
            case events.DocumentAdded():
                await self._document(db, event.document_id, event, source="staff", created_at=event.added_at,
                                     version=version)
            case events.FileUploadedV2():
                await self._document(db, event.file_id, event, source="guest", created_at=event.uploaded_at,
                                     version=version, upload_request_id=event.upload_request_id,
                                     link_id=event.link_id, uploader_name=event.uploader_name,
                                     uploader_email=event.uploader_email)
            case events.SharePrepared():
                await db.execute(
                    f"INSERT INTO {s}.shares (share_id, tenant_id, document_id, view_only, expires_at, status,"
                    " recipients, created_at, version) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8)",
                    event.share_id, event.tenant_id, event.document_id, event.view_only, event.expires_at,
                    _recipients(event.recipients), event.prepared_at, version)
            case events.DocumentShared():
                # A share recorded before links were issued after it starts with this event and its links.
                await db.execute(
                    f"INSERT INTO {s}.shares (share_id, tenant_id, document_id, view_only, expires_at, status,"
                    " recipients, created_at, version) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8)"
                    " ON CONFLICT (share_id) DO UPDATE SET status = 'active', version = EXCLUDED.version",
                    event.share_id, event.tenant_id, event.document_id, event.view_only, event.expires_at,
                    _recipients_named_by_email(event.recipients),
                    event.shared_at, version)
                await self._links_named_first(db, event.share_id, event.tenant_id, event.recipients, event.shared_at)
            case events.ShareFailed():
                await self._set(db, "shares", "share_id", event.share_id, version,
                                "status = 'failed', failure = $3", event.reason)
            case events.ShareRevoked():
                await self._set(db, "shares", "share_id", event.share_id, version,
                                "status = 'revoked', revoked_at = $3", event.revoked_at)
            case events.ShareLocked():
                await self._set(db, "shares", "share_id", event.share_id, version,
                                "lock_invoice_id = $3, lock_status = 'locked', lock_changed_at = $4",
                                event.invoice_id, event.locked_at)
            case events.ShareUnlocked(reason="released"):
                await self._set(db, "shares", "share_id", event.share_id, version,
                                "lock_invoice_id = NULL, lock_status = NULL, lock_changed_at = $3", event.unlocked_at)
            case events.ShareUnlocked():
                await self._set(db, "shares", "share_id", event.share_id, version,
                                "lock_status = 'unlocked', lock_changed_at = $3", event.unlocked_at)
            case events.UploadRequestPrepared():
                await self._upload_request(db, event, status="pending", recipients=_recipients(event.recipients),
                                           created_at=event.prepared_at, version=version)
            case events.UploadRequestCreated():
                await self._upload_request(
                    db, event, status="active", created_at=event.created_at, version=version,
                    recipients=_recipients_named_by_email(event.recipients))
                await self._links_named_first(db, event.upload_request_id, event.tenant_id, event.recipients,
                                              event.created_at)
            case events.UploadRequestFailed():
                await self._set(db, "upload_requests", "upload_request_id", event.upload_request_id, version,
                                "status = 'failed', failure = $3", event.reason)
            case events.UploadRequestRevoked():
                await self._set(db, "upload_requests", "upload_request_id", event.upload_request_id, version,
                                "status = 'revoked', revoked_at = $3", event.revoked_at)
            case events.FileRefused():
                await self._version(db, event.upload_request_id, version)  # seen in the events, not in a row
            case events.RecipientLinkIssued():
                await db.execute(
                    f"INSERT INTO {s}.recipient_links (link_id, tenant_id, resource_id, email, name, status, issued_at)"
                    " VALUES ($1, $2, $3, $4, $5, 'active', $6)",
                    event.link_id, event.tenant_id, event.resource_id, event.email, event.recipient_name,
                    event.issued_at)
                await self._version(db, event.resource_id, version)
            case events.RecipientLinkRevoked() | events.RecipientLinkExpired():
                ended_at = event.revoked_at if isinstance(event, events.RecipientLinkRevoked) else event.expires_at
                status = "revoked" if isinstance(event, events.RecipientLinkRevoked) else "expired"
                await db.execute(f"UPDATE {s}.recipient_links SET status = $2, ended_at = $3 WHERE link_id = $1",
                                 event.link_id, status, ended_at)
                await self._version(db, event.resource_id, version)
            case events.DocumentViewed() | events.DocumentDownloaded():
                viewed = isinstance(event, events.DocumentViewed)
                await db.execute(
                    f"INSERT INTO {s}.access_records (access_id, tenant_id, document_id, share_id, link_id, kind,"
                    " client_ip, user_agent, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    event.access_id, event.tenant_id, event.document_id, event.share_id, event.link_id,
                    "view" if viewed else "download", event.client_ip, event.user_agent,
                    event.viewed_at if viewed else event.downloaded_at)

    async def forget(self, db: asyncpg.Connection, stream_id: str) -> None:
        for table, key in ROWS_OF_STREAM.get(stream_id.split("_", 1)[0], ()):
            await db.execute(f"DELETE FROM {self.s}.{table} WHERE {key} = $1", stream_id)

    async def _document(self, db: asyncpg.Connection, document_id: str, event: events.DocumentAdded
                        | events.FileUploadedV2, *, source: str, created_at: object, version: int,
                        upload_request_id: str | None = None, link_id: str | None = None,
                        uploader_name: str | None = None, uploader_email: str | None = None) -> None:
        await db.execute(
            f"INSERT INTO {self.s}.documents (document_id, tenant_id, account_id, folder_id, display_name, size,"
            " sha256, content_type, object_key, source, upload_request_id, link_id, uploader_name, uploader_email,"
            " created_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            document_id, event.tenant_id, event.account_id, event.folder_id, event.display_name, event.size,
            event.sha256, event.content_type, object_key(event.tenant_id, document_id), source,
            upload_request_id, link_id, uploader_name, uploader_email, created_at, version)

    async def _upload_request(self, db: asyncpg.Connection, event: events.UploadRequestPrepared
                              | events.UploadRequestCreated, *, status: str, recipients: str, created_at: object,
                              version: int) -> None:
        await db.execute(
            f"INSERT INTO {self.s}.upload_requests (upload_request_id, tenant_id, account_id, folder_id,"
            " max_file_size, allowed_types, max_files, deadline, status, recipients, created_at, version)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (upload_request_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version",
            event.upload_request_id, event.tenant_id, event.account_id, event.folder_id, event.max_file_size,
            event.allowed_types, event.max_files, event.deadline, status, recipients, created_at, version)

    async def _links_named_first(self, db: asyncpg.Connection, resource_id: str, tenant_id: str,
                                 recipients: list[events.ShareRecipient], at: object) -> None:
        """The links a resource's completing event names: rows already there (one ``RecipientLinkIssued`` each)
        stay as they are; a resource recorded with its links from the start gets them here."""
        await db.executemany(
            f"INSERT INTO {self.s}.recipient_links (link_id, tenant_id, resource_id, email, status, issued_at)"
            " VALUES ($1, $2, $3, $4, 'active', $5) ON CONFLICT (link_id) DO NOTHING",
            [(r.link_id, tenant_id, resource_id, r.email, at) for r in recipients])

    async def _set(self, db: asyncpg.Connection, table: str, key: str, stream_id: str, version: int,
                   assignments: str, *values: object) -> None:
        await db.execute(f"UPDATE {self.s}.{table} SET {assignments}, version = $2 WHERE {key} = $1",
                         stream_id, version, *values)

    async def _version(self, db: asyncpg.Connection, resource_id: str, version: int) -> None:
        table, key = ("shares", "share_id") if resource_id.startswith("shr_") else ("upload_requests",
                                                                                    "upload_request_id")
        await db.execute(f"UPDATE {self.s}.{table} SET version = $2 WHERE {key} = $1", resource_id, version)
