"""Guest pages and the guest upload API, reached only through the gateway at ``/guest/…``.

Every handler takes the gateway's assertion (``guest``); the document or upload request is always the
assertion's resource, whatever the path says. URLs in pages are built on ``X-Forwarded-Prefix``
(``/g/{link_id}``), the path under which the gateway exposes this service to the guest.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import structlog
from litestar import Controller, MediaType, Request, Response, delete, get, head, patch, post
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.params import FromPath
from litestar.response import File, Stream, Template
from litestar.status_codes import HTTP_204_NO_CONTENT, HTTP_303_SEE_OTHER
from litestar.types import ASGIApp, Receive, Scope, Send

from loginless.documents import domain, filetypes, handlers, i18n, previews
from loginless.documents.byte_ranges import ByteRange, RangeNotSatisfiable, requested_range
from loginless.documents.handlers import DocumentsContext
from loginless.documents.uploads import ClientDisconnected, ResumableUploads, parse_metadata
from loginless.shared.errors import InvalidRequest, LoginlessError, NotFound
from loginless.shared.eventstore import Cause
from loginless.shared.guest import address
from loginless.shared.guest.i18n import N_, format_date_time, format_size
from loginless.shared.guest.pages import NO_STORE, forwarded_prefix, guest_asset_routes, service_page_context
from loginless.shared.guest.problems import GuestProblem, guest_problem
from loginless.shared.web.assertion import GuestAssertion
from loginless.shared.web.context import correlation_id_of

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
TUS_VERSION = "1.0.0"
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION}
# Said in a sentence when the firm's name is unknown: links has not answered since this process started.
UNNAMED_FIRM = N_("the firm")

# What the documents pages say for the problems only they have; the rest are the kit's (by problem type).
UPLOAD_DEADLINE_PASSED = GuestProblem(
    title=N_("The deadline for uploads has passed"),
    explanation=N_("This link no longer accepts files."),
    next_step=N_("If you still need to send them, ask %(firm)s for a new link."),
    next_step_unbranded=N_("If you still need to send them, ask whoever sent you the link for a new one."),
)
LINK_WITHDRAWN = GuestProblem(  # documents may hear of a revocation before the gateway does: the gateway's words
    title=N_("This link is no longer valid"),
    explanation=N_("It was withdrawn, so it no longer opens anything."),
    next_step=N_("%(firm)s has withdrawn this link. If you still need it, ask them for a new one."),
    next_step_unbranded=N_("The sender has withdrawn this link. If you still need it, ask them for a new one."),
)
VIEW_ONLY = GuestProblem(
    title=N_("This document cannot be downloaded"),
    explanation=N_("This document was shared for viewing only, so it cannot be downloaded."),
    next_step=N_("If you need a copy, ask %(firm)s."),
    next_step_unbranded=N_("If you need a copy, ask whoever sent you the link."),
)


def client_address(request: Request) -> str:
    """The guest's address by the kit's rule, trusting the gateway (and any proxy set up behind it)."""
    return address.client_address(request.scope,
                                  trusted_proxy_hops=request.app.state.runtime.settings.trusted_proxy_hops)


async def body_chunks(request: Request) -> AsyncIterator[bytes]:
    """The raw request body as it arrives; a dropped connection raises :class:`ClientDisconnected`."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        if chunk := message.get("body", b""):
            yield chunk
        if not message.get("more_body", False):
            return


class GuestPages:
    """What page handlers share: the application, branding and rendering helpers."""

    def __init__(self, ctx: DocumentsContext, uploads: ResumableUploads) -> None:
        self.ctx = ctx
        self.uploads = uploads

    async def context(self, request: Request, guest: GuestAssertion | None, **values: Any) -> dict[str, Any]:
        """The kit's page context (language, branding, assets under the gateway's prefix) and the documents
        pages' own: ``prefix`` for their links, ``firm`` for their sentences, ``lang`` for the formatting here."""
        return service_page_context(request, recipient_language=guest.recipient.language if guest else None,
                                    branding=await self.ctx.links.branding(guest.tenant_id) if guest else None,
                                    catalogs=i18n.CATALOGS, unnamed_firm=UNNAMED_FIRM,
                                    asset_version=ASSET_VERSION, **values)


