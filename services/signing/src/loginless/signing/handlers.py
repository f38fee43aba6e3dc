"""The service layer: one async function per command or query of the signing service.

Commands run through the kernel's decider runner (load -> decide -> append -> project, in one transaction). No
transaction waits on the network: the PDFs are read, rendered and stored before a command runs, and the work
an event calls for elsewhere -- a link to issue or revoke at links, documents to seal, files to file at
documents -- is a durable job queued in the same transaction, tried at once where a guest or staff member waits
for it, and otherwise done by the worker until it succeeds.

Object keys are the server's own: ``tenants/<tenant>/envelopes/<envelope>/…``. An interim PDF (what a signer is
shown) is stored under its SHA-256, so what the envelope's state names is always exactly what a guest gets.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
import structlog

from loginless.documents.client import DocumentsApi
from loginless.documents.filetypes import SNIFF_BYTES, sniff
from loginless.events.payloads.signing import (
    EnvelopeDocument,
    EnvelopeField,
    EnvelopeRecipient,
    EnvelopeReminders,
    SealedDocument,
    SignedDocumentHashes,
    TemplateRole,
    Verification,
)
from loginless.links.client import LinksApi
from loginless.links.errors import LinkGone, LinkNotFound, LinkNotResendable
from loginless.links.views import IssueLinksIn, RecipientIn
from loginless.shared.blobs import BlobStore
from loginless.shared.clock import Clock, utc_now
from loginless.shared.errors import InvalidRequest, NotFound
from loginless.shared.eventstore import (
    Cause,
    DeciderRunner,
    EventStore,
    Job,
    JobKind,
    Jobs,
    Outcome,
    Projections,
    database_errors,
)
from loginless.shared.web.assertion import GuestAssertion
from loginless.shared.web.idempotency import IdempotentRequests
from loginless.signing import domain
from loginless.signing.domain import Client, Envelope, Recipient
from loginless.signing.pdf import (
    AuditTrail,
    SealCredentials,
    StampedField,
    TrailDocument,
    TrailEvent,
    TrailRecipient,
)
from loginless.signing.ports import PdfEngine
from loginless.signing.projections import EnvelopeQueries
from loginless.signing.seals import SealFacts, TenantSeals, facts_of
from loginless.signing.settings import SigningSettings

log = structlog.get_logger(__name__)

ISSUE_LINK, REVOKE_LINK, SEAL, SEAL_RECORD, FILE = "issue-link", "revoke-link", "seal", "seal-record", "file"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class SigningContext:
    """What every handler needs; built once per process by ``bootstrap``."""

    settings: SigningSettings
    store: EventStore
    projections: Projections
    envelopes: DeciderRunner[Envelope, domain.Command]
    templates: DeciderRunner[domain.Template, domain.CreateTemplate | domain.DeleteTemplate]
    seal_changes: DeciderRunner[domain.TenantSeal, domain.ChangeSeal]
    seals: TenantSeals
    queries: EnvelopeQueries
    jobs: Jobs
    blobs: BlobStore
    pdf: PdfEngine
    links: LinksApi
    documents: DocumentsApi
    idempotency: IdempotentRequests
    clock: Clock = utc_now

    @property
    def pool(self) -> asyncpg.Pool:
        return self.store.pool


# ---- what staff send --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourcePdf:
    """One PDF of a new envelope: a document of the documents service, or bytes uploaded with the request."""

    name: str
    document_id: str | None = None
    content: bytes | None = None


@dataclass(frozen=True)
class FieldRequest:
    """A field as staff place it: on a page at a position, or anchored to a text of the PDF."""

    field_id: str
    recipient_id: str
    document: int
    kind: domain.FieldKind
    page: int | None
    x: float | None
    y: float | None
    width: float
    height: float
    anchor: str | None = None
    anchor_offset: tuple[float, float] = (0.0, 0.0)
    required: bool = True
    label: str | None = None
    options: tuple[str, ...] | None = None
    every_page: bool = False  # initials on every page of the document
    value: str | None = None  # a sender's field: its value


@dataclass(frozen=True)
class EnvelopeRequest:
    title: str
    message: str | None
    documents: tuple[SourcePdf, ...]
    recipients: tuple[EnvelopeRecipient, ...]
    fields: tuple[FieldRequest, ...]
    verification: Verification
    expires_at: datetime | None
    account_id: str | None
    folder_id: str | None
    certificate_to_signers: bool
    template_id: str | None = None
    reminders: EnvelopeReminders | None = None


def _key(envelope: Envelope | str, tenant_id: str, *parts: str) -> str:
    envelope_id = envelope if isinstance(envelope, str) else envelope.envelope_id
    return "/".join(("tenants", tenant_id, "envelopes", envelope_id, *parts))


def original_key(envelope: Envelope, index: int) -> str:
    return _key(envelope, envelope.tenant_id, "documents", f"{index}.pdf")


def interim_key(envelope: Envelope, index: int, sha256: str) -> str:
    return _key(envelope, envelope.tenant_id, "interim", f"{index}-{sha256}.pdf")


def sealed_key(envelope: Envelope, index: int) -> str:
    return _key(envelope, envelope.tenant_id, "sealed", f"{index}.pdf")


def certificate_key(envelope: Envelope) -> str:
    return _key(envelope, envelope.tenant_id, "certificate.pdf")


def mark_key(envelope: Envelope, sha256: str) -> str:
    return _key(envelope, envelope.tenant_id, "marks", f"{sha256}.png")


async def create_envelope(ctx: SigningContext, tenant_id: str, request: EnvelopeRequest, *, send: bool,
                          cause: Cause) -> Envelope:
    """Read and check each PDF, store it, place the fields, and record the draft (and send it, if asked)."""
    now = ctx.clock()
    envelope_id = domain.new_envelope_id()
    documents: list[EnvelopeDocument] = []
    originals: list[bytes] = []
    for index, source in enumerate(request.documents[:domain.MAX_DOCUMENTS]):
        content = await _pdf_of(ctx, tenant_id, source, index)
        facts = await ctx.pdf.inspect(content)
        documents.append(EnvelopeDocument(index=index, name=source.name, sha256=facts.sha256, pages=facts.page_count,
                                          document_id=source.document_id))
        originals.append(content)
    fields = await _placed_fields(ctx, request.fields, documents, originals)
    prepared = await _with_sender_values(ctx, fields, originals)
    documents = [d.model_copy(update={"prepared_sha256": hashlib.sha256(prepared[d.index]).hexdigest()})
                 if d.index in prepared else d for d in documents]
    command = domain.CreateEnvelope(
        envelope_id=envelope_id, tenant_id=tenant_id, title=request.title.strip(), message=request.message,
        documents=tuple(documents), recipients=request.recipients, fields=tuple(fields),
        verification=request.verification,
        expires_at=request.expires_at or now + timedelta(days=ctx.settings.default_expiry_days),
        account_id=request.account_id, folder_id=request.folder_id,
        certificate_to_signers=request.certificate_to_signers, now=now, template_id=request.template_id,
        reminders=request.reminders)
    domain.check_new_envelope(command)  # before anything is stored
    stored = []
    try:
        for document, content in zip(documents, originals, strict=True):
            key = _key(envelope_id, tenant_id, "documents", f"{document.index}.pdf")
            await ctx.blobs.put(key, io.BytesIO(content), content_type="application/pdf", length=len(content))
            stored.append(key)
            if document.prepared_sha256:  # what the first signer is shown: the sender's values filled in
                key = _key(envelope_id, tenant_id, "interim", f"{document.index}-{document.prepared_sha256}.pdf")
                content = prepared[document.index]
                await ctx.blobs.put(key, io.BytesIO(content), content_type="application/pdf", length=len(content))
                stored.append(key)
        outcome = await ctx.envelopes.run(envelope_id, command, cause)
    except BaseException:
        for key in stored:  # no event names them: don't leave them behind
            await _delete_quietly(ctx, key)
        raise
    if send:
        return await send_envelope(ctx, tenant_id, envelope_id, cause=cause)
    return outcome.state


async def _placed_fields(ctx: SigningContext, requests: Sequence[FieldRequest], documents: Sequence[EnvelopeDocument],
                         originals: Sequence[bytes]) -> list[EnvelopeField]:
    """Fields at their final positions: anchors found in the PDF, initials repeated on every page."""
    placed: list[EnvelopeField] = []
    for request in requests:
        if not 0 <= request.document < len(documents):
            raise InvalidRequest(f"fields[{request.field_id}].document: no such document")
        boxes: list[tuple[int, float, float]] = []
        if request.anchor:
            anchors = await ctx.pdf.anchors(originals[request.document], request.anchor)
            if not anchors:
                raise InvalidRequest(f"fields[{request.field_id}].anchor: the text {request.anchor!r} is not in "
                                     f"document {request.document}")
            dx, dy = request.anchor_offset
            boxes = [(a.page, a.x + dx, a.y + dy) for a in anchors]
        elif request.page is not None and request.x is not None and request.y is not None:
            boxes = [(request.page, request.x, request.y)]
        else:
            raise InvalidRequest(f"fields[{request.field_id}]: a page and a position, or an anchor text")
        if request.every_page:
            _, x, y = boxes[0]
            boxes = [(page, x, y) for page in range(1, documents[request.document].pages + 1)]
        for n, (page, x, y) in enumerate(boxes):
            field_id = request.field_id if len(boxes) == 1 else f"{request.field_id}.{n + 1}"
            placed.append(EnvelopeField(
                field_id=field_id, recipient_id=request.recipient_id, document=request.document, kind=request.kind,
                page=page, x=x, y=y, width=request.width, height=request.height, required=request.required,
                label=request.label, options=list(request.options) if request.options else None,
                value=request.value))
    return placed


async def _with_sender_values(ctx: SigningContext, fields: Sequence[EnvelopeField],
                              originals: Sequence[bytes]) -> dict[int, bytes]:
    """Each document that has sender's fields, with their values drawn in (before anyone signs)."""
    prepared = {}
    for index, original in enumerate(originals):
        stamps = [StampedField(kind=f.kind, page=f.page, x=f.x, y=f.y, width=f.width, height=f.height, value=f.value)
                  for f in fields if f.document == index and f.recipient_id == domain.SENDER and f.value]
        if stamps:
            prepared[index] = await ctx.pdf.render(original, stamps)
    return prepared


