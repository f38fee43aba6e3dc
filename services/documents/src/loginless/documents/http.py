"""The staff API (``/v1``): accounts, folders, documents, shares and upload requests of the caller's tenant.

Handlers translate HTTP to calls of :class:`~loginless.documents.handlers.Documents` and back; rows of another
tenant are simply not found (404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream
from pydantic import BaseModel, Field

from loginless.documents import domain
from loginless.documents.guest import body_chunks, correlation_id
from loginless.documents.handlers import Documents
from loginless.documents.idempotency import IdempotencyKeys, fingerprint
from loginless.shared.web.auth import StaffPrincipal

IdempotencyKey = Annotated[str | None, HeaderParameter(name="Idempotency-Key", required=False)]
Limit = Annotated[int, QueryParameter(ge=1, le=200)]


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
    def of(cls, account: domain.Account) -> AccountOut:
        return cls(account_id=account.account_id, name=account.name, email=account.email, kind=account.kind,
                   portal_access=account.portal_access)


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
    def of_row(cls, row: Any) -> DocumentOut:
        return cls(**{name: row[name] for name in cls.model_fields})


class RecipientIn(BaseModel):
    email: str = Field(max_length=254)
    name: str | None = Field(None, max_length=200)
    language: Literal["en", "es"] | None = None


class NewShare(BaseModel):
    recipients: list[RecipientIn] = Field(min_length=1, max_length=50)
    view_only: bool = Field(False, description="Recipients may view but not download")
    expires_at: datetime | None = None
    expires_in_seconds: int | None = Field(None, ge=60)


class LinkOut(BaseModel):
    link_id: str
    email: str
    name: str | None = None
    url: str | None = Field(None, description="Holds the link's token: returned once, never stored here")
    expires_at: datetime | None = None
    revoked: bool = False


class ShareOut(BaseModel):
    share_id: str
    document_id: str
    view_only: bool
    expires_at: datetime
    revoked: bool
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
    revoked: bool
    links: list[LinkOut]
    files: list[DocumentOut] = []


def _links_out(issued: list[domain.IssuedLink]) -> list[LinkOut]:
    return [LinkOut(link_id=link.link_id, email=link.email, name=link.name, url=link.url,
                    expires_at=link.expires_at) for link in issued]


def _stored_links(rows: list[Any]) -> list[LinkOut]:
    return [LinkOut(link_id=row["link_id"], email=row["email"], name=row["name"],
                    revoked=row["revoked_at"] is not None) for row in rows]


def _without_urls(body: dict[str, Any]) -> dict[str, Any]:
    """What an idempotent replay may return: link URLs carry tokens, which are never stored."""
    return {**body, "links": [{**link, "url": None} for link in body.get("links", [])]}


# ---- controllers ----------------------------------------------------------------------------------------


class AccountsController(Controller):
    path = "/v1/accounts"
    tags = ["accounts"]

    @post("/")
    async def create(self, request: Request, data: JSONBody[NewAccount], staff: NamedDependency[StaffPrincipal],
                     documents_app: NamedDependency[Documents], idempotency: NamedDependency[IdempotencyKeys],
                     idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Create a client account; ``kind: guest`` for people who are not clients (they upload through links)."""
        async def work() -> tuple[int, dict]:
            account = await documents_app.create_account(
                staff.tenant_id, name=data.name, email=data.email, kind=data.kind, portal_access=data.portal_access,
                correlation_id=correlation_id(request))
            return 201, AccountOut.of(account).model_dump(mode="json")

        status, body = await idempotency.run(tenant_id=staff.tenant_id, key=idempotency_key,
                                             operation="create-account",
                                             request_fingerprint=fingerprint(data.model_dump(mode="json")),
                                             work=work)
        return Response(body, status_code=status)

    @get("/")
    async def list(self, staff: NamedDependency[StaffPrincipal], documents_app: NamedDependency[Documents],
                   after: FromQuery[str | None] = None, limit: Limit = 50) -> dict:
        rows = await documents_app.repo.accounts(documents_app.pool, staff.tenant_id, limit=limit, after=after)
        items = [AccountOut(account_id=r["account_id"], name=r["name"], email=r["email"], kind=r["kind"],
                            portal_access=r["portal_access"]).model_dump(mode="json") for r in rows]
        return {"accounts": items, "next": items[-1]["account_id"] if len(items) == limit else None}

    @get("/{account_id:str}")
    async def get_one(self, account_id: FromPath[str], staff: NamedDependency[StaffPrincipal],
                      documents_app: NamedDependency[Documents]) -> AccountOut:
        account = await documents_app.repo.account(documents_app.pool, staff.tenant_id, account_id)
        if account is None:
            raise domain.NotFound("no such account")
        return AccountOut.of(account)

    @post("/{account_id:str}/invite", status_code=200)
    async def invite(self, request: Request, account_id: FromPath[str], staff: NamedDependency[StaffPrincipal],
                     documents_app: NamedDependency[Documents]) -> AccountOut:
        """Invite a client without portal access: emits ClientInvitedToPortal for the portal to act on."""
        account = await documents_app.invite_account(staff.tenant_id, account_id,
                                                     correlation_id=correlation_id(request))
        return AccountOut.of(account)

    @post("/{account_id:str}/folders")
    async def create_folder(self, request: Request, account_id: FromPath[str], data: JSONBody[NewFolder],
                            staff: NamedDependency[StaffPrincipal], documents_app: NamedDependency[Documents],
                            idempotency: NamedDependency[IdempotencyKeys],
                            idempotency_key: IdempotencyKey = None) -> Response[dict]:
        async def work() -> tuple[int, dict]:
            folder = await documents_app.create_folder(staff.tenant_id, account_id, name=data.name,
                                                       correlation_id=correlation_id(request))
            return 201, FolderOut(folder_id=folder.folder_id, account_id=account_id,
                                  name=folder.name).model_dump(mode="json")

        status, body = await idempotency.run(
            tenant_id=staff.tenant_id, key=idempotency_key, operation="create-folder",
            request_fingerprint=fingerprint(account_id, data.model_dump(mode="json")), work=work)
        return Response(body, status_code=status)

    @get("/{account_id:str}/folders")
    async def folders(self, account_id: FromPath[str], staff: NamedDependency[StaffPrincipal],
                      documents_app: NamedDependency[Documents]) -> dict:
        if await documents_app.repo.account(documents_app.pool, staff.tenant_id, account_id) is None:
            raise domain.NotFound("no such account")
        rows = await documents_app.repo.folders(documents_app.pool, staff.tenant_id, account_id)
        return {"folders": [FolderOut(folder_id=r["folder_id"], account_id=r["account_id"],
                                      name=r["name"]).model_dump(mode="json") for r in rows]}