def _asset_version() -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.glob("*")):
        if path.is_file():
            with path.open("rb") as file:  # in small reads: the bundles are 2 MB, not worth holding at once
                digest.update(hashlib.file_digest(file, "sha256").digest())
    return digest.hexdigest()[:12]


ASSET_VERSION = _asset_version()


def error_page(error: LoginlessError, context: dict[str, Any]) -> Template:
    """The kit's error page with the words for ``error``'s problem: what happened and what to do next."""
    if isinstance(error, domain.Gone) and error.extra.get("reason") == "deadline":
        problem = UPLOAD_DEADLINE_PASSED
    elif isinstance(error, domain.Gone) and error.extra.get("reason") == "revoked":
        problem = LINK_WITHDRAWN
    else:
        problem = guest_problem(error.problem_type, error.status_code, specific={"forbidden": VIEW_ONLY})
    return Template("guest/error.html", context={**context, "problem": problem}, status_code=error.status_code,
                    headers=NO_STORE)


async def locked_page(pages: GuestPages, guest: GuestAssertion, share: domain.Share, document: domain.Document,
                      context: dict[str, Any], *, status_code: int = 200) -> Template:
    """What a locked share's guest sees: which invoice unlocks it, and no way to the document's bytes."""
    invoice = await handlers.locking_invoice(pages.ctx, share)
    return Template("locked.html", status_code=status_code, headers=NO_STORE, context={
        **context, "document": document, "invoice_number": invoice.number,
        "expires": format_date_time(min(share.expires_at, guest.link_expires_at), context["lang"])})


async def refusal_page(pages: GuestPages, request: Request, guest: GuestAssertion, error: LoginlessError) -> Template:
    """The page for a refused preview or download: a locked share's own page (403), else the error page."""
    context = await pages.context(request, guest)
    if isinstance(error, domain.LockedUntilPaid):
        share, document = await handlers.guest_share(pages.ctx, guest)
        return await locked_page(pages, guest, share, document, context, status_code=error.status_code)
    return error_page(error, context)


class TusDiscovery(ASGIMiddleware):
    """Answers tus's ``OPTIONS`` discovery request. (Litestar registers its own OPTIONS handler for every path
    and ignores ours, so this sits in front of the controller.)"""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["method"] == "OPTIONS" and scope["path"].rstrip("/") == "/guest/uploads":
            max_size = scope["app"].state.runtime.settings.max_upload_file_size
            headers = [(b"tus-resumable", TUS_VERSION.encode()), (b"tus-version", TUS_VERSION.encode()),
                       (b"tus-extension", b"creation,termination"), (b"tus-max-size", str(max_size).encode())]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await next_app(scope, receive, send)


