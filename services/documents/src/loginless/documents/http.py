"""The staff API (``/v1``): accounts, folders, documents, shares and upload requests of the caller's tenant.

Controllers only translate: HTTP to calls of ``handlers`` and their answers back to wire models. Rows of another
tenant are simply not found (404). Every creating POST honours ``Idempotency-Key`` (the kernel's).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream
from pydantic import BaseModel, Field

from loginless.documents import domain, handlers
from loginless.documents.guest import body_chunks
from loginless.documents.handlers import DocumentsContext, Issued
from loginless.documents.views import DocumentView
from loginless.shared.errors import InvalidRequest
from loginless.shared.web.auth import StaffPrincipal, internal_only
from loginless.shared.web.context import cause_of
from loginless.shared.web.idempotency import Answer, IdempotencyKey
from loginless.shared.web.pagination import (
    PAGE_LIMIT_DEFAULT,
    PageCursor,
    PageLimit,
    after_key,
    cursor_time,
    decode_cursor,
    page,
)
from loginless.shared.web.problems import problem_responses

Staff: TypeAlias = NamedDependency[StaffPrincipal]
Documents: TypeAlias = NamedDependency[DocumentsContext]
PathId: TypeAlias = FromPath[str]


# ---- wire models ----------------------------------------------------------------------------------------


class NewAccount(BaseModel):
    name: str = Field(max_length=200)
    email: str | None = Field(None, max_length=254)
    kind: domain.AccountKind = "client"
    portal_access: bool = Field(False, description="Without it the client gets no notifications and cannot log in")


class AccountOut(BaseModel):
    account_id: str
    name: str
    email: str | None
    kind: domain.AccountKind
    portal_access: domain.PortalAccess

    @classmethod
    def of(cls, account: domain.Account | Mapping[str, Any]) -> AccountOut:
        if isinstance(account, domain.Account):
            return cls(account_id=account.account_id, name=account.name, email=account.email, kind=account.kind,
                       portal_access=account.portal_access)
        return cls(**{name: account[name] for name in cls.model_fields})


class NewFolder(BaseModel):
    name: str = Field(max_length=200)


class FolderOut(BaseModel):
    folder_id: str
    account_id: str
    name: str


class DocumentOut(BaseModel):
    document_id: str
    account_id: str
    folder_id: str | None
    display_name: str
    size: int
    sha256: str
    content_type: str
    source: Literal["staff", "guest"] = "staff"
    upload_request_id: str | None = None
    link_id: str | None = None
    uploader_name: str | None = None
    uploader_email: str | None = None
    created_at: datetime | None = None

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> DocumentOut:
        return cls(**{name: row[name] for name in cls.model_fields})


class RecipientIn(BaseModel):
    email: str = Field(max_length=254)
    name: str | None = Field(None, max_length=200)
    language: Literal["en", "es"] | None = None

    def to_domain(self) -> domain.Recipient:
        return domain.Recipient(self.email, self.name, self.language)


class NewShare(BaseModel):
    recipients: list[RecipientIn] = Field(min_length=1, max_length=50)
    view_only: bool = Field(False, description="Recipients may view but not download")
    expires_at: datetime | None = None
    expires_in_seconds: int | None = Field(None, ge=60)
    locked_until_paid: str | None = Field(
        None, max_length=40, description="An invoice id (inv_…) of the payments service: the share stays locked "
        "until the invoice is paid (at once unlocked if it is known to be paid)")


class LockIn(BaseModel):
    invoice_id: str = Field(max_length=40, description="The invoice (inv_…) whose payment unlocks the share")


class LockOut(BaseModel):
    invoice_id: str
    status: Literal["locked", "unlocked"] = Field(description="locked until the invoice is paid; unlocked once it "
                                                  "is (a reversed payment that reopens it locks the share again)")
    changed_at: datetime | None = None

    @classmethod
    def of(cls, share: domain.Share | Mapping[str, Any]) -> LockOut | None:
        if isinstance(share, domain.Share):
            return None if share.lock is None else cls(invoice_id=share.lock.invoice_id,
                                                       status="locked" if share.lock.locked else "unlocked")
        if share["lock_invoice_id"] is None:
            return None
        return cls(invoice_id=share["lock_invoice_id"], status=share["lock_status"],
                   changed_at=share["lock_changed_at"])


class LinkOut(BaseModel):
    link_id: str | None = Field(None, description="None while the recipient's link is being issued")
    email: str
    name: str | None = None
    status: domain.LinkStatus = "active"
    url: str | None = Field(None, description="Holds the link's token: in the creating answer only, never stored")
    expires_at: datetime | None = None
    revoked: bool = False


class ShareOut(BaseModel):
    share_id: str
    document_id: str
    view_only: bool
    expires_at: datetime
    status: domain.ResourceStatus = Field(description="pending while its links are being issued; then active, "
                                          "or failed if they could not be (any issued link is revoked)")
    failure: str | None = None
    revoked: bool
    lock: LockOut | None = Field(None, description="Pay to unlock: the invoice whose payment unlocks the share")
    links: list[LinkOut]


class AccessOut(BaseModel):
    kind: Literal["view", "download"]
    link_id: str
    at: datetime
    client_ip: str | None
    user_agent: str | None


class ShareDetail(ShareOut):
    accesses: list[AccessOut]


class NewUploadRequest(BaseModel):
    folder_id: str
    recipients: list[RecipientIn] = Field(min_length=1, max_length=50)
    max_file_size: int | None = Field(None, ge=1, description="Bytes per file")
    allowed_types: list[str] | None = Field(None, max_length=50, description="MIME types or families (image/*)")
    max_files: int | None = Field(None, ge=1, le=1000, description="Files per link")
    deadline: datetime | None = None
    expires_in_seconds: int | None = Field(None, ge=60)


class UploadRequestOut(BaseModel):
    upload_request_id: str
    account_id: str
    folder_id: str
    max_file_size: int
    allowed_types: list[str]
    max_files: int
    deadline: datetime
    status: domain.ResourceStatus
    failure: str | None = None
    revoked: bool
    links: list[LinkOut]
    files: list[DocumentOut] = []


def _links(holder: domain.LinkHolder, urls: Mapping[str, str], expires_at: datetime) -> list[LinkOut]:
    return [LinkOut(link_id=r.link_id, email=r.email, name=r.name, status=r.status, url=urls.get(r.link_id or ""),
                    expires_at=expires_at, revoked=r.status == "revoked") for r in holder.recipients]


def _stored_links(resource: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> list[LinkOut]:
    """The recipients as asked, each with their link once issued."""
    issued = {row["email"]: row for row in rows}
    links = []
    for recipient in _json(resource["recipients"]):
        row = issued.get(recipient["email"])
        status = row["status"] if row else "pending"
        links.append(LinkOut(link_id=row["link_id"] if row else None, email=recipient["email"],
                             name=recipient.get("name") or (row["name"] if row else None), status=status,
                             revoked=status == "revoked"))
    return links


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _created(issued: Issued, body: BaseModel) -> Answer:
    """201 when every link exists, 202 while they are still being issued (recipients get them by e-mail)."""
    return Answer(201 if issued.holder.status == "active" else 202, body.model_dump(mode="json"))


def _without_urls(answer: Answer) -> Answer:
    """What a replay gets: link URLs carry tokens, which are never stored here (recipients have them by e-mail)."""
    body = {**answer.body, "links": [{**link, "url": None} for link in answer.body.get("links", [])]}
    return Answer(answer.status_code, body)


# ---- controllers ----------------------------------------------------------------------------------------


class AccountsController(Controller):
    path = "/v1/accounts"
    tags = ["accounts"]

    @post("/")
    async def create(self, request: Request, data: JSONBody[NewAccount], staff: Staff, documents: Documents,
                     idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Create a client account; ``kind: guest`` for people who are not clients (they upload through links)."""
        async def work() -> Answer:
            account = await handlers.create_account(
                documents, staff.tenant_id, name=data.name, email=data.email, kind=data.kind,
                portal_access=data.portal_access, cause=cause_of(request))
            return Answer(201, AccountOut.of(account).model_dump(mode="json"))

        return (await documents.idempotency.run(tenant_id=staff.tenant_id, operation="create-account",
                                                key=idempotency_key, request=data.model_dump(mode="json"),
                                                work=work)).response()

    @get("/")
    async def list(self, staff: Staff, documents: Documents, after: FromQuery[str | None] = None,
                   cursor: PageCursor = None, limit: PageLimit = PAGE_LIMIT_DEFAULT) -> dict:
        rows = await handlers.accounts(documents, staff.tenant_id, limit=limit + 1,
                                       after=after_key(cursor, after))
        found, next_cursor = page(rows, limit, key=lambda row: (row["account_id"],))
        items = [AccountOut.of(row).model_dump(mode="json") for row in found]
        return {"accounts": items, "next": items[-1]["account_id"] if next_cursor else None,
                "next_cursor": next_cursor}

    @get("/{account_id:str}")
    async def get_one(self, account_id: PathId, staff: Staff, documents: Documents) -> AccountOut:
        return AccountOut.of(await handlers.account(documents, staff.tenant_id, account_id))

    @post("/{account_id:str}/invite", status_code=200, responses=problem_responses({
        409: "A guest account cannot be invited, and a client with portal access needs no invitation"}))
    async def invite(self, request: Request, account_id: PathId, staff: Staff, documents: Documents) -> AccountOut:
        """Invite a client without portal access: emits ClientInvitedToPortal for the portal to act on."""
        account = await handlers.invite_account(documents, staff.tenant_id, account_id, cause=cause_of(request))
        return AccountOut.of(account)

    @post("/{account_id:str}/folders")
    async def create_folder(self, request: Request, account_id: PathId, data: JSONBody[NewFolder], staff: Staff,
                            documents: Documents, idempotency_key: IdempotencyKey = None) -> Response[dict]:
        async def work() -> Answer:
            folder = await handlers.create_folder(documents, staff.tenant_id, account_id, name=data.name,
                                                  cause=cause_of(request))
            return Answer(201, FolderOut(folder_id=folder.folder_id, account_id=account_id,
                                         name=folder.name).model_dump(mode="json"))

        return (await documents.idempotency.run(tenant_id=staff.tenant_id, operation="create-folder",
                                                key=idempotency_key, request=[account_id, data.model_dump()],
                                                work=work)).response()

    @get("/{account_id:str}/folders")
    async def folders(self, account_id: PathId, staff: Staff, documents: Documents, cursor: PageCursor = None,
                      limit: PageLimit = PAGE_LIMIT_DEFAULT) -> dict:
        after = decode_cursor(cursor, parts=2)
        rows = await handlers.folders(documents, staff.tenant_id, account_id, limit=limit + 1,
                                      after=(cursor_time(after[0]), after[1]) if after else None)
        rows, next_cursor = page(rows, limit, key=lambda row: (row["created_at"].isoformat(), row["folder_id"]))
        return {"folders": [FolderOut(folder_id=r["folder_id"], account_id=r["account_id"],
                                      name=r["name"]).model_dump(mode="json") for r in rows],
                "next_cursor": next_cursor}