async def send_envelope(ctx: SigningContext, tenant_id: str, envelope_id: str, *, cause: Cause) -> Envelope:
    """Send a draft: the first group's turn starts, and their links are issued (now, or by the worker)."""
    outcome = await ctx.envelopes.run(envelope_id, lambda: domain.SendEnvelope(ctx.clock()), cause,
                                      check=_scoped(tenant_id), also=_queue_what_it_calls_for(ctx))
    await _issue_links_now(ctx, outcome.state)
    return (await ctx.envelopes.load(envelope_id))[0] or outcome.state


async def void_envelope(ctx: SigningContext, tenant_id: str, envelope_id: str, reason: str, *,
                        cause: Cause) -> Envelope:
    outcome = await ctx.envelopes.run(envelope_id, lambda: domain.Void(reason, ctx.clock()), cause,
                                      check=_scoped(tenant_id), also=_queue_what_it_calls_for(ctx))
    await work_through_jobs(ctx)
    return outcome.state


async def resend_link(ctx: SigningContext, tenant_id: str, envelope_id: str, recipient_id: str, *,
                      cause: Cause) -> Recipient:
    """Send a recipient their link again: the same link while it lives, else a new one (a new 7 days)."""
    envelope = await _envelope_of(ctx, tenant_id, envelope_id)
    recipient = envelope.recipient(recipient_id)
    if envelope.ended or envelope.status == "sealing":
        raise domain.EnvelopeEnded(f"the envelope is {envelope.status}", status=envelope.status)
    if recipient.status != "pending":
        raise domain.NotYourTurn("this recipient has no link to act on now", status=recipient.status)
    if recipient.link_id is not None:
        try:
            await ctx.links.resend(tenant_id, recipient.link_id)
            return recipient
        except (LinkGone, LinkNotFound, LinkNotResendable):
            pass  # ended at links: a new link takes its place
    link_id = await _issue_link(ctx, envelope, recipient, attempt=ctx.clock().isoformat())
    outcome = await ctx.envelopes.run(envelope_id, lambda: domain.RecordLinkIssued(recipient_id, link_id,
                                                                                   ctx.clock()), cause)
    return outcome.state.recipient(recipient_id)


