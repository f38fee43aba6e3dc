"""The staff API (``/v1/envelopes``): envelopes of the caller's tenant, their status and their sealed results.

Controllers only translate: HTTP to calls of ``handlers`` and their answers back to wire models. Envelopes of
another tenant are simply not found (404). Creating POSTs honour ``Idempotency-Key`` (the kernel's). Staff see
each recipient's link id and history, never a token.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Annotated, Literal, TypeAlias

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from pydantic import BaseModel, Field

from loginless.events.payloads.signing import (
    EnvelopeRecipient,
    EnvelopeReminders,
    FieldKind,
    RecipientRole,
    TemplateRole,
    Verification,
)
from loginless.shared.errors import InvalidRequest
from loginless.shared.web.auth import StaffPrincipal
from loginless.shared.web.context import cause_of
from loginless.shared.web.downloads import content_disposition
from loginless.shared.web.idempotency import Answer, IdempotencyKey
from loginless.shared.web.pagination import PAGE_LIMIT_DEFAULT, PageCursor, PageLimit, after_key, page
from loginless.shared.web.problems import problem_responses
from loginless.signing import domain, handlers
from loginless.signing.domain import Envelope
from loginless.signing.handlers import (
    EnvelopeRequest,
    FieldRequest,
    RecipientData,
    SigningContext,
    SourcePdf,
    TemplateRequest,
)

Staff: TypeAlias = NamedDependency[StaffPrincipal]
Signing: TypeAlias = NamedDependency[SigningContext]
PathId: TypeAlias = FromPath[str]
Name = Annotated[str, Field(min_length=1, max_length=200)]


# ---- wire models ----------------------------------------------------------------------------------------


class DocumentIn(BaseModel):
    name: Name = Field(description="Shown to signers, and the sealed copy's name")
    document_id: str | None = Field(None, max_length=100, description="A document of the documents service")
    content_base64: str | None = Field(None, description="Or the PDF itself, base64-encoded")


class RecipientIn(BaseModel):
    name: Name
    email: str = Field(max_length=254)
    phone: str | None = Field(None, max_length=30, description="For one-time codes by SMS")
    language: Literal["en", "es"] | None = None
    role: RecipientRole = "signer"
    group: int | None = Field(None, ge=1, le=50, description="Routing group; equal numbers sign in parallel")


class AnchorIn(BaseModel):
    text: str = Field(min_length=1, max_length=200, description="Placed where this text is (every occurrence)")
    offset_x: float = 0
    offset_y: float = 0


class PlacedFieldIn(BaseModel):
    field_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,40}$", description="Default: f1, f2, …")
    document: int = Field(0, ge=0)
    kind: FieldKind
    page: int | None = Field(None, ge=1)
    x: float | None = Field(None, ge=0, description="PDF points from the page's left edge")
    y: float | None = Field(None, ge=0, description="PDF points from the page's bottom edge")
    width: float = Field(160, gt=0, le=2000)
    height: float = Field(40, gt=0, le=2000)
    anchor: AnchorIn | None = None
    required: bool = True
    label: str | None = Field(None, max_length=200)
    options: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(None, max_length=50)
    every_page: bool = Field(False, description="Initials: the field on every page of the document")

    def to_request(self, n: int, recipient_id: str, value: str | None = None) -> FieldRequest:
        return FieldRequest(
            field_id=self.field_id or f"f{n + 1}", recipient_id=recipient_id, document=self.document,
            kind=self.kind, page=self.page, x=self.x, y=self.y, width=self.width, height=self.height,
            anchor=self.anchor.text if self.anchor else None,
            anchor_offset=(self.anchor.offset_x, self.anchor.offset_y) if self.anchor else (0.0, 0.0),
            required=self.required, label=self.label, options=tuple(self.options) if self.options else None,
            every_page=self.every_page, value=value)


class FieldIn(PlacedFieldIn):
    recipient: int = Field(ge=0, description="Index of the recipient in ``recipients``")


class TemplateFieldIn(PlacedFieldIn):
    role: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description='A role of the template, or "sender" for a '
                      "value each envelope's sender gives (a bulk send's CSV column named by the field id)")


class RemindersIn(BaseModel):
    """This envelope's reminders, instead of the firm's schedule (ISO 8601 durations, e.g. ``P2D``, ``PT12H``)."""

    enabled: bool = True
    first_after: timedelta = Field(timedelta(days=2), description="After a signer's link is sent")
    interval: timedelta = Field(timedelta(days=3), description="Between reminders")
    expiry_warning_before: timedelta = Field(timedelta(days=1), description="Before the link expires; zero: none")
    max_reminders: int = Field(5, ge=0, le=50)

    def to_event(self) -> EnvelopeReminders:
        return EnvelopeReminders(enabled=self.enabled, first_after_seconds=int(self.first_after.total_seconds()),
                                 interval_seconds=int(self.interval.total_seconds()),
                                 expiry_warning_before_seconds=int(self.expiry_warning_before.total_seconds()),
                                 max_reminders=self.max_reminders)


class NewEnvelope(BaseModel):
    title: Name
    message: str | None = Field(None, max_length=2000)
    documents: list[DocumentIn] = Field(min_length=1, max_length=domain.MAX_DOCUMENTS)
    recipients: list[RecipientIn] = Field(min_length=1, max_length=domain.MAX_RECIPIENTS)
    routing: Literal["sequential", "parallel"] = Field(
        "sequential", description="Without groups: one after another in the order given, or all at once")
    fields: list[FieldIn] = Field(default_factory=list, max_length=domain.MAX_FIELDS)
    verification: Verification = Field("none", description="A one-time code by e-mail or SMS before anything "
                                       "is shown")
    expires_at: datetime | None = None
    expires_in_days: int | None = Field(None, ge=1, le=120)
    account_id: str | None = Field(None, max_length=100, description="The client account the sealed documents "
                                   "are filed into at the documents service")
    folder_id: str | None = Field(None, max_length=100)
    certificate_to_signers: bool = Field(False, description="Signers may download the audit certificate too")
    reminders: RemindersIn | None = Field(None, description="Absent: the firm's reminder schedule")
    send: bool = Field(False, description="Send at once; otherwise the envelope stays a draft")

    def to_request(self, now: datetime) -> EnvelopeRequest:
        documents = tuple(SourcePdf(name=d.name, document_id=d.document_id, content=_decoded(d, n))
                          for n, d in enumerate(self.documents))
        groups = domain.routing_groups(self.routing, [(r.role, r.group) for r in self.recipients])
        recipients = tuple(EnvelopeRecipient(recipient_id=f"r{n + 1}", name=r.name.strip(), email=r.email.strip(),
                                             phone=r.phone, language=r.language, role=r.role, group=groups[n])
                           for n, r in enumerate(self.recipients))
        fields = []
        for n, f in enumerate(self.fields):
            if f.recipient >= len(recipients):
                raise InvalidRequest(f"fields[{n}].recipient: no such recipient")
            fields.append(f.to_request(n, recipients[f.recipient].recipient_id))
        expires_at = self.expires_at or (now + timedelta(days=self.expires_in_days) if self.expires_in_days else None)
        return EnvelopeRequest(title=self.title, message=self.message, documents=documents, recipients=recipients,
                               fields=tuple(fields), verification=self.verification, expires_at=expires_at,
                               account_id=self.account_id, folder_id=self.folder_id,
                               certificate_to_signers=self.certificate_to_signers,
                               reminders=self.reminders.to_event() if self.reminders else None)


def _decoded(document: DocumentIn, n: int) -> bytes | None:
    if (document.document_id is None) == (document.content_base64 is None):
        raise InvalidRequest(f"documents[{n}]: either document_id or content_base64")
    if document.content_base64 is None:
        return None
    try:
        return base64.b64decode(document.content_base64, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidRequest(f"documents[{n}].content_base64: not base64") from error


class RoleIn(BaseModel):
    role_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    label: str | None = Field(None, max_length=200)
    role: RecipientRole = "signer"
    group: int = Field(1, ge=1, le=50, description="Routing group; equal numbers sign in parallel")


class NewTemplate(BaseModel):
    name: Name
    title: Name = Field(description="Each envelope's title")
    message: str | None = Field(None, max_length=2000)
    documents: list[DocumentIn] = Field(min_length=1, max_length=domain.MAX_DOCUMENTS)
    roles: list[RoleIn] = Field(min_length=1, max_length=domain.MAX_RECIPIENTS)
    fields: list[TemplateFieldIn] = Field(default_factory=list, max_length=domain.MAX_FIELDS)
    verification: Verification = "none"
    expires_in_days: int = Field(30, ge=1, le=120)

    def to_request(self) -> TemplateRequest:
        return TemplateRequest(
            name=self.name, title=self.title, message=self.message,
            documents=tuple(SourcePdf(name=d.name, document_id=d.document_id, content=_decoded(d, n))
                            for n, d in enumerate(self.documents)),
            roles=tuple(TemplateRole(role_id=r.role_id, label=r.label or r.role_id, role=r.role, group=r.group)
                        for r in self.roles),
            fields=tuple(f.to_request(n, f.role) for n, f in enumerate(self.fields)),
            verification=self.verification, expires_in_days=self.expires_in_days)


class TemplateOut(BaseModel):
    template_id: str
    name: str
    title: str
    roles: list[RoleIn]
    merge_fields: list[str] = Field(description="The sender's fields: a bulk send's CSV has a column for each")
    documents: list[DocumentOut]
    created_at: datetime

    @classmethod
    def of(cls, template: domain.Template) -> TemplateOut:
        return cls(template_id=template.template_id, name=template.name, title=template.title,
                   roles=[RoleIn(role_id=r.role_id, label=r.label, role=r.role, group=r.group)
                          for r in template.roles],
                   merge_fields=[f.field_id for f in template.merge_fields()],
                   documents=[DocumentOut(index=d.index, name=d.name, pages=d.pages, sha256=d.sha256,
                                          document_id=d.document_id) for d in template.documents],
                   created_at=template.created_at)


class TemplateList(BaseModel):
    templates: list[dict]
    next: str | None
    next_cursor: str | None = Field(default=None, description="Pass as ``cursor`` for the next page; null at the end")


class PersonIn(BaseModel):
    name: Name
    email: str = Field(max_length=254)
    phone: str | None = Field(None, max_length=30)
    language: Literal["en", "es"] | None = None


class EnvelopeFromTemplate(BaseModel):
    recipients: dict[Annotated[str, Field(max_length=40)], PersonIn] = Field(description="One for each role")
    values: dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=dict, description="The sender's fields, by field id")
    account_id: str | None = Field(None, max_length=100)
    folder_id: str | None = Field(None, max_length=100)
    send: bool = True


class BulkRowOut(BaseModel):
    row: int
    envelope_id: str | None
    error: str | None


class BulkReport(BaseModel):
    sent: int
    failed: int
    rows: list[BulkRowOut]


class SealIn(BaseModel):
    pkcs12_base64: str = Field(max_length=200_000, description="The PKCS#12 (.p12, .pfx) file, base64-encoded")
    password: str | None = Field(None, max_length=1000)


class SealOut(BaseModel):
    own: bool = Field(description="False: documents are sealed with the platform's seal")
    subject: str | None = None
    fingerprint: str | None = Field(None, description="SHA-256 of the certificate")
    not_after: datetime | None = None


class VoidIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class HistoryOut(BaseModel):
    at: datetime
    what: str
    client_ip: str | None = None
    user_agent: str | None = None
    detail: str | None = None


class RecipientOut(BaseModel):
    recipient_id: str
    name: str
    email: str
    role: RecipientRole
    group: int
    status: domain.RecipientStatus
    link_id: str | None
    signed_at: datetime | None
    history: list[HistoryOut]


class DocumentOut(BaseModel):
    index: int
    name: str
    pages: int
    sha256: str
    document_id: str | None
    sha256_sealed: str | None = None


class EnvelopeOut(BaseModel):
    envelope_id: str
    title: str
    status: domain.EnvelopeStatus
    created_at: datetime
    sent_at: datetime | None
    expires_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    verification: Verification
    documents: list[DocumentOut]
    recipients: list[RecipientOut]
    history: list[HistoryOut] = Field(description="What happened to the envelope itself (created, sent, voided…)")
    certificate_sha256: str | None
    seal_level: str | None
    filed_document_ids: list[str]

    @classmethod
    def of(cls, envelope: Envelope) -> EnvelopeOut:
        sealed = {s.document: s.sha256_sealed for s in envelope.sealed}
        return cls(
            envelope_id=envelope.envelope_id, title=envelope.title, status=envelope.status,
            created_at=envelope.created_at, sent_at=envelope.sent_at, expires_at=envelope.expires_at,
            ended_at=envelope.ended_at, end_reason=envelope.end_reason, verification=envelope.verification,
            documents=[DocumentOut(index=d.index, name=d.name, pages=d.pages, sha256=d.sha256,
                                   document_id=d.document_id, sha256_sealed=sealed.get(d.index))
                       for d in envelope.documents],
            recipients=[RecipientOut(
                recipient_id=r.recipient_id, name=r.name, email=r.email, role=r.role, group=r.group,
                status=r.status, link_id=r.link_id, signed_at=r.signed_at,
                history=[_history(e) for e in envelope.trail if e.recipient_id == r.recipient_id])
                for r in envelope.recipients],
            history=[_history(e) for e in envelope.trail if e.recipient_id is None],
            certificate_sha256=envelope.certificate_sha256, seal_level=envelope.seal_level,
            filed_document_ids=list(envelope.filed_document_ids))


def _history(entry: domain.TrailEntry) -> HistoryOut:
    return HistoryOut(at=entry.at, what=entry.what, client_ip=entry.client_ip, user_agent=entry.user_agent,
                      detail=entry.detail)


class EnvelopeSummary(BaseModel):
    envelope_id: str
    title: str
    status: domain.EnvelopeStatus
    signers: int
    signed: int
    created_at: datetime
    sent_at: datetime | None
    expires_at: datetime
    ended_at: datetime | None


class EnvelopeList(BaseModel):
    envelopes: list[EnvelopeSummary]
    next: str | None = Field(description="Pass as ``after`` for the next page")
    next_cursor: str | None = Field(default=None, description="Pass as ``cursor`` for the next page; null at the end")


# ---- controllers ------------------------------------------------------------------------------------------


class EnvelopesController(Controller):
    path = "/v1/envelopes"
    tags = ["envelopes"]

    @post("/", request_max_body_size=40 * 1024 * 1024,
          responses=problem_responses({404: "A document or template it names does not exist for this tenant"}))
    async def create(self, request: Request, data: JSONBody[NewEnvelope], staff: Staff, signing: Signing,
                     idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """An envelope from PDFs (documents of the documents service, or uploaded), its recipients and their
        fields; sent at once with ``send: true``, else a draft to send later."""
        envelope_request = data.to_request(signing.clock())

        async def work() -> Answer:
            envelope = await handlers.create_envelope(signing, staff.tenant_id, envelope_request, send=data.send,
                                                      cause=cause_of(request))
            return Answer(201, EnvelopeOut.of(envelope).model_dump(mode="json"))

        fingerprint = data.model_dump(mode="json")
        return (await signing.idempotency.run(tenant_id=staff.tenant_id, operation="create-envelope",
                                              key=idempotency_key, request=fingerprint, work=work)).response()

    @get("/")
    async def list(self, staff: Staff, signing: Signing,
                   status: FromQuery[domain.EnvelopeStatus | None] = None,
                   after: Annotated[str | None, QueryParameter(max_length=64)] = None, cursor: PageCursor = None,
                   limit: PageLimit = PAGE_LIMIT_DEFAULT) -> EnvelopeList:
        rows = await handlers.envelopes(signing, staff.tenant_id, status=status, limit=limit + 1,
                                        after=after_key(cursor, after))
        rows, next_cursor = page(rows, limit, key=lambda row: (row["envelope_id"],))
        items = [EnvelopeSummary(**{name: row[name] for name in EnvelopeSummary.model_fields}) for row in rows]
        return EnvelopeList(envelopes=items, next=items[-1].envelope_id if next_cursor else None,
                            next_cursor=next_cursor)

    @get("/{envelope_id:str}")
    async def get_one(self, envelope_id: PathId, staff: Staff, signing: Signing) -> EnvelopeOut:
        """The envelope's status, with each recipient's history."""
        return EnvelopeOut.of(await handlers.envelope(signing, staff.tenant_id, envelope_id))

    @post("/{envelope_id:str}/send", status_code=200)
    async def send(self, request: Request, envelope_id: PathId, staff: Staff, signing: Signing) -> EnvelopeOut:
        """Send a draft; sending again changes nothing."""
        envelope = await handlers.send_envelope(signing, staff.tenant_id, envelope_id, cause=cause_of(request))
        return EnvelopeOut.of(envelope)

    @post("/{envelope_id:str}/void", status_code=200)
    async def void(self, request: Request, envelope_id: PathId, data: JSONBody[VoidIn], staff: Staff,
                   signing: Signing) -> EnvelopeOut:
        """Stop the envelope: recipients' links stop working, and a sealed record of it is kept."""
        envelope = await handlers.void_envelope(signing, staff.tenant_id, envelope_id, data.reason,
                                                cause=cause_of(request))
        return EnvelopeOut.of(envelope)

    @post("/{envelope_id:str}/recipients/{recipient_id:str}/resend", status_code=202)
    async def resend(self, request: Request, envelope_id: PathId, recipient_id: PathId, staff: Staff,
                     signing: Signing) -> RecipientOut:
        """Send a recipient whose turn it is their link again (a new one if theirs expired)."""
        recipient = await handlers.resend_link(signing, staff.tenant_id, envelope_id, recipient_id,
                                               cause=cause_of(request))
        envelope = await handlers.envelope(signing, staff.tenant_id, envelope_id)
        return next(r for r in EnvelopeOut.of(envelope).recipients if r.recipient_id == recipient.recipient_id)

    @get("/{envelope_id:str}/documents/{index:int}/sealed", media_type="application/pdf")
    async def sealed(self, envelope_id: PathId, index: FromPath[int], staff: Staff, signing: Signing) -> Response:
        """A sealed document (PAdES), once the envelope is completed."""
        name, content = await handlers.sealed_document(signing, staff.tenant_id, envelope_id, index)
        return _pdf(content, name)

    @get("/{envelope_id:str}/certificate", media_type="application/pdf")
    async def certificate(self, envelope_id: PathId, staff: Staff, signing: Signing) -> Response:
        """The sealed audit certificate, once the envelope has ended (completed, declined, voided or expired)."""
        content = await handlers.audit_certificate(signing, staff.tenant_id, envelope_id)
        return _pdf(content, f"{envelope_id} audit certificate.pdf")


