"""One async function per command: load the aggregate, let the domain decide, then append its events and update
the read model in one transaction (the outbox publishes them later). Calls to the links service happen before
that transaction, never inside it, so no database transaction waits on the network.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from loginless.documents import domain, filetypes
from loginless.documents.ports import Links, Scanner
from loginless.documents.repository import Repository
from loginless.documents.settings import DocumentsSettings
from loginless.documents.storage import MIN_PART_SIZE, DocumentStorage, PartBuffer, PartBuffers, UploadedPart
from loginless.shared.errors import InvalidRequest, NotFound
from loginless.shared.events import IntegrationEvent
from loginless.shared.eventstore import EventMetadata, EventStore
from loginless.shared.web.assertion import GuestAssertion

log = structlog.get_logger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Documents:
    """The documents application: what HTTP handlers and worker tasks call."""

    settings: DocumentsSettings
    store: EventStore
    storage: DocumentStorage
    links: Links
    scanner: Scanner
    repo: Repository
    part_buffers: PartBuffers = field(init=False)  # S3 part buffers of staff and guest uploads alike

    def __post_init__(self) -> None:
        self.part_buffers = PartBuffers(max(self.settings.upload_part_size, MIN_PART_SIZE))

    @property
    def pool(self):  # noqa: ANN201
        return self.store.pool

    async def _append(self, connection, stream_id: str, version: int, events: list[IntegrationEvent],  # noqa: ANN001
                      tenant_id: str, correlation_id: str) -> None:
        await self.store.append(stream_id, version, events, EventMetadata(tenant_id, correlation_id),
                                connection=connection)

    # ---- accounts and folders --------------------------------------------------------------------------

    async def create_account(self, tenant_id: str, *, name: str, email: str | None, kind: domain.AccountKind,
                             portal_access: bool, correlation_id: str) -> domain.Account:
        account_id = domain.new_id("act")
        event = domain.decide_create_account(tenant_id, account_id, name=name, email=email, kind=kind,
                                             portal_access=portal_access, now=utcnow())
        async with self.store.transaction() as connection:
            await self._append(connection, account_id, 0, [event], tenant_id, correlation_id)
            await self.repo.insert_account(connection, event)
            return await self.repo.account(connection, tenant_id, account_id)

    async def invite_account(self, tenant_id: str, account_id: str, *, correlation_id: str) -> domain.Account:
        async with self.store.transaction() as connection:
            account = await self.repo.account(connection, tenant_id, account_id, lock=True)
            if account is None:
                raise NotFound("no such account")
            event = domain.decide_invite(account, utcnow())
            await self._append(connection, account_id, account.version, [event], tenant_id, correlation_id)
            await self.repo.mark_invited(connection, account, event.invited_at)
            return await self.repo.account(connection, tenant_id, account_id)

    async def create_folder(self, tenant_id: str, account_id: str, *, name: str, correlation_id: str,
                            ) -> domain.Folder:
        folder_id = domain.new_id("fld")
        async with self.store.transaction() as connection:
            account = await self.repo.account(connection, tenant_id, account_id)
            if account is None:
                raise NotFound("no such account")
            event = domain.decide_create_folder(account, folder_id, name, utcnow())
            await self._append(connection, folder_id, 0, [event], tenant_id, correlation_id)
            await self.repo.insert_folder(connection, event)
        return domain.Folder(folder_id, tenant_id, account_id, event.folder_name)

    # ---- documents -------------------------------------------------------------------------------------

    async def add_document(self, tenant_id: str, *, account_id: str, folder_id: str | None, name: str,
                           body: AsyncIterator[bytes], declared_length: int | None,
                           correlation_id: str) -> domain.Document:
        """Stream a staff upload to S3 in parts, hashing on the way; refuse it past the size limit."""
        limit = self.settings.max_document_size
        if declared_length is not None and declared_length > limit:
            raise domain.TooLarge("the document is larger than this service accepts", max_size=limit)
        account = await self.repo.account(self.pool, tenant_id, account_id)
        if account is None:
            raise NotFound("no such account")
        if folder_id is not None:
            folder = await self.repo.folder(self.pool, tenant_id, folder_id)
            if folder is None or folder.account_id != account_id:
                raise NotFound("no such folder in this account")
        document_id = domain.new_id("doc")
        key = domain.object_key(tenant_id, document_id)
        display_name = domain.sanitize_display_name(name)
        writer = MultipartWriter(self.storage, key, self.part_buffers)
        try:
            async for chunk in body:
                if writer.size + len(chunk) > limit:
                    raise domain.TooLarge("the document is larger than this service accepts", max_size=limit)
                await writer.write(chunk)
            if writer.size == 0:
                raise domain.EmptyFile("the document is empty")
            await writer.finish()
        except BaseException:
            await writer.abort()
            raise
        content_type = filetypes.sniff(writer.head, name=display_name).mime
        document = domain.Document(document_id=document_id, tenant_id=tenant_id, account_id=account_id,
                                   folder_id=folder_id, display_name=display_name, size=writer.size,
                                   sha256=writer.sha256, content_type=content_type, object_key=key)
        now = utcnow()
        event = domain.events.DocumentAdded(
            document_id=document_id, tenant_id=tenant_id, account_id=account_id, folder_id=folder_id,
            display_name=display_name, size=writer.size, sha256=writer.sha256, content_type=content_type, added_at=now)
        try:
            async with self.store.transaction() as connection:
                await self._append(connection, document_id, 0, [event], tenant_id, correlation_id)
                await self.repo.insert_document(connection, document, source="staff", created_at=now)
        except BaseException:
            await self.storage.delete_quietly(key)  # no row points at it: don't leave it behind
            raise
        return document

    async def document(self, tenant_id: str, document_id: str) -> domain.Document:
        document = await self.repo.document(self.pool, tenant_id, document_id)
        if document is None:
            raise NotFound("no such document")
        return document

    # ---- shares ----------------------------------------------------------------------------------------

    async def share_document(self, tenant_id: str, document_id: str, *, authorization: str,
                             recipients: list[domain.Recipient], view_only: bool, expires_at: datetime | None,
                             expires_in_seconds: int | None, correlation_id: str,
                             ) -> tuple[domain.Share, list[domain.IssuedLink]]:
        now = utcnow()
        document = await self.document(tenant_id, document_id)
        recipients = domain.check_recipients(recipients)
        expiry = domain.resolve_expiry(now, expires_at=expires_at, expires_in_seconds=expires_in_seconds,
                                       default=timedelta(days=self.settings.default_share_expiry_days))
        share_id = domain.new_id("shr")
        links = await self.links.issue(authorization=authorization, action="view", resource_id=share_id,
                                       recipients=recipients, expires_at=expiry, idempotency_key=share_id)
        event = domain.decide_share(document, share_id, links, view_only=view_only, expires_at=expiry, now=now)
        async with self.store.transaction() as connection:
            await self._append(connection, share_id, 0, [event], tenant_id, correlation_id)
            await self.repo.insert_share(connection, event)
            await self.repo.insert_links(connection, tenant_id, share_id, links)
            share = await self.repo.share(connection, tenant_id, share_id)
        return share, links

    async def share(self, tenant_id: str, share_id: str) -> domain.Share:
        share = await self.repo.share(self.pool, tenant_id, share_id)
        if share is None:
            raise NotFound("no such share")
        return share

    async def revoke_share(self, tenant_id: str, share_id: str, *, authorization: str, correlation_id: str,
                           ) -> domain.Share:
        share = await self.share(tenant_id, share_id)
        # Links first: once this returns, the gateway refuses the links; our own row then records the end.
        for link in await self.repo.links_of(self.pool, share_id):
            if link["revoked_at"] is None:
                await self.links.revoke(authorization=authorization, link_id=link["link_id"])
        async with self.store.transaction() as connection:
            share = await self.repo.share(connection, tenant_id, share_id, lock=True)
            revoked = domain.decide_revoke_share(share, utcnow())
            if revoked:
                await self._append(connection, share_id, share.version, revoked, tenant_id, correlation_id)
                await self.repo.mark_share_revoked(connection, share_id, revoked[0].revoked_at)
            return await self.repo.share(connection, tenant_id, share_id)

    async def revoke_link(self, tenant_id: str, resource_id: str, link_id: str, *, authorization: str) -> None:
        """Revoke one recipient's link of a share or upload request; the others keep working."""
        link = await self.repo.link(self.pool, tenant_id, resource_id, link_id)
        if link is None:
            raise NotFound("no such link for this resource")
        await self.links.revoke(authorization=authorization, link_id=link_id)
        await self.repo.mark_link_revoked(self.pool, link_id, utcnow())

    # ---- upload requests -------------------------------------------------------------------------------

    async def create_upload_request(self, tenant_id: str, *, authorization: str, folder_id: str,
                                    recipients: list[domain.Recipient], max_file_size: int | None,
                                    allowed_types: list[str] | None, max_files: int | None,
                                    deadline: datetime | None, expires_in_seconds: int | None,
                                    correlation_id: str) -> tuple[domain.UploadRequest, list[domain.IssuedLink]]:
        now = utcnow()
        folder = await self.repo.folder(self.pool, tenant_id, folder_id)
        if folder is None:
            raise NotFound("no such folder")
        settings = self.settings
        limits = domain.decide_upload_limits(
            max_file_size=max_file_size, allowed_types=allowed_types, max_files=max_files,
            default_size=settings.default_upload_file_size, size_ceiling=settings.max_upload_file_size,
            default_max_files=settings.default_upload_max_files)
        recipients = domain.check_recipients(recipients)
        deadline = domain.resolve_expiry(now, expires_at=deadline, expires_in_seconds=expires_in_seconds,
                                         default=timedelta(days=settings.default_share_expiry_days))
        upload_request_id = domain.new_id("upr")
        links = await self.links.issue(authorization=authorization, action="upload", resource_id=upload_request_id,
                                       recipients=recipients, expires_at=deadline, idempotency_key=upload_request_id)
        event = domain.decide_create_upload_request(folder, upload_request_id, links, limits=limits,
                                                    deadline=deadline, now=now)
        async with self.store.transaction() as connection:
            await self._append(connection, upload_request_id, 0, [event], tenant_id, correlation_id)
            await self.repo.insert_upload_request(connection, event)
            await self.repo.insert_links(connection, tenant_id, upload_request_id, links)
            request = await self.repo.upload_request(connection, tenant_id, upload_request_id)
        return request, links

    async def upload_request(self, tenant_id: str, upload_request_id: str) -> domain.UploadRequest:
        request = await self.repo.upload_request(self.pool, tenant_id, upload_request_id)
        if request is None:
            raise NotFound("no such upload request")
        return request

    async def revoke_upload_request(self, tenant_id: str, upload_request_id: str, *, authorization: str,
                                    correlation_id: str) -> domain.UploadRequest:
        await self.upload_request(tenant_id, upload_request_id)
        for link in await self.repo.links_of(self.pool, upload_request_id):
            if link["revoked_at"] is None:
                await self.links.revoke(authorization=authorization, link_id=link["link_id"])
        async with self.store.transaction() as connection:
            request = await self.repo.upload_request(connection, tenant_id, upload_request_id, lock=True)
            revoked = domain.decide_revoke_upload_request(request, utcnow())
            if revoked:
                await self._append(connection, upload_request_id, request.version, revoked, tenant_id,
                                   correlation_id)
                await self.repo.mark_upload_request_revoked(connection, upload_request_id, revoked[0].revoked_at)
            return await self.repo.upload_request(connection, tenant_id, upload_request_id)

    # ---- guests: viewing and downloading ---------------------------------------------------------------

    async def guest_share(self, guest: GuestAssertion) -> tuple[domain.Share, domain.Document]:
        """The share and document a guest's link points at: always the assertion's resource, nothing else."""
        if guest.action != "view":
            raise NotFound("this link does not share a document")
        share = domain.check_guest_share(await self.repo.share(self.pool, guest.tenant_id, guest.resource_id),
                                         utcnow())
        link = await self.repo.link(self.pool, guest.tenant_id, share.share_id, guest.link_id)
        if link is None:
            raise NotFound("no such document")
        if link["revoked_at"] is not None:
            raise domain.Gone("this link was revoked")
        document = await self.repo.document(self.pool, guest.tenant_id, share.document_id)
        if document is None:
            raise NotFound("no such document")
        return share, document

    async def record_access(self, guest: GuestAssertion, share: domain.Share, kind: str, *,
                            client_ip: str | None, user_agent: str | None, correlation_id: str) -> None:
        access_id = domain.new_id("axs")
        now = utcnow()
        common = dict(access_id=access_id, document_id=share.document_id, share_id=share.share_id,
                      tenant_id=share.tenant_id, link_id=guest.link_id, client_ip=client_ip, user_agent=user_agent)
        event: IntegrationEvent = (domain.events.DocumentViewed(**common, viewed_at=now) if kind == "view"
                                   else domain.events.DocumentDownloaded(**common, downloaded_at=now))
        async with self.store.transaction() as connection:
            await self._append(connection, access_id, 0, [event], share.tenant_id, correlation_id)
            await self.repo.insert_access(connection, access_id=access_id, tenant_id=share.tenant_id,
                                          document_id=share.document_id, share_id=share.share_id,
                                          link_id=guest.link_id, kind=kind, client_ip=client_ip,
                                          user_agent=user_agent, at=now)

    async def purge_access_records(self) -> int:
        cutoff = utcnow() - timedelta(days=self.settings.access_record_retention_days)
        async with self.pool.acquire() as connection:
            return await self.repo.purge_access_records(connection, cutoff)