async def envelope(ctx: SigningContext, tenant_id: str, envelope_id: str) -> Envelope:
    return await _envelope_of(ctx, tenant_id, envelope_id)


async def envelopes(ctx: SigningContext, tenant_id: str, *, status: str | None, limit: int,
                    after: str | None) -> list[asyncpg.Record]:
    async with database_errors():
        return await ctx.queries.list(ctx.pool, tenant_id, status=status, limit=limit, after=after)


async def sealed_document(ctx: SigningContext, tenant_id: str, envelope_id: str, index: int) -> tuple[str, bytes]:
    """A sealed document's name and bytes, once the envelope is completed."""
    state = await _envelope_of(ctx, tenant_id, envelope_id)
    if state.status != "completed" or not 0 <= index < len(state.documents):
        raise NotFound("no sealed document: the envelope is not completed, or has no such document")
    return _sealed_name(state.documents[index].name), await _read(ctx, sealed_key(state, index))


async def audit_certificate(ctx: SigningContext, tenant_id: str, envelope_id: str) -> bytes:
    state = await _envelope_of(ctx, tenant_id, envelope_id)
    if state.certificate_sha256 is None:
        raise NotFound("no audit certificate yet: it is made when the envelope ends")
    return await _read(ctx, certificate_key(state))


def _sealed_name(name: str) -> str:
    stem = name[:-4] if name.lower().endswith(".pdf") else name
    return f"{stem} (signed).pdf"


# ---- a tenant's own seal -----------------------------------------------------------------------------------


async def save_tenant_seal(ctx: SigningContext, tenant_id: str, pkcs12: bytes, password: bytes | None, *,
                           cause: Cause) -> SealFacts:
    """Check the tenant's PKCS#12 (a key, a certificate valid now, allowed to sign) and keep it, encrypted."""
    facts = facts_of(SealCredentials.from_pkcs12(pkcs12, password, now=ctx.clock()))

    async def keep(connection: asyncpg.Connection, _: Outcome) -> None:
        await ctx.seals.save(connection, tenant_id, pkcs12, password, facts)

    await ctx.seal_changes.run(domain.seal_stream(tenant_id), lambda: domain.ChangeSeal(
        tenant_id, facts.subject, facts.fingerprint, facts.not_after, ctx.clock()), cause, also=keep)
    return facts


async def remove_tenant_seal(ctx: SigningContext, tenant_id: str, *, cause: Cause) -> None:
    """Back to the platform's seal."""
    async def forget(connection: asyncpg.Connection, _: Outcome) -> None:
        await ctx.seals.delete(connection, tenant_id)

    await ctx.seal_changes.run(domain.seal_stream(tenant_id), lambda: domain.ChangeSeal(
        tenant_id, None, None, None, ctx.clock()), cause, also=forget)


async def tenant_seal(ctx: SigningContext, tenant_id: str) -> SealFacts | None:
    async with database_errors():
        return await ctx.seals.facts(ctx.pool, tenant_id)


# ---- templates and bulk send ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateRequest:
    name: str
    title: str
    message: str | None
    documents: tuple[SourcePdf, ...]
    roles: tuple[TemplateRole, ...]
    fields: tuple[FieldRequest, ...]  # ``recipient_id``: a role id, or "sender" for a merge field
    verification: Verification
    expires_in_days: int


@dataclass(frozen=True)
class RecipientData:
    name: str
    email: str
    phone: str | None = None
    language: Literal["en", "es"] | None = None


def template_key(tenant_id: str, template_id: str, index: int) -> str:
    return "/".join(("tenants", tenant_id, "templates", template_id, "documents", f"{index}.pdf"))


async def create_template(ctx: SigningContext, tenant_id: str, request: TemplateRequest, *,
                          cause: Cause) -> domain.Template:
    """Check and keep the PDFs, place the fields (anchors found once, here), and record the template."""
    template_id = domain.new_template_id()
    documents, originals = [], []
    for index, source in enumerate(request.documents[:domain.MAX_DOCUMENTS]):
        content = await _pdf_of(ctx, tenant_id, source, index)
        facts = await ctx.pdf.inspect(content)
        documents.append(EnvelopeDocument(index=index, name=source.name, sha256=facts.sha256, pages=facts.page_count,
                                          document_id=source.document_id))
        originals.append(content)
    template = domain.Template(
        template_id=template_id, tenant_id=tenant_id, name=request.name.strip(), title=request.title.strip(),
        message=request.message, documents=tuple(documents), roles=request.roles,
        fields=tuple(await _placed_fields(ctx, request.fields, documents, originals)),
        verification=request.verification, expires_in_days=request.expires_in_days, created_at=ctx.clock())
    domain.check_template(template)
    stored = []
    try:
        for document, content in zip(documents, originals, strict=True):
            key = template_key(tenant_id, template_id, document.index)
            await ctx.blobs.put(key, io.BytesIO(content), content_type="application/pdf", length=len(content))
            stored.append(key)
        return (await ctx.templates.run(template_id, domain.CreateTemplate(template), cause)).state
    except BaseException:
        for key in stored:
            await _delete_quietly(ctx, key)
        raise


async def template(ctx: SigningContext, tenant_id: str, template_id: str) -> domain.Template:
    state, _ = await ctx.templates.load(template_id)
    if state is None or state.tenant_id != tenant_id or state.deleted:
        raise NotFound("no such template")
    return state