class DocumentsController(Controller):
    path = "/v1/documents"
    tags = ["documents"]

    @post("/", request_max_body_size=None, responses=problem_responses({
        404: "No such account or folder for this tenant", 413: "The file is larger than the service takes",
        415: "The file's type (judged from its bytes) is not accepted"}))
    async def upload(self, request: Request, staff: Staff, documents: Documents, account_id: FromQuery[str],
                     name: Annotated[str, QueryParameter(max_length=1000)], folder_id: FromQuery[str | None] = None,
                     idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Upload a document: the raw bytes are the body (any ``Content-Type``), streamed to object storage.
        The type is judged from the bytes; ``name`` is sanitized for display."""
        length_header = request.headers.get("content-length")
        declared = int(length_header) if length_header and length_header.isdigit() else None

        async def work() -> Answer:
            document = await handlers.add_document(
                documents, staff.tenant_id, account_id=account_id, folder_id=folder_id, name=name,
                body=body_chunks(request), declared_length=declared, cause=cause_of(request))
            row = await handlers.document_row(documents, staff.tenant_id, document.document_id)
            return Answer(201, DocumentOut.of_row(row).model_dump(mode="json"))

        return (await documents.idempotency.run(tenant_id=staff.tenant_id, operation="upload-document",
                                                key=idempotency_key, request=[account_id, folder_id, name, declared],
                                                work=work)).response()

    @get("/")
    async def list(self, staff: Staff, documents: Documents, account_id: FromQuery[str | None] = None,
                   folder_id: FromQuery[str | None] = None, upload_request_id: FromQuery[str | None] = None,
                   after: FromQuery[str | None] = None, cursor: PageCursor = None,
                   limit: PageLimit = PAGE_LIMIT_DEFAULT) -> dict:
        """Documents of the tenant, including what guests uploaded (``source: guest``), filtered as asked."""
        rows = await handlers.documents_of(documents, staff.tenant_id, account_id=account_id, folder_id=folder_id,
                                           upload_request_id=upload_request_id, limit=limit + 1,
                                           after=after_key(cursor, after))
        found, next_cursor = page(rows, limit, key=lambda row: (row["document_id"],))
        items = [DocumentOut.of_row(row).model_dump(mode="json") for row in found]
        return {"documents": items, "next": items[-1]["document_id"] if next_cursor else None,
                "next_cursor": next_cursor}

    @get("/{document_id:str}")
    async def get_one(self, document_id: PathId, staff: Staff, documents: Documents) -> DocumentOut:
        return DocumentOut.of_row(await handlers.document_row(documents, staff.tenant_id, document_id))

    @get("/{document_id:str}/content")
    async def content(self, document_id: PathId, staff: Staff, documents: Documents) -> Stream:
        """The document's bytes, always as an attachment."""
        document = await handlers.document(documents, staff.tenant_id, document_id)
        return Stream(documents.storage.read_range(document.object_key), media_type=document.content_type,
                      headers={"Content-Disposition": domain.content_disposition("attachment", document.display_name),
                               "Content-Length": str(document.size), "X-Content-Type-Options": "nosniff",
                               "Cache-Control": "private, no-store"})

    @post("/{document_id:str}/shares")
    async def share(self, request: Request, document_id: PathId, data: JSONBody[NewShare], staff: Staff,
                    documents: Documents, idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Share with recipients by e-mail: the share is recorded, then one link each is issued (and e-mailed) by
        the links service. 201 with the links; 202 while links cannot answer (the share is ``pending`` and its
        links follow by e-mail)."""
        async def work() -> Answer:
            issued = await handlers.share_document(
                documents, staff.tenant_id, document_id, recipients=[r.to_domain() for r in data.recipients],
                view_only=data.view_only, expires_at=data.expires_at, expires_in_seconds=data.expires_in_seconds,
                locked_until_paid=data.locked_until_paid, cause=cause_of(request))
            share = issued.holder
            return _created(issued, ShareOut(share_id=share.share_id, document_id=share.document_id,
                                             view_only=share.view_only, expires_at=share.expires_at,
                                             status=share.status, revoked=share.status == "revoked",
                                             lock=LockOut.of(share),
                                             links=_links(share, issued.urls, share.expires_at)))

        return (await documents.idempotency.run(tenant_id=staff.tenant_id, operation="share-document",
                                                key=idempotency_key, request=[document_id, data.model_dump()],
                                                work=work, remember=_without_urls)).response()


class SharesController(Controller):
    path = "/v1/shares"
    tags = ["shares"]

    @staticmethod
    async def _detail(documents: DocumentsContext, tenant_id: str, share_id: str) -> ShareDetail:
        share, links, accesses = await handlers.share_detail(documents, tenant_id, share_id)
        return ShareDetail(share_id=share["share_id"], document_id=share["document_id"], view_only=share["view_only"],
                           expires_at=share["expires_at"], status=share["status"], failure=share["failure"],
                           revoked=share["status"] == "revoked", lock=LockOut.of(share),
                           links=_stored_links(share, links),
                           accesses=[AccessOut(kind=a["kind"], link_id=a["link_id"], at=a["at"],
                                               client_ip=a["client_ip"], user_agent=a["user_agent"])
                                     for a in accesses])

    @get("/{share_id:str}")
    async def get_one(self, share_id: PathId, staff: Staff, documents: Documents) -> ShareDetail:
        """The share, its links and the guests' views and downloads (kept for the configured retention)."""
        return await self._detail(documents, staff.tenant_id, share_id)

    @post("/{share_id:str}/revoke", status_code=200)
    async def revoke(self, request: Request, share_id: PathId, staff: Staff, documents: Documents) -> ShareDetail:
        """Revoke the share: guests are refused at once, and every link is revoked at the links service."""
        await handlers.revoke_resource(documents, staff.tenant_id, _share_id(share_id), cause=cause_of(request))
        return await self._detail(documents, staff.tenant_id, share_id)

    @post("/{share_id:str}/links/{link_id:str}/revoke", status_code=200)
    async def revoke_link(self, request: Request, share_id: PathId, link_id: PathId, staff: Staff,
                          documents: Documents) -> ShareDetail:
        """Revoke one recipient's link; the others keep working."""
        await handlers.revoke_recipient_link(documents, staff.tenant_id, _share_id(share_id), link_id,
                                             cause=cause_of(request))
        return await self._detail(documents, staff.tenant_id, share_id)

    @post("/{share_id:str}/lock", status_code=200)
    async def lock(self, request: Request, share_id: PathId, data: JSONBody[LockIn], staff: Staff,
                   documents: Documents) -> ShareDetail:
        """Lock the share until an invoice is paid: its guests see that it unlocks then, and get no bytes
        meanwhile. Unlocked at once if the invoice is already known to be paid; 409 if it is locked on another."""
        await handlers.lock_share(documents, staff.tenant_id, _share_id(share_id), invoice_id=data.invoice_id,
                                  cause=cause_of(request))
        return await self._detail(documents, staff.tenant_id, share_id)

    @post("/{share_id:str}/unlock", status_code=200)
    async def unlock(self, request: Request, share_id: PathId, staff: Staff, documents: Documents) -> ShareDetail:
        """Take the lock off by hand (the invoice was settled some way payments does not announce)."""
        await handlers.release_share_lock(documents, staff.tenant_id, _share_id(share_id), cause=cause_of(request))
        return await self._detail(documents, staff.tenant_id, share_id)


class UploadRequestsController(Controller):
    path = "/v1/upload-requests"
    tags = ["upload requests"]

    @staticmethod
    async def _detail(documents: DocumentsContext, tenant_id: str, upload_request_id: str) -> UploadRequestOut:
        request, links, files = await handlers.upload_request_detail(documents, tenant_id, upload_request_id)
        return UploadRequestOut(
            upload_request_id=request["upload_request_id"], account_id=request["account_id"],
            folder_id=request["folder_id"], max_file_size=request["max_file_size"],
            allowed_types=list(request["allowed_types"]), max_files=request["max_files"],
            deadline=request["deadline"], status=request["status"], failure=request["failure"],
            revoked=request["status"] == "revoked", links=_stored_links(request, links),
            files=[DocumentOut.of_row(row) for row in files])

    @post("/")
    async def create(self, request: Request, data: JSONBody[NewUploadRequest], staff: Staff, documents: Documents,
                     idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Ask recipients for files into a folder, with per-link limits; each recipient gets an upload link
        (201 with the links, or 202 while they are being issued, as for shares)."""
        async def work() -> Answer:
            issued = await handlers.create_upload_request(
                documents, staff.tenant_id, folder_id=data.folder_id,
                recipients=[r.to_domain() for r in data.recipients], max_file_size=data.max_file_size,
                allowed_types=data.allowed_types, max_files=data.max_files, deadline=data.deadline,
                expires_in_seconds=data.expires_in_seconds, cause=cause_of(request))
            upload_request = issued.holder
            detail = await self._detail(documents, staff.tenant_id, upload_request.upload_request_id)
            detail.links = _links(upload_request, issued.urls, upload_request.deadline)
            return _created(issued, detail)

        return (await documents.idempotency.run(tenant_id=staff.tenant_id, operation="create-upload-request",
                                                key=idempotency_key, request=data.model_dump(mode="json"),
                                                work=work, remember=_without_urls)).response()

    @get("/{upload_request_id:str}")
    async def get_one(self, upload_request_id: PathId, staff: Staff, documents: Documents) -> UploadRequestOut:
        """The request, its links and the files guests uploaded through it."""
        return await self._detail(documents, staff.tenant_id, upload_request_id)

    @post("/{upload_request_id:str}/revoke", status_code=200)
    async def revoke(self, request: Request, upload_request_id: PathId, staff: Staff,
                     documents: Documents) -> UploadRequestOut:
        await handlers.revoke_resource(documents, staff.tenant_id, _upload_request_id(upload_request_id),
                                       cause=cause_of(request))
        return await self._detail(documents, staff.tenant_id, upload_request_id)

    @post("/{upload_request_id:str}/links/{link_id:str}/revoke", status_code=200)
    async def revoke_link(self, request: Request, upload_request_id: PathId, link_id: PathId, staff: Staff,
                          documents: Documents) -> UploadRequestOut:
        await handlers.revoke_recipient_link(documents, staff.tenant_id, _upload_request_id(upload_request_id),
                                             link_id, cause=cause_of(request))
        return await self._detail(documents, staff.tenant_id, upload_request_id)


def _share_id(value: str) -> str:
    """A share id, or "not found" before the path reaches a stream of another kind."""
    if not value.startswith("shr_"):
        raise domain.NotFound("no such share")
    return value


def _upload_request_id(value: str) -> str:
    if not value.startswith("upr_"):
        raise domain.NotFound("no such upload request")
    return value


# ---- internal API -----------------------------------------------------------------------------------------


class InternalController(Controller):
    """For the other services only (``Authorization: Bearer <DOCUMENTS_INTERNAL_API_SECRET>``): signing reads the
    PDFs staff send for signature and files the sealed ones; requests files what guests answered with."""

    path = "/internal/v1/tenants/{tenant_id:str}/documents"
    guards = [internal_only]
    include_in_schema = False

    @post("/", request_max_body_size=None)
    async def file(self, request: Request, tenant_id: PathId, documents: Documents, account_id: FromQuery[str],
                   name: Annotated[str, QueryParameter(max_length=1000)], folder_id: FromQuery[str | None] = None,
                   idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """File a document into an account (and folder) of the tenant; the caller's key makes a retry harmless."""
        if not idempotency_key:
            raise InvalidRequest("a service files a document with an Idempotency-Key, so that retries are safe")
        length_header = request.headers.get("content-length")
        declared = int(length_header) if length_header and length_header.isdigit() else None

        async def work() -> Answer:
            document = await handlers.add_document(
                documents, tenant_id, account_id=account_id, folder_id=folder_id, name=name,
                body=body_chunks(request), declared_length=declared, cause=cause_of(request))
            return Answer(201, DocumentView.of(document).model_dump(mode="json"))

        return (await documents.idempotency.run(tenant_id=tenant_id, operation="file-document", key=idempotency_key,
                                                request=[account_id, folder_id, name, declared],
                                                work=work)).response()

    @get("/{document_id:str}")
    async def get_one(self, tenant_id: PathId, document_id: PathId, documents: Documents) -> DocumentView:
        return DocumentView.of(await handlers.document(documents, tenant_id, document_id))

    @get("/{document_id:str}/content")
    async def content(self, tenant_id: PathId, document_id: PathId, documents: Documents) -> Stream:
        document = await handlers.document(documents, tenant_id, document_id)
        return Stream(documents.storage.read_range(document.object_key), media_type=document.content_type,
                      headers={"Content-Length": str(document.size), "X-Content-Type-Options": "nosniff"})


STAFF_CONTROLLERS = [AccountsController, DocumentsController, SharesController, UploadRequestsController]