class MultipartWriter:
    """Stores a stream as S3 parts, hashing every byte; memory stays at one part buffer (shared with guest uploads,
    see ``PartBuffers``)."""

    def __init__(self, storage: DocumentStorage, key: str, buffers: PartBuffers) -> None:
        self.storage, self.key, self.buffers = storage, key, buffers
        self._digest = hashlib.sha256()
        self._buffer: PartBuffer | None = None
        self._parts: list[UploadedPart] = []
        self._upload_id: str | None = None
        self._storing = False
        self.size = 0
        self.head = b""

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    async def write(self, chunk: bytes) -> None:
        self._digest.update(chunk)
        self.size += len(chunk)
        if len(self.head) < filetypes.SNIFF_BYTES:
            self.head = (self.head + chunk)[: filetypes.SNIFF_BYTES]
        rest = memoryview(chunk)
        while rest:
            if self._buffer is None:
                self._buffer = self.buffers.take(self.buffers.part_size)
            rest = rest[self._buffer.fill(rest):]
            if self._buffer.full:
                await self._flush()

    async def _flush(self) -> None:
        if self._upload_id is None:
            self._upload_id = await self.storage.start_multipart(self.key)
        self._storing = True
        part = await self.storage.upload_part(self.key, self._upload_id, len(self._parts) + 1, self._buffer.view())
        self._storing = False
        self._parts.append(part)
        self._buffer.size = 0  # the part is stored: the buffer takes the next bytes

    async def finish(self) -> None:
        try:
            buffered = self._buffer.size if self._buffer is not None else 0
            if self._upload_id is None:  # small enough for one request
                await self.storage.put_bytes(self.key, bytes(self._buffer.view()) if buffered else b"")
            else:
                if buffered:
                    await self._flush()
                await self.storage.complete_multipart(self.key, self._upload_id, self._parts)
        finally:
            self._release()
        stored = await self.storage.size_of(self.key)
        if stored != self.size:
            raise InvalidRequest("the stored document is not the size that was sent")

    async def abort(self) -> None:
        self._release()
        if self._upload_id is not None:
            await self.storage.abort_multipart(self.key, self._upload_id)

    def _release(self) -> None:
        # A part cut short (a cancelled request) may still be read by its worker thread: that buffer is not reused.
        if self._buffer is not None and not self._storing:
            self.buffers.give_back(self._buffer)
        self._buffer = None