async def templates(ctx: SigningContext, tenant_id: str, *, limit: int, after: str | None) -> list[asyncpg.Record]:
    async with database_errors():
        return await ctx.queries.templates(ctx.pool, tenant_id, limit=limit, after=after)


async def delete_template(ctx: SigningContext, tenant_id: str, template_id: str, *, cause: Cause) -> None:
    await template(ctx, tenant_id, template_id)
    await ctx.templates.run(template_id, lambda: domain.DeleteTemplate(ctx.clock()), cause)


async def envelope_from_template(ctx: SigningContext, tenant_id: str, template_id: str, *,
                                 recipients: Mapping[str, RecipientData], values: Mapping[str, str], send: bool,
                                 account_id: str | None = None, folder_id: str | None = None,
                                 cause: Cause) -> Envelope:
    """An envelope of the template's documents and fields, with a recipient for each role and the sender's values
    merged into its fields."""
    kept = await template(ctx, tenant_id, template_id)
    missing = [r.role_id for r in kept.roles if r.role_id not in recipients]
    unknown = [role for role in recipients if role not in {r.role_id for r in kept.roles}]
    unfilled = [f.field_id for f in kept.merge_fields() if not (values.get(f.field_id) or "").strip()]
    if missing or unknown or unfilled:
        raise InvalidRequest("; ".join([*(f"recipients.{r}: required" for r in missing),
                                        *(f"recipients.{r}: no such role" for r in unknown),
                                        *(f"values.{f}: required" for f in unfilled)]))
    recipient_ids = {role.role_id: f"r{n + 1}" for n, role in enumerate(kept.roles)}
    people = tuple(EnvelopeRecipient(
        recipient_id=recipient_ids[role.role_id], name=recipients[role.role_id].name.strip(),
        email=recipients[role.role_id].email.strip(), phone=recipients[role.role_id].phone,
        language=recipients[role.role_id].language, role=role.role, group=role.group) for role in kept.roles)
    fields = tuple(FieldRequest(
        field_id=f.field_id, recipient_id=recipient_ids.get(f.recipient_id, domain.SENDER), document=f.document,
        kind=f.kind, page=f.page, x=f.x, y=f.y, width=f.width, height=f.height, required=f.required, label=f.label,
        options=tuple(f.options) if f.options else None,
        value=values[f.field_id].strip() if f.recipient_id == domain.SENDER else None) for f in kept.fields)
    documents = tuple([SourcePdf(name=d.name, content=await _read(ctx, template_key(tenant_id, template_id, d.index)))
                       for d in kept.documents])
    return await create_envelope(ctx, tenant_id, EnvelopeRequest(
        title=kept.title, message=kept.message, documents=documents, recipients=people, fields=fields,
        verification=kept.verification, expires_at=ctx.clock() + timedelta(days=kept.expires_in_days),
        account_id=account_id, folder_id=folder_id, certificate_to_signers=False, template_id=template_id),
        send=send, cause=cause)


@dataclass(frozen=True)
class BulkRow:
    row: int  # 1 is the first line after the header
    envelope_id: str | None = None
    error: str | None = None


async def bulk_send(ctx: SigningContext, tenant_id: str, template_id: str, csv_text: str, *,
                    cause: Cause) -> list[BulkRow]:
    """One envelope per CSV row, sent: ``<role>.name`` and ``<role>.email`` (and optionally ``.phone``,
    ``.language``) for each role, and a column per merge field. Every row is reported: its envelope, or why not."""
    kept = await template(ctx, tenant_id, template_id)
    reader = csv.DictReader(io.StringIO(csv_text))
    columns = set(reader.fieldnames or [])
    needed = {f"{r.role_id}.{part}" for r in kept.roles for part in ("name", "email")}
    needed |= {f.field_id for f in kept.merge_fields()}
    if not needed <= columns:
        raise InvalidRequest(f"the CSV lacks the columns {', '.join(sorted(needed - columns))}",
                             errors=[f"column {c}: required" for c in sorted(needed - columns)])
    rows = list(reader)
    if not 1 <= len(rows) <= ctx.settings.max_bulk_rows:
        raise InvalidRequest(f"a bulk send takes 1 to {ctx.settings.max_bulk_rows} rows, this one has {len(rows)}")
    report = []
    for number, row in enumerate(rows, 1):
        recipients = {r.role_id: RecipientData(
            name=row.get(f"{r.role_id}.name") or "", email=row.get(f"{r.role_id}.email") or "",
            phone=row.get(f"{r.role_id}.phone") or None,
            language=row.get(f"{r.role_id}.language") if row.get(f"{r.role_id}.language") in ("en", "es") else None)
            for r in kept.roles}
        try:
            sent = await envelope_from_template(ctx, tenant_id, template_id, recipients=recipients,
                                                values={f.field_id: row.get(f.field_id) or "" for f in
                                                        kept.merge_fields()},
                                                send=True, cause=Cause(cause.correlation_id, f"bulk-row:{number}"))
            report.append(BulkRow(number, envelope_id=sent.envelope_id))
        except InvalidRequest as error:
            report.append(BulkRow(number, error=error.detail))
    log.info("bulk send done", template_id=template_id, rows=len(rows),
             sent=sum(1 for r in report if r.envelope_id))
    return report


async def _pdf_of(ctx: SigningContext, tenant_id: str, source: SourcePdf, index: int) -> bytes:
    content = source.content
    if source.document_id is not None:
        content = await ctx.documents.content(tenant_id, source.document_id, max_size=ctx.settings.max_document_size)
    if content is None:
        raise InvalidRequest(f"documents[{index}]: a document_id or the PDF itself")
    if len(content) > ctx.settings.max_document_size:
        raise InvalidRequest(f"documents[{index}]: larger than {ctx.settings.max_document_size} bytes")
    return content


# ---- guests -----------------------------------------------------------------------------------------------