class GuestController(Controller):
    path = "/guest"
    include_in_schema = False
    middleware = [TusDiscovery()]

    # ---- pages -------------------------------------------------------------------------------------------

    @get(["/"], media_type=MediaType.HTML)
    async def landing(self, request: Request, guest: NamedDependency[GuestAssertion],
                      guest_pages: NamedDependency[GuestPages]) -> Template:
        pages = guest_pages
        if guest.action == "upload":
            return await self._upload_page(request, guest, pages)
        context = await pages.context(request, guest)
        try:
            share, document = await handlers.guest_share(pages.ctx, guest)
        except LoginlessError as error:
            return error_page(error, context)
        if share.locked:  # not viewed: the page says what unlocks it, and shows nothing of the document's bytes
            return await locked_page(pages, guest, share, document, context)
        await handlers.record_access(pages.ctx, guest, share, "view", client_ip=client_address(request),
                                     user_agent=_user_agent(request), cause=Cause(correlation_id_of(request)))
        lang = context["lang"]
        sniffed = document.content_type
        preview = ("pdf" if sniffed == "application/pdf" else "image") if sniffed in filetypes.INLINE_TYPES else None
        pages = None
        if share.view_only and preview == "pdf":
            # Pages rendered on the server instead of the PDF: a view-only share never hands out its bytes.
            try:
                total = await handlers.view_only_pages(guest_pages.ctx, guest, document)
                pages = {"total": total, "shown": min(total, guest_pages.ctx.settings.preview_max_pages)}
            except LoginlessError as error:
                log.warning("view-only pages unavailable", document_id=document.document_id, error=error.detail)
                preview = None
        return Template("view.html", headers=NO_STORE, context={
            **context, "share": share, "document": document, "size": format_size(document.size, lang),
            "type_label": i18n.type_label(sniffed, lang), "preview": preview, "pages": pages,
            "expires": format_date_time(min(share.expires_at, guest.link_expires_at), lang)})

    async def _upload_page(self, request: Request, guest: GuestAssertion, pages: GuestPages) -> Template:
        context = await pages.context(request, guest)
        try:
            upload_request, remaining = await pages.uploads.limits(guest)
        except LoginlessError as error:
            return error_page(error, context)
        lang = context["lang"]
        messages = i18n.script_messages(lang)
        messages["max_size"] = format_size(upload_request.limits.max_file_size, lang)
        return Template("upload.html", headers=NO_STORE, context={
            **context, "upload_request": upload_request, "remaining": remaining,
            "max_size": format_size(upload_request.limits.max_file_size, lang),
            "types": i18n.type_labels(upload_request.limits.allowed_types, lang),
            "deadline": format_date_time(min(upload_request.deadline, guest.link_expires_at), lang),
            "chunk_size": pages.ctx.settings.upload_chunk_size, "messages": json.dumps(messages)})

    @get("/receipt", media_type=MediaType.HTML)
    async def receipt(self, request: Request, guest: NamedDependency[GuestAssertion],
                      guest_pages: NamedDependency[GuestPages]) -> Template:
        pages = guest_pages
        context = await pages.context(request, guest)
        if guest.action != "upload":
            return error_page(NotFound("not an upload link"), context)
        lang = context["lang"]
        try:
            await handlers.open_upload_request(pages.ctx, guest)
            still_open = True
        except domain.Gone:
            still_open = False  # the receipt stays readable after the deadline
        except LoginlessError as error:
            return error_page(error, context)
        rows = await handlers.files_received(pages.ctx, guest)
        files = [{"name": row["display_name"], "size": format_size(row["size"], lang),
                  "at": format_date_time(row["created_at"], lang)} for row in rows]
        return Template("receipt.html", headers=NO_STORE, context={**context, "files": files, "open": still_open})

    # ---- the document itself -----------------------------------------------------------------------------

    @get("/preview")
    async def preview(self, request: Request, guest: NamedDependency[GuestAssertion],
                      guest_pages: NamedDependency[GuestPages]) -> Response:
        pages = guest_pages
        try:
            share, document = await handlers.guest_document(pages.ctx, guest)
            domain.check_download(share)  # a view-only share's preview is its rendered pages, never the bytes
        except LoginlessError as error:
            return await refusal_page(pages, request, guest, error)
        if domain.serving_disposition(document.content_type) != "inline":
            return error_page(NotFound("no preview for this type"),
                              await pages.context(request, guest))
        # Read by the page's pdf.js or <img>, or opened on its own; never framed (the gateway forbids framing).
        return self._stream(pages, request, document, "inline")

    @get("/pages/{number:int}")
    async def view_only_page(self, number: FromPath[int], guest: NamedDependency[GuestAssertion],
                             guest_pages: NamedDependency[GuestPages]) -> Response:
        """One page of a view-only PDF as a watermarked image (checked against the share on every request)."""
        rendered = await handlers.view_only_page(guest_pages.ctx, guest, number)
        return _rendered(rendered, f"page-{number}.webp")

    @get("/picture")
    async def view_only_picture(self, guest: NamedDependency[GuestAssertion],
                                guest_pages: NamedDependency[GuestPages]) -> Response:
        """A view-only picture, re-encoded and watermarked."""
        return _rendered(await handlers.view_only_picture(guest_pages.ctx, guest), "picture.webp")

    @get("/download")
    async def download(self, request: Request, guest: NamedDependency[GuestAssertion],
                       guest_pages: NamedDependency[GuestPages]) -> Response:
        pages = guest_pages
        try:
            share, document = await handlers.guest_document(pages.ctx, guest)
            domain.check_download(share)
        except LoginlessError as error:
            return await refusal_page(pages, request, guest, error)
        settings = pages.ctx.settings
        streamed = settings.download_delivery == "stream"
        # Recorded when the download is handed out: with a presigned URL the bytes then flow between the guest and
        # S3, and nothing of ours sees whether they all arrived. A streamed download resumed part-way is the same
        # download going on, not another one.
        if not streamed or _starts_a_download(request, document):
            await handlers.record_access(pages.ctx, guest, share, "download", client_ip=client_address(request),
                                         user_agent=_user_agent(request), cause=Cause(correlation_id_of(request)))
        if streamed:
            return self._stream(pages, request, document, "attachment")
        return self._redirect_to_s3(pages, document, settings.download_url_expiry_seconds)

    @staticmethod
    def _redirect_to_s3(pages: GuestPages, document: domain.Document, expiry_seconds: int) -> Response[bytes]:
        """303 to a short-lived presigned S3 GET whose response headers are the ones we would send: S3 answers
        with the overrides signed into the URL, and a URL with any of them changed is refused. (S3 has no
        override for ``X-Content-Type-Options``; the attachment disposition is what keeps a browser from
        rendering the file, and it would render in S3's origin, not the gateway's.)"""
        url = pages.ctx.storage.presigned_get_url(
            document.object_key, expires=timedelta(seconds=expiry_seconds), response_headers={
                "response-content-disposition": domain.content_disposition("attachment", document.display_name),
                "response-content-type": document.content_type,
                "response-cache-control": "private, no-store"})
        return Response(b"", status_code=HTTP_303_SEE_OTHER, media_type=MediaType.TEXT,
                        headers={"Location": url, **NO_STORE})

    @staticmethod
    def _stream(pages: GuestPages, request: Request, document: domain.Document, disposition: str) -> Response:
        """The document's bytes from S3, all of them or the one range asked for (a resumed download, pdf.js)."""
        headers = {"Content-Disposition": domain.content_disposition(disposition, document.display_name),
                   "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
                   "Accept-Ranges": "bytes", "ETag": _etag(document)}
        try:
            byte_range = _byte_range(request, document)
        except RangeNotSatisfiable:
            return Response(b"", status_code=416, media_type=MediaType.TEXT,
                            headers={**headers, "Content-Range": f"bytes */{document.size}"})
        storage = pages.ctx.storage
        if byte_range is None:
            return Stream(storage.read_range(document.object_key), media_type=document.content_type,
                          headers={**headers, "Content-Length": str(document.size)})
        return Stream(storage.read_range(document.object_key, offset=byte_range.start, length=byte_range.length),
                      status_code=206, media_type=document.content_type,
                      headers={**headers, "Content-Length": str(byte_range.length),
                               "Content-Range": byte_range.content_range(document.size)})

    # ---- tus 1.0: core, creation, termination --------------------------------------------------------------

    @post("/uploads", status_code=201)
    async def tus_create(self, request: Request, guest: NamedDependency[GuestAssertion],
                         guest_pages: NamedDependency[GuestPages]) -> Response[None]:
        _require_tus(request)
        length = _int_header(request, "upload-length")
        if length is None:
            raise InvalidRequest("Upload-Length is required (deferred lengths are not supported)")
        status = await guest_pages.uploads.create(guest, length=length,
                                                  metadata=parse_metadata(request.headers.get("upload-metadata")))
        location = f"{forwarded_prefix(request)}/uploads/{status.upload_id}"
        return Response(None, status_code=201, headers={**TUS_HEADERS, **NO_STORE, "Location": location,
                                                        "Upload-Offset": "0"})

    @head("/uploads/{upload_id:str}")
    async def tus_head(self, upload_id: FromPath[str], guest: NamedDependency[GuestAssertion],
                       guest_pages: NamedDependency[GuestPages]) -> Response[None]:
        status = await guest_pages.uploads.status(guest, upload_id)
        return Response(None, headers={**TUS_HEADERS, **NO_STORE, "Upload-Offset": str(status.offset),
                                       "Upload-Length": str(status.length)})

    @patch("/uploads/{upload_id:str}", status_code=HTTP_204_NO_CONTENT, request_max_body_size=None)
    async def tus_patch(self, request: Request, upload_id: FromPath[str], guest: NamedDependency[GuestAssertion],
                        guest_pages: NamedDependency[GuestPages]) -> Response[None]:
        _require_tus(request)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/offset+octet-stream":
            return _tus_problem(415, "PATCH bodies are application/offset+octet-stream")
        offset = _int_header(request, "upload-offset")
        if offset is None:
            raise InvalidRequest("Upload-Offset is required")
        status = await guest_pages.uploads.append(
            guest, upload_id, offset=offset, declared_length=_int_header(request, "content-length"),
            body=body_chunks(request), correlation_id=correlation_id_of(request))
        return Response(None, status_code=HTTP_204_NO_CONTENT,
                        headers={**TUS_HEADERS, **NO_STORE, "Upload-Offset": str(status.offset)})

    @delete("/uploads/{upload_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def tus_delete(self, upload_id: FromPath[str], guest: NamedDependency[GuestAssertion],
                         guest_pages: NamedDependency[GuestPages]) -> Response[None]:
        await guest_pages.uploads.terminate(guest, upload_id)
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers=TUS_HEADERS)


