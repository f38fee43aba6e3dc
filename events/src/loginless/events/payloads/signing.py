"""Events of the signing service (topic ``signing.events``), all of the envelope stream (subject: the envelope id).

An envelope is one or more PDFs sent to recipients -- signers, approvers and copies -- in routing groups: group 1
first, then group 2, and so on; the members of one group act in parallel. Each signer's completed signing is
one **DocumentSigned** (its name is part of the contract), with the SHA-256 of the exact PDF the signer was shown
and of the one their values made. ``signature_request_id`` is the envelope id. No event carries a token or a
signature image; personal data is what the envelope's sender gave (names, addresses) and the signers' client
addresses in the audit trail.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from loginless.events.catalog import IntegrationEvent

RecipientRole = Literal["signer", "approver", "copy"]
FieldKind = Literal["signature", "initials", "date_signed", "name", "email", "text", "number", "checkbox", "radio",
                    "dropdown", "attachment"]
Verification = Literal["none", "email", "sms"]


class EnvelopeDocument(BaseModel):
    index: int  # 0-based, in the order the sender gave
    name: str
    sha256: str  # of the original PDF
    pages: int
    document_id: str | None = None  # of the documents service, when the PDF came from there
    prepared_sha256: str | None = None  # of the PDF with the sender's own values, when there are some


class EnvelopeRecipient(BaseModel):
    recipient_id: str  # "r1", "r2", ... in the order the sender gave
    name: str
    email: str
    phone: str | None = None
    language: Literal["en", "es"] | None = None
    role: RecipientRole
    group: int  # routing group, from 1


class EnvelopeField(BaseModel):
    field_id: str
    recipient_id: str  # a signer's or approver's, or "sender" for a value the sender fills in (a merge field)
    document: int
    kind: FieldKind
    page: int  # 1-based
    x: float  # PDF points, from the page's bottom-left corner
    y: float
    width: float
    height: float
    required: bool = True
    label: str | None = None
    options: list[str] | None = None  # radio and dropdown
    value: str | None = None  # the sender's value of a "sender" field


class TemplateRole(BaseModel):
    role_id: str  # what a new envelope's recipients and a bulk send's CSV columns name
    label: str
    role: RecipientRole
    group: int


class TemplateCreated(IntegrationEvent, service="signing", version=1):
    """Documents, roles and fields kept for reuse (stream ``tpl_…``); fields belong to roles, and "sender" fields
    are filled in per envelope (a bulk send's CSV columns)."""

    template_id: str
    tenant_id: str
    template_name: str
    title: str
    message: str | None = None
    documents: list[EnvelopeDocument]
    roles: list[TemplateRole]
    fields: list[EnvelopeField]  # ``recipient_id`` is a role id, or "sender"
    verification: Verification = "none"
    expires_in_days: int
    created_at: datetime


class TemplateDeleted(IntegrationEvent, service="signing", version=1):
    template_id: str
    tenant_id: str
    deleted_at: datetime


class EnvelopeReminders(BaseModel):
    """The sender's reminder schedule for this envelope's signers, instead of the firm's (durations in seconds)."""

    enabled: bool = True
    first_after_seconds: int
    interval_seconds: int
    expiry_warning_before_seconds: int  # 0: no warning before a link expires
    max_reminders: int


class EnvelopeCreated(IntegrationEvent, service="signing", version=1):
    """A draft: its documents, recipients, fields and settings, as the sender will send them."""

    envelope_id: str
    tenant_id: str
    title: str
    message: str | None = None
    documents: list[EnvelopeDocument]
    recipients: list[EnvelopeRecipient]
    fields: list[EnvelopeField]
    verification: Verification = "none"
    expires_at: datetime
    account_id: str | None = None  # the client account the sealed documents are filed into
    folder_id: str | None = None
    certificate_to_signers: bool = False
    template_id: str | None = None
    reminders: EnvelopeReminders | None = None  # None: the firm's schedule
    created_at: datetime


class EnvelopeSent(IntegrationEvent, service="signing", version=1):
    envelope_id: str
    tenant_id: str
    sent_at: datetime
    expires_at: datetime


class SigningTurnStarted(IntegrationEvent, service="signing", version=1):
    """A routing group's turn: its recipients are pending until ``until`` (their links are being issued)."""

    envelope_id: str
    tenant_id: str
    group: int
    recipient_ids: list[str]
    until: datetime
    started_at: datetime
    reminders: EnvelopeReminders | None = None  # the envelope's own schedule, for whoever sends reminders


class RecipientLinkIssued(IntegrationEvent, service="signing", version=1):
    """Links issued the recipient's link (and e-mailed it); staff see its id, never its token."""

    envelope_id: str
    tenant_id: str
    recipient_id: str
    link_id: str
    issued_at: datetime


class RecipientViewed(IntegrationEvent, service="signing", version=1):
    envelope_id: str
    tenant_id: str
    recipient_id: str
    link_id: str
    viewed_at: datetime
    client_ip: str | None = None
    user_agent: str | None = None


class ConsentGiven(IntegrationEvent, service="signing", version=1):
    """The recipient agreed to sign electronically (the text they were shown is ``consent_version``)."""

    envelope_id: str
    tenant_id: str
    recipient_id: str
    consent_version: str
    consented_at: datetime
    client_ip: str | None = None
    user_agent: str | None = None


class SignedDocumentHashes(BaseModel):
    document: int
    sha256_before: str  # the PDF the signer was shown
    sha256_after: str  # the same with their values


class DocumentSigned(IntegrationEvent, service="signing", version=1):
    """One signer signed (or one approver approved); the envelope may still wait for others."""

    signature_request_id: str
    tenant_id: str
    document_id: str
    signer_id: str
    signed_at: datetime
    document_sha256_before: str
    document_sha256_after: str
    link_id: str | None = None
    # Beside the first document's fields above (the contract's), every document of the envelope and how they
    # signed. ``values`` are the field values (text as typed; drawn marks as "drawn").
    documents: list[SignedDocumentHashes] | None = None
    values: dict[str, str] | None = None
    signature_method: Literal["drawn", "typed"] | None = None
    role: RecipientRole | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    verification: Verification | None = None


class SigningDeclined(IntegrationEvent, service="signing", version=1):
    """A signer declined (with their reason): the request stops, and the sender and the other signers are told."""

    signature_request_id: str
    tenant_id: str
    signer_id: str
    reason: str
    declined_at: datetime
    link_id: str | None = None
    signer_name: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    title: str | None = None  # the envelope's, for the mails that tell the others


class EnvelopeVoided(IntegrationEvent, service="signing", version=1):
    envelope_id: str
    tenant_id: str
    reason: str
    voided_at: datetime


class EnvelopeExpired(IntegrationEvent, service="signing", version=1):
    envelope_id: str
    tenant_id: str
    expired_at: datetime


class SealedDocument(BaseModel):
    document: int
    name: str
    sha256_original: str
    sha256_sealed: str


class EnvelopeCompleted(IntegrationEvent, service="signing", version=1):
    """Everyone signed: each document flattened and sealed (PAdES), and the audit certificate sealed beside them."""

    envelope_id: str
    tenant_id: str
    completed_at: datetime
    documents: list[SealedDocument]
    certificate_sha256: str
    seal_level: str  # "B-B", or "B-LTA" with a timestamp authority


class EnvelopeRecordSealed(IntegrationEvent, service="signing", version=1):
    """The sealed audit certificate of an envelope that ended without completing (declined, voided, expired)."""

    envelope_id: str
    tenant_id: str
    outcome: Literal["declined", "voided", "expired"]
    certificate_sha256: str
    sealed_at: datetime


class SignedDocumentsFiled(IntegrationEvent, service="signing", version=1):
    """The sealed documents and the certificate were filed into the client's account at the documents service."""

    envelope_id: str
    tenant_id: str
    account_id: str
    document_ids: list[str]
    filed_at: datetime


class SealChanged(IntegrationEvent, service="signing", version=1):
    """A tenant's documents are sealed from now on with its own certificate (``subject``, SHA-256 ``fingerprint``
    of the certificate), or with the platform's again (``subject`` None). Stream ``seal:<tenant_id>``."""

    tenant_id: str
    subject: str | None = None
    fingerprint: str | None = None
    not_after: datetime | None = None
    changed_at: datetime