async def guest_envelope(ctx: SigningContext, guest: GuestAssertion) -> tuple[Envelope, Recipient]:
    """The envelope and recipient a guest's link is for: always the assertion's, whatever the path says."""
    if guest.action != "sign" or not guest.resource_id.startswith("env_"):
        raise NotFound("this link is not for signing")
    state, _ = await ctx.envelopes.load(guest.resource_id)
    if state is None or state.tenant_id != guest.tenant_id:
        raise NotFound("no such envelope")
    return state, state.recipient_of_link(guest.link_id)


async def record_view(ctx: SigningContext, guest: GuestAssertion, client: Client, *, cause: Cause) -> None:
    await ctx.envelopes.run(guest.resource_id, lambda: domain.RecordView(guest.link_id, client, ctx.clock()), cause,
                            check=_scoped(guest.tenant_id))


async def give_consent(ctx: SigningContext, guest: GuestAssertion, client: Client, *, cause: Cause) -> Envelope:
    outcome = await ctx.envelopes.run(guest.resource_id, lambda: domain.GiveConsent(guest.link_id, client,
                                                                                   ctx.clock()),
                                      cause, check=_scoped(guest.tenant_id))
    return outcome.state


async def shown_pdf(ctx: SigningContext, guest: GuestAssertion, index: int) -> tuple[str, bytes]:
    """The exact PDF this signer is shown of document ``index``: the original with every value given so far, by
    the server -- the one their signature's ``sha256_before`` names. Its hash is the second value."""
    state, _ = await guest_envelope(ctx, guest)
    if not 0 <= index < len(state.documents):
        raise NotFound("no such document in this envelope")
    sha256 = state.current_sha256[index]
    key = original_key(state, index) if sha256 == state.documents[index].sha256 else interim_key(state, index, sha256)
    return sha256, await _read(ctx, key)


@dataclass(frozen=True)
class Attachment:
    """A file a signer uploads for an attachment field (an ID copy, a statement)."""

    name: str
    content: bytes


@dataclass(frozen=True)
class Signature:
    """What a signer submits: their field values, how they signed, the drawn mark if any, the files of their
    attachment fields, and the hashes of the PDFs their page showed (document index -> SHA-256)."""

    values: Mapping[str, str]
    method: Literal["drawn", "typed"]
    drawn_png: bytes | None
    typed_name: str | None
    shown: Mapping[int, str]
    attachments: Mapping[str, Attachment] = field(default_factory=dict)


ATTACHMENT_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})


def attachment_key(envelope: Envelope, sha256: str) -> str:
    return _key(envelope, envelope.tenant_id, "attachments", sha256)


async def _store_attachments(ctx: SigningContext, state: Envelope, recipient: Recipient,
                             attachments: Mapping[str, Attachment]) -> dict[str, str]:
    """Check the signer's files against the limits (size, type from the bytes), store them, and give each field's
    value: ``attachment:<sha256>:<size>:<name>``. A required attachment missing is refused with the others."""
    mine = {f.field_id: f for f in state.fields_of(recipient.recipient_id) if f.kind == "attachment"}
    errors = [f"{field_id}: not an attachment field of this signer" for field_id in attachments if field_id not in mine]
    checked: dict[str, tuple[Attachment, str]] = {}
    for field_id, f in mine.items():
        attachment = attachments.get(field_id)
        if attachment is None or not attachment.content:
            if f.required:
                errors.append(f"{field_id}: attach a file")
            continue
        if len(attachment.content) > ctx.settings.max_attachment_size:
            errors.append(f"{field_id}: larger than {ctx.settings.max_attachment_size // (1024 * 1024)} MB")
            continue
        kind = sniff(attachment.content[:SNIFF_BYTES], name=attachment.name).mime
        if kind not in ATTACHMENT_TYPES:
            errors.append(f"{field_id}: a PDF, PNG or JPEG file")
            continue
        checked[field_id] = (attachment, kind)
    if errors:
        raise domain.InvalidValues("; ".join(errors[:20]), errors=errors)
    values = {}
    for field_id, (attachment, kind) in checked.items():
        sha256 = hashlib.sha256(attachment.content).hexdigest()
        await ctx.blobs.put(attachment_key(state, sha256), io.BytesIO(attachment.content), content_type=kind,
                            length=len(attachment.content))
        name = domain.attachment_name(attachment.name)
        values[field_id] = f"attachment:{sha256}:{len(attachment.content)}:{name}"
    return values


async def sign(ctx: SigningContext, guest: GuestAssertion, signature: Signature, client: Client, *,
               cause: Cause) -> Envelope:
    """Record one signer's signature once. The server renders what their values make of each PDF (earlier
    signers' values included), stores it under its hash, and records the hashes before and after; the page only
    says which PDFs it showed. The same signer again -- a double click, a second tab, a retry -- finds their
    signature recorded and gets the same answer."""
    state, recipient = await guest_envelope(ctx, guest)
    if recipient.status == "signed":
        return state
    recipient = domain.acting_recipient(state, guest.link_id, ctx.clock())
    if recipient.consented_at is None:
        raise domain.ConsentRequired("agree to sign electronically first")
    if any(state.current_sha256.get(index) != sha for index, sha in signature.shown.items()) or (
            set(signature.shown) != set(state.current_sha256)):
        raise domain.DocumentChanged("another signer signed meanwhile: read the document again, then sign")
    values = dict(signature.values)
    if signature.method == "typed" and not (signature.typed_name or "").strip():
        raise domain.InvalidValues("signature: type your full name to sign", errors=["signature: required"])
    typed = (signature.typed_name or "").strip()
    marks = {"signature": f"typed:{typed}", "initials": f"typed:{initials(typed or recipient.name)}"}
    if signature.method == "drawn":
        mark = _checked_png(signature.drawn_png, ctx.settings.max_signature_image_size)
        mark_sha256 = hashlib.sha256(mark).hexdigest()
        await ctx.blobs.put(mark_key(state, mark_sha256), io.BytesIO(mark), content_type="image/png",
                            length=len(mark))
        marks["signature"] = f"drawn:{mark_sha256}"
    for f in state.fields_of(recipient.recipient_id):
        if f.kind in marks:  # the page's own values for these are never taken
            values[f.field_id] = marks[f.kind]
        if f.kind == "attachment":
            values.pop(f.field_id, None)  # only what was uploaded, never a value the page made up
    values |= await _store_attachments(ctx, state, recipient, signature.attachments)
    now = ctx.clock()
    accepted = domain.check_values(state, recipient, values) | domain.server_values(state, recipient, now)
    everything = {**state.values, **accepted}
    hashes = []
    for document in state.documents:
        before = state.current_sha256[document.index]
        mine = [f for f in state.fields_of(recipient.recipient_id) if f.document == document.index]
        after = before
        if mine:
            rendered = await ctx.pdf.render(await _read(ctx, original_key(state, document.index)),
                                            await _stamps(ctx, state, document.index, everything))
            after = hashlib.sha256(rendered).hexdigest()
            await ctx.blobs.put(interim_key(state, document.index, after), io.BytesIO(rendered),
                                content_type="application/pdf", length=len(rendered))
        hashes.append(SignedDocumentHashes(document=document.index, sha256_before=before, sha256_after=after))
    outcome = await ctx.envelopes.run(
        guest.resource_id, lambda: domain.Sign(guest.link_id, accepted, signature.method, tuple(hashes), client,
                                               ctx.clock()),
        cause, check=_scoped(guest.tenant_id), also=_queue_what_it_calls_for(ctx))
    await _issue_links_now(ctx, outcome.state)
    return outcome.state