def _rendered(path: Path, name: str) -> Response:
    return File(path, media_type=previews.MEDIA_TYPE, content_disposition_type="inline", filename=name,
                headers={**NO_STORE, "X-Content-Type-Options": "nosniff",
                         "Cross-Origin-Resource-Policy": "same-origin"})


def _etag(document: domain.Document) -> str:
    """A document's bytes never change: their digest names them."""
    return f'"{document.sha256}"'


def _byte_range(request: Request, document: domain.Document) -> ByteRange | None:
    return requested_range(request.headers.get("range"), request.headers.get("if-range"), size=document.size,
                           etag=_etag(document))


def _starts_a_download(request: Request, document: domain.Document) -> bool:
    """Whether a streamed download request gets the document from its first byte (a range from past it resumes a
    download already recorded; one past the end gets nothing)."""
    try:
        byte_range = _byte_range(request, document)
    except RangeNotSatisfiable:
        return False
    return byte_range is None or byte_range.start == 0


def _user_agent(request: Request) -> str | None:
    agent = request.headers.get("user-agent")
    return agent[:512] if agent else None


def _int_header(request: Request, name: str) -> int | None:
    value = request.headers.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 19:
        raise InvalidRequest(f"{name} must be a non-negative integer")
    return int(value)


def _require_tus(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise TusVersionUnsupported(f"this server speaks tus {TUS_VERSION}")


def _tus_problem(status: int, detail: str) -> Response[dict]:
    # RFC 9457: with "about:blank" the title is the status code's phrase.
    return Response({"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail},
                    status_code=status,
                    media_type="application/problem+json", headers=TUS_HEADERS)


class TusVersionUnsupported(LoginlessError):
    status_code = 412
    problem_type = "tus-version"
    title = "Unsupported tus version"


# The pages' stylesheets -- the kit's ``guest.css`` and the firm's colour, and ``documents.css`` -- and the bundled
# scripts, as files (the gateway's CSP allows no inline script or style). Served without an assertion: nothing in
# them is about a guest.
ASSET_ROUTES = guest_asset_routes("/guest", static_directories=[STATIC_DIR])
