"""The signing page and its steps, reached only through the gateway at ``/guest/…``.

Every handler takes the gateway's assertion; the envelope and the recipient are always the assertion's (its
resource and its link), whatever the path or the form says. The steps: consent to sign electronically (recorded
before the first signature), then the documents as the server renders them for this signer, with their fields;
"sign" or "decline"; then a page that says what happens next, with the signed copies once everyone has signed.
Everything works without JavaScript (a typed signature); with it, pdf.js draws the PDFs with the signer's fields
highlighted and "next field" moves between them, and signature_pad takes a drawn signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path
from typing import Annotated, Any

import structlog
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from loginless.shared.errors import LoginlessError, NotFound
from loginless.shared.eventstore import Cause
from loginless.shared.guest import address
from loginless.shared.guest.i18n import N_, format_date_time, format_size
from loginless.shared.guest.pages import NO_STORE, forwarded_prefix, guest_asset_routes, service_page_context
from loginless.shared.guest.problems import GuestProblem, guest_problem
from loginless.shared.web.assertion import GuestAssertion
from loginless.shared.web.context import correlation_id_of
from loginless.shared.web.downloads import content_disposition
from loginless.signing import domain, handlers
from loginless.signing.domain import Client, Envelope, Recipient
from loginless.signing.handlers import Attachment, Signature, SigningContext
from loginless.signing.i18n import CATALOGS
from loginless.signing.settings import SigningSettings

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
UNNAMED_FIRM = N_("the firm")
MAX_FORM_BYTES = 1024 * 1024  # a drawn signature as a data URL, and the values
MAX_ATTACHMENTS_BYTES = 3 * 10 * 1024 * 1024  # a few files of the attachment fields (each checked on its own)
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]

ENVELOPE_ENDED = {
    "voided": GuestProblem(
        title=N_("This envelope was withdrawn"),
        explanation=N_("The sender withdrew it, so nothing can be signed through this link."),
        next_step=N_("If you have questions, contact %(firm)s."),
        next_step_unbranded=N_("If you have questions, contact whoever sent you the link.")),
    "declined": GuestProblem(
        title=N_("This envelope was declined"),
        explanation=N_("A recipient declined to sign it, so it stopped and nothing more can be signed."),
        next_step=N_("%(firm)s will be in touch if it is sent again."),
        next_step_unbranded=N_("Whoever sent you the link will be in touch if it is sent again.")),
    "expired": GuestProblem(
        title=N_("This envelope expired"),
        explanation=N_("It was not signed in time, so it can no longer be signed."),
        next_step=N_("Ask %(firm)s to send it again."),
        next_step_unbranded=N_("Ask whoever sent you the link to send it again.")),
}
NOT_YOUR_TURN = GuestProblem(
    title=N_("It is not your turn yet"),
    explanation=N_("Someone else signs this envelope before you."),
    next_step=N_("You will receive an e-mail from %(firm)s when it is your turn."),
    next_step_unbranded=N_("You will receive an e-mail when it is your turn."))
DOCUMENT_CHANGED = GuestProblem(
    title=N_("The document changed while you were reading it"),
    explanation=N_("Another signer signed in the meantime, so what you saw is no longer the latest version."),
    next_step=N_("Open your link again to read the document as it is now, then sign."),
    next_step_unbranded=N_("Open your link again to read the document as it is now, then sign."))


def client_of(request: Request) -> Client:
    settings = request.app.state.runtime.settings
    return Client(client_ip=address.client_address(request.scope, trusted_proxy_hops=settings.trusted_proxy_hops),
                  user_agent=(request.headers.get("user-agent") or "")[:300] or None)


class GuestPages:
    """What the page handlers share: the service, and the kit's page context with the firm's branding."""

    def __init__(self, ctx: SigningContext) -> None:
        self.ctx = ctx

    async def context(self, request: Request, guest: GuestAssertion, **values: Any) -> dict[str, Any]:
        return service_page_context(request, recipient_language=guest.recipient.language,
                                    branding=await self.ctx.links.branding(guest.tenant_id), catalogs=CATALOGS,
                                    unnamed_firm=UNNAMED_FIRM, asset_version=ASSET_VERSION, **values)


def _asset_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.glob("*")):
        if path.is_file():
            with path.open("rb") as file:
                digest.update(hashlib.file_digest(file, "sha256").digest())
    return digest.hexdigest()[:12]


ASSET_VERSION = _asset_version()


def error_page(error: LoginlessError, context: dict[str, Any]) -> Template:
    """The kit's error page with what happened and what to do next; 409s and 410s of an envelope say why."""
    if isinstance(error, domain.EnvelopeEnded) and error.extra.get("status") in ENVELOPE_ENDED:
        problem = ENVELOPE_ENDED[error.extra["status"]]
    elif isinstance(error, domain.NotYourTurn):
        problem = NOT_YOUR_TURN
    elif isinstance(error, domain.DocumentChanged):
        problem = DOCUMENT_CHANGED
    else:
        problem = guest_problem(error.problem_type, error.status_code)
    return Template("guest/error.html", context={**context, "problem": problem}, status_code=error.status_code,
                    headers=NO_STORE)