async def decline(ctx: SigningContext, guest: GuestAssertion, reason: str, client: Client, *,
                  cause: Cause) -> Envelope:
    outcome = await ctx.envelopes.run(guest.resource_id, lambda: domain.Decline(guest.link_id, reason, client,
                                                                               ctx.clock()),
                                      cause, check=_scoped(guest.tenant_id), also=_queue_what_it_calls_for(ctx))
    return outcome.state


async def _stamps(ctx: SigningContext, state: Envelope, index: int, values: Mapping[str, str]) -> list[StampedField]:
    """The values of one document as stamps, in the envelope's field order (so rendering is reproducible)."""
    stamps = []
    for f in state.fields:
        value = values.get(f.field_id)
        if f.document != index or value is None:
            continue
        drawn: str | bytes | bool
        kind = f.kind
        if f.kind == "attachment":  # the file itself is filed beside the documents; its box names it
            kind, drawn = "text", f"Attached: {value.split(':', 3)[3]}"
        elif value.startswith("drawn:"):
            drawn = await _read(ctx, mark_key(state, value[6:]))
        elif f.kind == "checkbox":
            drawn = value == "true"
        elif f.kind == "radio":
            kind, drawn = "text", value  # one box for the whole choice: the chosen option is written in it
        else:
            drawn = value[6:] if value.startswith("typed:") else value
        stamps.append(StampedField(kind=kind, page=f.page, x=f.x, y=f.y, width=f.width, height=f.height, value=drawn))
    return stamps


def initials(name: str) -> str:
    return "".join(part[0].upper() for part in name.split() if part[:1].isalpha())[:4] or name[:2]


def _checked_png(data: bytes | None, max_size: int) -> bytes:
    if not data or not data.startswith(PNG_SIGNATURE) or len(data) > max_size:
        raise domain.InvalidValues(f"signature: a drawn signature is a PNG image of at most {max_size} bytes",
                                   errors=["signature: not a PNG, or too large"])
    return data


# ---- what an event calls for: jobs, queued with it -----------------------------------------------------------


def _queue_what_it_calls_for(ctx: SigningContext):  # noqa: ANN202
    async def queue(connection: asyncpg.Connection, outcome: Outcome[Envelope]) -> None:
        state = outcome.state
        if not outcome.events or state is None:
            return
        tenant = state.tenant_id
        for recipient in state.turn():
            if recipient.link_id is None:
                await ctx.jobs.queue(connection, ISSUE_LINK, f"{state.envelope_id}/{recipient.recipient_id}",
                                     tenant_id=tenant, deadline=state.expires_at)
        if state.status == "sealing":
            await ctx.jobs.queue(connection, SEAL, state.envelope_id, tenant_id=tenant)
        if state.status in ("declined", "voided", "expired"):
            for link_id in _links_to_revoke(state):
                await ctx.jobs.queue(connection, REVOKE_LINK, link_id, tenant_id=tenant)
            await ctx.jobs.queue(connection, SEAL_RECORD, state.envelope_id, tenant_id=tenant)
        if state.status == "completed" and state.account_id and not state.filed_document_ids:
            await ctx.jobs.queue(connection, FILE, state.envelope_id, tenant_id=tenant)
        if state.status == "completed":  # copies receive the signed documents: a link to them, now
            for recipient in state.recipients:
                if recipient.role == "copy" and recipient.link_id is None:
                    await ctx.jobs.queue(connection, ISSUE_LINK, f"{state.envelope_id}/{recipient.recipient_id}",
                                         tenant_id=tenant)
    return queue


def _links_to_revoke(state: Envelope) -> list[str]:
    """Links of recipients who can no longer act (the envelope ended before they did)."""
    return [r.link_id for r in state.recipients if r.link_id and r.status in ("waiting", "pending")]


async def _issue_links_now(ctx: SigningContext, state: Envelope | None) -> None:
    """Try the new turn's links at once (the worker carries on if links cannot answer now)."""
    if state is None:
        return
    for recipient in state.turn():
        if recipient.link_id is None:
            await _run_job_now(ctx, ISSUE_LINK, f"{state.envelope_id}/{recipient.recipient_id}", state.tenant_id)


async def _run_job_now(ctx: SigningContext, kind: str, key: str, tenant_id: str) -> None:
    """Do a queued job while its caller waits (a guest's next signer gets their link at once); whatever goes
    wrong, the queued job is still there for the worker."""
    jobs = {job.name: job for job in job_kinds(ctx)}
    job = Job(kind=kind, key=key, tenant_id=tenant_id, payload={}, attempts=0, deadline=None)
    try:
        await jobs[kind].run(job)
    except Exception as error:  # noqa: BLE001 -- the queued job stays; the worker tries again
        log.info("job left to the worker", kind=kind, key=key, error=str(error)[:200])
        return
    await ctx.jobs.finish(ctx.pool, kind, key)