class DocumentsController(Controller):
    path = "/v1/documents"
    tags = ["documents"]

    @post("/", request_max_body_size=None)
    async def upload(self, request: Request, staff: NamedDependency[StaffPrincipal],
                     documents_app: NamedDependency[Documents], idempotency: NamedDependency[IdempotencyKeys],
                     account_id: FromQuery[str], name: Annotated[str, QueryParameter(max_length=1000)],
                     folder_id: FromQuery[str | None] = None,
                     idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Upload a document: the raw bytes are the body (any ``Content-Type``), streamed to object storage.
        The type is judged from the bytes; ``name`` is sanitized for display."""
        length_header = request.headers.get("content-length")
        declared = int(length_header) if length_header and length_header.isdigit() else None

        async def work() -> tuple[int, dict]:
            document = await documents_app.add_document(
                staff.tenant_id, account_id=account_id, folder_id=folder_id, name=name, body=body_chunks(request),
                declared_length=declared, correlation_id=correlation_id(request))
            row = await documents_app.repo.document_record(documents_app.pool, staff.tenant_id, document.document_id)
            return 201, DocumentOut.of_row(row).model_dump(mode="json")

        status, body = await idempotency.run(
            tenant_id=staff.tenant_id, key=idempotency_key, operation="upload-document",
            request_fingerprint=fingerprint(account_id, folder_id, name, declared), work=work)
        return Response(body, status_code=status)

    @get("/")
    async def list(self, staff: NamedDependency[StaffPrincipal], documents_app: NamedDependency[Documents],
                   account_id: FromQuery[str | None] = None, folder_id: FromQuery[str | None] = None,
                   upload_request_id: FromQuery[str | None] = None,
                   after: FromQuery[str | None] = None, limit: Limit = 50) -> dict:
        """Documents of the tenant, including what guests uploaded (``source: guest``), filtered as asked."""
        rows = await documents_app.repo.documents(
            documents_app.pool, staff.tenant_id, account_id=account_id, folder_id=folder_id,
            upload_request_id=upload_request_id, limit=limit, after=after)
        items = [DocumentOut.of_row(row).model_dump(mode="json") for row in rows]
        return {"documents": items, "next": items[-1]["document_id"] if len(items) == limit else None}

    @get("/{document_id:str}")
    async def get_one(self, document_id: FromPath[str], staff: NamedDependency[StaffPrincipal],
                      documents_app: NamedDependency[Documents]) -> DocumentOut:
        row = await documents_app.repo.document_record(documents_app.pool, staff.tenant_id, document_id)
        if row is None:
            raise domain.NotFound("no such document")
        return DocumentOut.of_row(row)

    @get("/{document_id:str}/content")
    async def content(self, document_id: FromPath[str], staff: NamedDependency[StaffPrincipal],
                      documents_app: NamedDependency[Documents]) -> Stream:
        """The document's bytes, always as an attachment."""
        document = await documents_app.document(staff.tenant_id, document_id)
        return Stream(documents_app.storage.read_range(document.object_key), media_type=document.content_type,
                      headers={"Content-Disposition": domain.content_disposition("attachment", document.display_name),
                               "Content-Length": str(document.size), "X-Content-Type-Options": "nosniff",
                               "Cache-Control": "private, no-store"})

    @post("/{document_id:str}/shares")
    async def share(self, request: Request, document_id: FromPath[str], data: JSONBody[NewShare],
                    staff: NamedDependency[StaffPrincipal], documents_app: NamedDependency[Documents],
                    idempotency: NamedDependency[IdempotencyKeys],
                    idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Share with recipients by e-mail: one link each, issued (and e-mailed) by the links service."""
        async def work() -> tuple[int, dict]:
            share, links = await documents_app.share_document(
                staff.tenant_id, document_id, authorization=request.headers.get("authorization", ""),
                recipients=[domain.Recipient(r.email, r.name, r.language) for r in data.recipients],
                view_only=data.view_only, expires_at=data.expires_at, expires_in_seconds=data.expires_in_seconds,
                correlation_id=correlation_id(request))
            return 201, ShareOut(share_id=share.share_id, document_id=document_id, view_only=share.view_only,
                                 expires_at=share.expires_at, revoked=False,
                                 links=_links_out(links)).model_dump(mode="json")

        first_answer: dict[str, Any] = {}

        async def remembered() -> tuple[int, dict]:
            status, body = await work()
            first_answer.update(body)
            return status, _without_urls(body)

        status, body = await idempotency.run(
            tenant_id=staff.tenant_id, key=idempotency_key, operation="share-document",
            request_fingerprint=fingerprint(document_id, data.model_dump(mode="json")), work=remembered)
        return Response(first_answer or body, status_code=status)


class SharesController(Controller):
    path = "/v1/shares"
    tags = ["shares"]

    async def _detail(self, documents_app: Documents, tenant_id: str, share_id: str) -> ShareDetail:
        share = await documents_app.share(tenant_id, share_id)
        links = await documents_app.repo.links_of(documents_app.pool, share_id)
        accesses = await documents_app.repo.accesses_of_share(documents_app.pool, tenant_id, share_id)
        return ShareDetail(share_id=share.share_id, document_id=share.document_id, view_only=share.view_only,
                           expires_at=share.expires_at, revoked=share.revoked, links=_stored_links(links),
                           accesses=[AccessOut(kind=a["kind"], link_id=a["link_id"], at=a["at"],
                                               client_ip=a["client_ip"], user_agent=a["user_agent"])
                                     for a in accesses])

    @get("/{share_id:str}")
    async def get_one(self, share_id: FromPath[str], staff: NamedDependency[StaffPrincipal],
                      documents_app: NamedDependency[Documents]) -> ShareDetail:
        """The share, its links and the guests' views and downloads (kept for the configured retention)."""
        return await self._detail(documents_app, staff.tenant_id, share_id)

    @post("/{share_id:str}/revoke", status_code=200)
    async def revoke(self, request: Request, share_id: FromPath[str], staff: NamedDependency[StaffPrincipal],
                     documents_app: NamedDependency[Documents]) -> ShareDetail:
        """Revoke every link of the share."""
        await documents_app.revoke_share(staff.tenant_id, share_id,
                                         authorization=request.headers.get("authorization", ""),
                                         correlation_id=correlation_id(request))
        return await self._detail(documents_app, staff.tenant_id, share_id)

    @post("/{share_id:str}/links/{link_id:str}/revoke", status_code=200)
    async def revoke_link(self, request: Request, share_id: FromPath[str], link_id: FromPath[str],
                          staff: NamedDependency[StaffPrincipal], documents_app: NamedDependency[Documents],
                          ) -> ShareDetail:
        """Revoke one recipient's link; the others keep working."""
        await documents_app.share(staff.tenant_id, share_id)
        await documents_app.revoke_link(staff.tenant_id, share_id, link_id,
                                        authorization=request.headers.get("authorization", ""))
        return await self._detail(documents_app, staff.tenant_id, share_id)


class UploadRequestsController(Controller):
    path = "/v1/upload-requests"
    tags = ["upload requests"]

    async def _detail(self, documents_app: Documents, tenant_id: str, upload_request_id: str,
                      links: list[LinkOut] | None = None) -> UploadRequestOut:
        request = await documents_app.upload_request(tenant_id, upload_request_id)
        if links is None:
            links = _stored_links(await documents_app.repo.links_of(documents_app.pool, upload_request_id))
        files = await documents_app.repo.documents(documents_app.pool, tenant_id, account_id=None, folder_id=None,
                                                   upload_request_id=upload_request_id, limit=1000, after=None)
        return UploadRequestOut(
            upload_request_id=request.upload_request_id, account_id=request.account_id, folder_id=request.folder_id,
            max_file_size=request.limits.max_file_size, allowed_types=list(request.limits.allowed_types),
            max_files=request.limits.max_files, deadline=request.deadline, revoked=request.revoked, links=links,
            files=[DocumentOut.of_row(row) for row in files])

    @post("/")
    async def create(self, request: Request, data: JSONBody[NewUploadRequest], staff: NamedDependency[StaffPrincipal],
                     documents_app: NamedDependency[Documents], idempotency: NamedDependency[IdempotencyKeys],
                     idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Ask recipients for files into a folder, with per-link limits; each recipient gets an upload link."""
        first_answer: dict[str, Any] = {}

        async def work() -> tuple[int, dict]:
            upload_request, links = await documents_app.create_upload_request(
                staff.tenant_id, authorization=request.headers.get("authorization", ""), folder_id=data.folder_id,
                recipients=[domain.Recipient(r.email, r.name, r.language) for r in data.recipients],
                max_file_size=data.max_file_size, allowed_types=data.allowed_types, max_files=data.max_files,
                deadline=data.deadline, expires_in_seconds=data.expires_in_seconds,
                correlation_id=correlation_id(request))
            body = (await self._detail(documents_app, staff.tenant_id, upload_request.upload_request_id,
                                       links=_links_out(links))).model_dump(mode="json")
            first_answer.update(body)
            return 201, _without_urls(body)

        status, body = await idempotency.run(
            tenant_id=staff.tenant_id, key=idempotency_key, operation="create-upload-request",
            request_fingerprint=fingerprint(data.model_dump(mode="json")), work=work)
        return Response(first_answer or body, status_code=status)

    @get("/{upload_request_id:str}")
    async def get_one(self, upload_request_id: FromPath[str], staff: NamedDependency[StaffPrincipal],
                      documents_app: NamedDependency[Documents]) -> UploadRequestOut:
        """The request, its links and the files guests uploaded through it."""
        return await self._detail(documents_app, staff.tenant_id, upload_request_id)

    @post("/{upload_request_id:str}/revoke", status_code=200)
    async def revoke(self, request: Request, upload_request_id: FromPath[str],
                     staff: NamedDependency[StaffPrincipal], documents_app: NamedDependency[Documents],
                     ) -> UploadRequestOut:
        await documents_app.revoke_upload_request(staff.tenant_id, upload_request_id,
                                                  authorization=request.headers.get("authorization", ""),
                                                  correlation_id=correlation_id(request))
        return await self._detail(documents_app, staff.tenant_id, upload_request_id)

    @post("/{upload_request_id:str}/links/{link_id:str}/revoke", status_code=200)
    async def revoke_link(self, request: Request, upload_request_id: FromPath[str], link_id: FromPath[str],
                          staff: NamedDependency[StaffPrincipal], documents_app: NamedDependency[Documents],
                          ) -> UploadRequestOut:
        await documents_app.upload_request(staff.tenant_id, upload_request_id)
        await documents_app.revoke_link(staff.tenant_id, upload_request_id, link_id,
                                        authorization=request.headers.get("authorization", ""))
        return await self._detail(documents_app, staff.tenant_id, upload_request_id)


STAFF_CONTROLLERS = [AccountsController, DocumentsController, SharesController, UploadRequestsController]