class GuestController(Controller):
    path = "/guest"
    include_in_schema = False

    @get(["/"], media_type=MediaType.HTML)
    async def landing(self, request: Request, guest: NamedDependency[GuestAssertion],
                      guest_pages: NamedDependency[GuestPages]) -> Template:
        """Where the link lands: the step this signer is at."""
        ctx = guest_pages.ctx
        context = await guest_pages.context(request, guest)
        try:
            envelope, recipient = await handlers.guest_envelope(ctx, guest)
            if recipient.status in ("signed", "declined") or envelope.status in ("sealing", "completed"):
                return self._done(envelope, recipient, context)
            domain.acting_recipient(envelope, guest.link_id, ctx.clock())
            await handlers.record_view(ctx, guest, client_of(request), cause=Cause(correlation_id_of(request)))
        except LoginlessError as error:
            return error_page(error, context)
        if recipient.consented_at is None:
            return Template("consent.html", headers=NO_STORE, context={**context, **_facts(envelope, context)})
        return self._signing_page(ctx.settings, envelope, recipient, context)

    def _signing_page(self, settings: SigningSettings, envelope: Envelope, recipient: Recipient,
                      context: dict[str, Any], *, errors: list[str] | None = None, status_code: int = 200) -> Template:
        fields = [f for f in envelope.fields_of(recipient.recipient_id) if f.kind not in domain.FILLED_BY_SERVER]
        return Template("sign.html", headers=NO_STORE, status_code=status_code, context={
            **context, **_facts(envelope, context), "recipient": recipient, "fields": fields, "errors": errors or [],
            "shown": envelope.current_sha256,
            "attachment_limit": format_size(settings.max_attachment_size, context["lang"]),
            "boxes": [{"field": f.field_id, "document": f.document, "page": f.page, "x": f.x, "y": f.y,
                       "width": f.width, "height": f.height} for f in envelope.fields_of(recipient.recipient_id)
                      if f.kind in ("signature", "initials")],
            "filled": [f for f in envelope.fields_of(recipient.recipient_id) if f.kind in domain.FILLED_BY_SERVER]})

    def _done(self, envelope: Envelope, recipient: Recipient, context: dict[str, Any]) -> Template:
        return Template("done.html", headers=NO_STORE, context={
            **context, **_facts(envelope, context), "recipient": recipient,
            "completed": envelope.status == "completed",
            "certificate": envelope.certificate_to_signers and envelope.status == "completed"})

    @post("/consent", media_type=MediaType.HTML)
    async def consent(self, request: Request, guest: NamedDependency[GuestAssertion],
                      guest_pages: NamedDependency[GuestPages]) -> Response:
        try:
            await handlers.give_consent(guest_pages.ctx, guest, client_of(request),
                                        cause=Cause(correlation_id_of(request)))
        except LoginlessError as error:
            return error_page(error, await guest_pages.context(request, guest))
        return Redirect(f"{forwarded_prefix(request)}/", status_code=303)

    @post("/sign", media_type=MediaType.HTML, request_max_body_size=MAX_FORM_BYTES + MAX_ATTACHMENTS_BYTES)
    async def sign(self, request: Request, guest: NamedDependency[GuestAssertion],
                   guest_pages: NamedDependency[GuestPages]) -> Response:
        """One signature, recorded once: a second submission finds it recorded and lands on the same page. The
        form is multipart when the signer attaches files, URL-encoded otherwise."""
        ctx = guest_pages.ctx
        try:
            signature = await _signature(await request.form())
            await handlers.sign(ctx, guest, signature, client_of(request), cause=Cause(correlation_id_of(request)))
        except domain.InvalidValues as error:
            envelope, recipient = await handlers.guest_envelope(ctx, guest)
            context = await guest_pages.context(request, guest)
            return self._signing_page(ctx.settings, envelope, recipient, context,
                                      errors=error.extra.get("errors") or [error.detail], status_code=422)
        except LoginlessError as error:
            return error_page(error, await guest_pages.context(request, guest))
        return Redirect(f"{forwarded_prefix(request)}/", status_code=303)

    @get("/decline", media_type=MediaType.HTML)
    async def decline_page(self, request: Request, guest: NamedDependency[GuestAssertion],
                           guest_pages: NamedDependency[GuestPages]) -> Template:
        context = await guest_pages.context(request, guest)
        try:
            envelope, _ = await handlers.guest_envelope(guest_pages.ctx, guest)
            domain.acting_recipient(envelope, guest.link_id, guest_pages.ctx.clock())
        except LoginlessError as error:
            return error_page(error, context)
        return Template("decline.html", headers=NO_STORE, context={**context, **_facts(envelope, context)})

    @post("/decline", media_type=MediaType.HTML)
    async def decline(self, request: Request, guest: NamedDependency[GuestAssertion],
                      guest_pages: NamedDependency[GuestPages],
                      data: Form) -> Response:
        try:
            await handlers.decline(guest_pages.ctx, guest, data.get("reason", ""), client_of(request),
                                   cause=Cause(correlation_id_of(request)))
        except LoginlessError as error:
            return error_page(error, await guest_pages.context(request, guest))
        return Redirect(f"{forwarded_prefix(request)}/", status_code=303)

    @get("/documents/{index:int}")
    async def shown(self, request: Request, index: FromPath[int], guest: NamedDependency[GuestAssertion],
                    guest_pages: NamedDependency[GuestPages]) -> Response:
        """The exact PDF this signer is shown (rendered by the server), for pdf.js or a tab of its own."""
        try:
            sha256, content = await handlers.shown_pdf(guest_pages.ctx, guest, index)
        except LoginlessError as error:
            return error_page(error, await guest_pages.context(request, guest))
        return Response(content, media_type="application/pdf", headers={
            **NO_STORE, "ETag": f'"{sha256}"', "X-Content-Type-Options": "nosniff",
            "Content-Disposition": content_disposition("inline", f"document-{index + 1}.pdf")})

    @get("/signed/{index:int}")
    async def signed_copy(self, request: Request, index: FromPath[int], guest: NamedDependency[GuestAssertion],
                          guest_pages: NamedDependency[GuestPages]) -> Response:
        """A sealed document, once everyone has signed."""
        try:
            envelope, _ = await handlers.guest_envelope(guest_pages.ctx, guest)
            name, content = await handlers.sealed_document(guest_pages.ctx, guest.tenant_id, envelope.envelope_id,
                                                           index)
        except LoginlessError as error:
            return error_page(error, await guest_pages.context(request, guest))
        return _download(content, name)

    @get("/certificate")
    async def certificate(self, request: Request, guest: NamedDependency[GuestAssertion],
                          guest_pages: NamedDependency[GuestPages]) -> Response:
        try:
            envelope, _ = await handlers.guest_envelope(guest_pages.ctx, guest)
            if not envelope.certificate_to_signers:
                raise NotFound("the sender keeps the audit certificate")
            content = await handlers.audit_certificate(guest_pages.ctx, guest.tenant_id, envelope.envelope_id)
        except LoginlessError as error:
            return error_page(error, await guest_pages.context(request, guest))
        return _download(content, "audit certificate.pdf")