def job_kinds(ctx: SigningContext) -> list[JobKind]:
    async def issue(job: Job) -> None:
        envelope_id, recipient_id = job.key.split("/", 1)
        state, _ = await ctx.envelopes.load(envelope_id)
        if state is None:
            return
        recipient = state.recipient(recipient_id)
        copy_due = recipient.role == "copy" and state.status == "completed"
        if recipient.link_id is not None or not (copy_due or (recipient.status == "pending" and not state.ended)):
            return
        link_id = await _issue_link(ctx, state, recipient)
        await ctx.envelopes.run(envelope_id, lambda: domain.RecordLinkIssued(recipient_id, link_id, ctx.clock()),
                                Cause(f"issue:{job.key}"), also=_revoke_if_ended(ctx, link_id))

    async def revoke(job: Job) -> None:
        try:
            await ctx.links.revoke(job.tenant_id, job.key)
        except NotFound:
            pass  # links never heard of it, or forgot it: nothing lives to revoke

    async def seal(job: Job) -> None:
        await seal_envelope(ctx, job.key)

    async def seal_record(job: Job) -> None:
        await seal_ended_record(ctx, job.key)

    async def file(job: Job) -> None:
        await file_into_documents(ctx, job.key)

    return [JobKind(ISSUE_LINK, issue), JobKind(REVOKE_LINK, revoke), JobKind(SEAL, seal, lease_seconds=600),
            JobKind(SEAL_RECORD, seal_record, lease_seconds=600), JobKind(FILE, file, lease_seconds=600)]


def _revoke_if_ended(ctx: SigningContext, link_id: str):  # noqa: ANN202
    async def revoke(connection: asyncpg.Connection, outcome: Outcome[Envelope]) -> None:
        # It stopped while links issued: this link must not live (a completed envelope's links are its copies').
        if outcome.state is not None and outcome.state.status in ("declined", "voided", "expired"):
            await ctx.jobs.queue(connection, REVOKE_LINK, link_id, tenant_id=outcome.state.tenant_id)
    return revoke


async def _issue_link(ctx: SigningContext, state: Envelope, recipient: Recipient, attempt: str = "") -> str:
    """Issue the recipient's link at links (which e-mails it). The key makes a retry get the same link back."""
    until = ctx.clock() + domain.SIGNING_LINK_LIFETIME
    if recipient.role != "copy":  # a signer's link ends with the envelope; a copy's link only downloads the result
        until = min(until, state.expires_at)
    issued = await ctx.links.issue(state.tenant_id, IssueLinksIn(
        action="sign", resource_id=state.envelope_id, expires_at=until, verification=state.verification,
        recipients=[RecipientIn(name=recipient.name, email=recipient.email, phone=recipient.phone,
                                language=recipient.language, delivery="email")]),
        idempotency_key=f"{state.envelope_id}/{recipient.recipient_id}/{attempt}")
    return issued.links[0].link_id


async def work_through_jobs(ctx: SigningContext) -> int:
    """One round of the worker over every kind of job."""
    return await ctx.jobs.work_through(job_kinds(ctx), now=ctx.clock())


async def expire_due(ctx: SigningContext) -> int:
    """Expire the envelopes past their expiry (their open links are revoked and their record sealed)."""
    async with database_errors():
        due = await ctx.queries.due_to_expire(ctx.pool, ctx.clock())
    for envelope_id in due:
        await ctx.envelopes.run(envelope_id, lambda: domain.Expire(ctx.clock()), Cause(f"expire:{envelope_id}"),
                                also=_queue_what_it_calls_for(ctx))
    return len(due)


# ---- completion: sealing, the audit certificate, filing ---------------------------------------------------------


async def seal_envelope(ctx: SigningContext, envelope_id: str) -> None:
    """Seal every document as signed, then the audit certificate, store them, and record the hashes. Stored under
    fixed keys, so a retry after a failure part-way (a timestamp authority down) simply does it again."""
    state, _ = await ctx.envelopes.load(envelope_id)
    if state is None or state.status != "sealing":
        return
    sealed: list[SealedDocument] = []
    level = "B-B"
    credentials = await ctx.seals.credentials(ctx.pool, state.tenant_id, now=ctx.clock())
    for document in state.documents:
        final = await _read(ctx, _current_key(state, document.index))
        result = await ctx.pdf.seal(final, reason=f"Signed through loginless: {state.title}"[:200],
                                    credentials=credentials)
        level = result.level
        await ctx.blobs.put(sealed_key(state, document.index), io.BytesIO(result.pdf),
                            content_type="application/pdf", length=len(result.pdf))
        sealed.append(SealedDocument(document=document.index, name=document.name, sha256_original=document.sha256,
                                     sha256_sealed=hashlib.sha256(result.pdf).hexdigest()))
    now = ctx.clock()
    certificate = await _sealed_certificate(ctx, state, "completed", None, sealed, now)
    await ctx.envelopes.run(envelope_id, lambda: domain.RecordSealed(tuple(sealed), certificate, level, ctx.clock()),
                            Cause(f"seal:{envelope_id}"), also=_queue_what_it_calls_for(ctx))
    log.info("envelope sealed", envelope_id=envelope_id, documents=len(sealed), level=level)


async def seal_ended_record(ctx: SigningContext, envelope_id: str) -> None:
    """The sealed audit certificate of an envelope that was declined, voided or expired."""
    state, _ = await ctx.envelopes.load(envelope_id)
    if state is None or state.status not in ("declined", "voided", "expired") or state.certificate_sha256:
        return
    certificate = await _sealed_certificate(ctx, state, state.status, state.end_reason, [], ctx.clock())
    await ctx.envelopes.run(envelope_id, lambda: domain.RecordRecordSealed(certificate, ctx.clock()),
                            Cause(f"seal-record:{envelope_id}"))