def _pdf(content: bytes, name: str) -> Response:
    return Response(content, media_type="application/pdf", headers=pdf_attachment(name))


def pdf_attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": content_disposition("attachment", name), "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store"}


class TemplatesController(Controller):
    path = "/v1/templates"
    tags = ["templates"]

    @post("/", request_max_body_size=40 * 1024 * 1024)
    async def create(self, request: Request, data: JSONBody[NewTemplate], staff: Staff, signing: Signing,
                     idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Documents, roles and their fields kept for reuse; fields of the role ``sender`` are filled in per
        envelope."""
        template_request = data.to_request()

        async def work() -> Answer:
            template = await handlers.create_template(signing, staff.tenant_id, template_request,
                                                      cause=cause_of(request))
            return Answer(201, TemplateOut.of(template).model_dump(mode="json"))

        return (await signing.idempotency.run(tenant_id=staff.tenant_id, operation="create-template",
                                              key=idempotency_key, request=data.model_dump(mode="json"),
                                              work=work)).response()

    @get("/")
    async def list(self, staff: Staff, signing: Signing,
                   after: Annotated[str | None, QueryParameter(max_length=64)] = None, cursor: PageCursor = None,
                   limit: PageLimit = PAGE_LIMIT_DEFAULT) -> TemplateList:
        rows = await handlers.templates(signing, staff.tenant_id, limit=limit + 1, after=after_key(cursor, after))
        rows, next_cursor = page(rows, limit, key=lambda row: (row["template_id"],))
        items = [{"template_id": r["template_id"], "name": r["name"], "roles": list(r["roles"]),
                  "created_at": r["created_at"].isoformat()} for r in rows]
        return TemplateList(templates=items, next=items[-1]["template_id"] if next_cursor else None,
                            next_cursor=next_cursor)

    @get("/{template_id:str}")
    async def get_one(self, template_id: PathId, staff: Staff, signing: Signing) -> TemplateOut:
        return TemplateOut.of(await handlers.template(signing, staff.tenant_id, template_id))

    @delete("/{template_id:str}", status_code=204)
    async def remove(self, request: Request, template_id: PathId, staff: Staff, signing: Signing) -> None:
        await handlers.delete_template(signing, staff.tenant_id, template_id, cause=cause_of(request))

    @post("/{template_id:str}/envelopes")
    async def envelope(self, request: Request, template_id: PathId, data: JSONBody[EnvelopeFromTemplate],
                       staff: Staff, signing: Signing, idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """An envelope of the template: a recipient for each role, the sender's values merged in."""
        async def work() -> Answer:
            envelope = await handlers.envelope_from_template(
                signing, staff.tenant_id, template_id, recipients={
                    role: RecipientData(p.name, p.email, p.phone, p.language) for role, p in data.recipients.items()},
                values=data.values, send=data.send, account_id=data.account_id, folder_id=data.folder_id,
                cause=cause_of(request))
            return Answer(201, EnvelopeOut.of(envelope).model_dump(mode="json"))

        return (await signing.idempotency.run(tenant_id=staff.tenant_id, operation="envelope-from-template",
                                              key=idempotency_key, request=[template_id, data.model_dump()],
                                              work=work)).response()

    @post("/{template_id:str}/bulk-send", request_max_body_size=2 * 1024 * 1024, status_code=200)
    async def bulk_send(self, request: Request, template_id: PathId, staff: Staff, signing: Signing,
                        idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """One envelope per row of a CSV body (``text/csv``, UTF-8): ``<role>.name`` and ``<role>.email`` (and
        ``.phone``, ``.language``) for each role, a column per sender's field. Each row is reported."""
        body = await request.body()
        try:
            csv_text = body.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidRequest("the CSV must be UTF-8") from error

        async def work() -> Answer:
            rows = await handlers.bulk_send(signing, staff.tenant_id, template_id, csv_text, cause=cause_of(request))
            report = BulkReport(sent=sum(1 for r in rows if r.envelope_id), failed=sum(1 for r in rows if r.error),
                                rows=[BulkRowOut(row=r.row, envelope_id=r.envelope_id, error=r.error) for r in rows])
            return Answer(200, report.model_dump(mode="json"))

        return (await signing.idempotency.run(tenant_id=staff.tenant_id, operation="bulk-send", key=idempotency_key,
                                              request=[template_id, csv_text], work=work)).response()


class SealController(Controller):
    path = "/v1/seal"
    tags = ["seal"]

    @put("/")
    async def save(self, request: Request, data: JSONBody[SealIn], staff: Staff, signing: Signing) -> SealOut:
        """Seal this tenant's documents with its own certificate: checked now (a key, valid, allowed to sign) and
        kept encrypted; never written to disk."""
        try:
            pkcs12 = base64.b64decode(data.pkcs12_base64, validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidRequest("pkcs12_base64: not base64") from error
        facts = await handlers.save_tenant_seal(signing, staff.tenant_id, pkcs12,
                                                data.password.encode() if data.password else None,
                                                cause=cause_of(request))
        return SealOut(own=True, subject=facts.subject, fingerprint=facts.fingerprint, not_after=facts.not_after)

    @get("/")
    async def current(self, staff: Staff, signing: Signing) -> SealOut:
        facts = await handlers.tenant_seal(signing, staff.tenant_id)
        if facts is None:
            return SealOut(own=False)
        return SealOut(own=True, subject=facts.subject, fingerprint=facts.fingerprint, not_after=facts.not_after)

    @delete("/", status_code=204)
    async def remove(self, request: Request, staff: Staff, signing: Signing) -> None:
        """Back to the platform's seal."""
        await handlers.remove_tenant_seal(signing, staff.tenant_id, cause=cause_of(request))


ROUTE_HANDLERS = [EnvelopesController, TemplatesController, SealController]