def _download(content: bytes, name: str) -> Response:
    return Response(content, media_type="application/pdf", headers={
        **NO_STORE, "X-Content-Type-Options": "nosniff", "Content-Disposition": content_disposition("attachment",
                                                                                                  name)})


def _facts(envelope: Envelope, context: dict[str, Any]) -> dict[str, Any]:
    return {"envelope": envelope, "expires": format_date_time(envelope.expires_at, context["lang"])}


async def _signature(form: Any) -> Signature:
    """The form as the signing page posts it: ``field:<id>`` values, ``attachment:<id>`` files, a typed name or a
    drawn PNG (data URL), and ``shown:<n>`` -- the hash of each PDF the page showed."""
    values, shown, attachments = {}, {}, {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key.startswith("attachment:") and value.filename:
                attachments[key[11:]] = Attachment(name=value.filename, content=await value.read())
        elif key.startswith("field:"):
            values[key[6:]] = value
        elif key.startswith("shown:") and key[6:].isdigit():
            shown[int(key[6:])] = value
    drawn = str(form.get("drawn") or "")
    typed = str(form.get("typed") or "").strip()
    if drawn.startswith("data:image/png;base64,"):
        try:
            png = base64.b64decode(drawn.split(",", 1)[1], validate=True)
        except (binascii.Error, ValueError) as error:
            raise domain.InvalidValues("signature: the drawing could not be read",
                                       errors=["signature: draw again or type your name"]) from error
        return Signature(values=values, method="drawn", drawn_png=png, typed_name=typed or None, shown=shown,
                         attachments=attachments)
    if not typed:
        raise domain.InvalidValues("signature: draw your signature or type your name",
                                   errors=["signature: draw your signature or type your name"])
    return Signature(values=values, method="typed", drawn_png=None, typed_name=typed, shown=shown,
                     attachments=attachments)


ASSET_ROUTES = guest_asset_routes("/guest", static_directories=[STATIC_DIR])