TRAIL_ACTIONS = {"link_issued": "sent", "viewed": "viewed", "consented": "consented", "signed": "signed",
                 "declined": "declined"}
VERIFICATION_METHODS = {"none": "link", "email": "email_code", "sms": "sms_code"}


async def _sealed_certificate(ctx: SigningContext, state: Envelope, outcome: str, detail: str | None,
                              sealed: Sequence[SealedDocument], now: datetime) -> str:
    """The audit certificate, sealed and stored; returns its SHA-256."""
    unsealed = await ctx.pdf.certificate(await audit_trail(ctx, state, outcome, detail, sealed, now))
    credentials = await ctx.seals.credentials(ctx.pool, state.tenant_id, now=now)
    result = await ctx.pdf.seal(unsealed, reason=f"Audit certificate of {state.envelope_id}", credentials=credentials)
    await ctx.blobs.put(certificate_key(state), io.BytesIO(result.pdf), content_type="application/pdf",
                        length=len(result.pdf))
    return hashlib.sha256(result.pdf).hexdigest()


async def audit_trail(ctx: SigningContext, state: Envelope, outcome: str, detail: str | None,
                      sealed: Sequence[SealedDocument], now: datetime) -> AuditTrail:
    """What the certificate says: per recipient, each event with its time, address and browser, how they were
    identified and when they consented; each document's SHA-256 before and after."""
    firm = await ctx.links.branding(state.tenant_id)
    finals = {s.document: s.sha256_sealed for s in sealed}
    recipients = []
    for r in state.recipients:
        events = tuple(TrailEvent(at=e.at, action=_action(e.what, r), ip_address=e.client_ip,
                                  user_agent=e.user_agent)
                       for e in state.trail if e.recipient_id == r.recipient_id and e.what in TRAIL_ACTIONS)
        status = "approved" if r.status == "signed" and r.role == "approver" else r.status
        recipients.append(TrailRecipient(name=r.name, email=r.email, role=r.role,
                                         status="pending" if status == "waiting" else status,
                                         verification=VERIFICATION_METHODS[state.verification],
                                         consented_at=r.consented_at, events=events))
    if outcome == "expired":  # the certificate's outcomes: an expired envelope stopped like a voided one
        outcome, detail = "voided", detail or "expired before everyone had signed"
    return AuditTrail(
        envelope_id=state.envelope_id, title=state.title, sender_name=firm.name if firm else state.tenant_id,
        sender_email=(firm.contact_email if firm else None) or "—", sent_at=state.sent_at or state.created_at,
        outcome=outcome, outcome_at=state.ended_at or now,  # type: ignore[arg-type]
        documents=tuple(TrailDocument(d.name, d.sha256, finals.get(d.index)) for d in state.documents),
        recipients=tuple(recipients), generated_at=now, outcome_reason=detail,
        firm_name=firm.name if firm else None)


def _action(what: str, recipient: Recipient) -> str:
    return "approved" if what == "signed" and recipient.role == "approver" else TRAIL_ACTIONS[what]


async def file_into_documents(ctx: SigningContext, envelope_id: str) -> None:
    """File the sealed documents and the certificate into the client's account at documents (idempotent there by
    key, so a retry files nothing twice)."""
    state, _ = await ctx.envelopes.load(envelope_id)
    if state is None or state.status != "completed" or not state.account_id or state.filed_document_ids:
        return
    filed = []
    for document in state.documents:
        content = await _read(ctx, sealed_key(state, document.index))
        view = await ctx.documents.file(state.tenant_id, account_id=state.account_id, folder_id=state.folder_id,
                                        name=_sealed_name(document.name), content=content,
                                        idempotency_key=f"{envelope_id}/sealed/{document.index}")
        filed.append(view.document_id)
    for f in state.fields:
        value = state.values.get(f.field_id, "")
        if f.kind == "attachment" and value.startswith("attachment:"):
            _, sha256, _, name = value.split(":", 3)
            view = await ctx.documents.file(state.tenant_id, account_id=state.account_id, folder_id=state.folder_id,
                                            name=name, content=await _read(ctx, attachment_key(state, sha256)),
                                            idempotency_key=f"{envelope_id}/attachment/{f.field_id}")
            filed.append(view.document_id)
    certificate = await _read(ctx, certificate_key(state))
    view = await ctx.documents.file(state.tenant_id, account_id=state.account_id, folder_id=state.folder_id,
                                    name=f"{state.title[:150]} - audit certificate.pdf", content=certificate,
                                    idempotency_key=f"{envelope_id}/certificate")
    filed.append(view.document_id)
    await ctx.envelopes.run(envelope_id, lambda: domain.RecordFiled(state.account_id, tuple(filed), ctx.clock()),
                            Cause(f"file:{envelope_id}"))


def _current_key(state: Envelope, index: int) -> str:
    sha256 = state.current_sha256[index]
    return original_key(state, index) if sha256 == state.documents[index].sha256 else interim_key(state, index, sha256)


# ---- helpers -----------------------------------------------------------------------------------------------


def _scoped(tenant_id: str):  # noqa: ANN202
    def check(state: Envelope | None) -> None:
        if state is None or state.tenant_id != tenant_id:
            raise NotFound("no such envelope")
    return check


async def _envelope_of(ctx: SigningContext, tenant_id: str, envelope_id: str) -> Envelope:
    state, _ = await ctx.envelopes.load(envelope_id)
    _scoped(tenant_id)(state)
    assert state is not None
    return state


async def _read(ctx: SigningContext, key: str) -> bytes:
    return b"".join([chunk async for chunk in ctx.blobs.read_chunks(key)])


async def _delete_quietly(ctx: SigningContext, key: str) -> None:
    try:
        await ctx.blobs.delete(key)
    except Exception:  # noqa: BLE001 -- best effort: an orphan object is harmless, a lost error is not
        log.warning("could not remove an object no event names", key=key)
