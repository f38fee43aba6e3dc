"""The envelope, as a decider: what may happen to a request for signatures, and in which order. No I/O.

An envelope (stream ``env_…``) is a draft until sent. Then its recipients act in routing groups: group 1 first,
and once every signer and approver of a group has signed, the next group's turn starts (members of one group act
in parallel; copies only receive the result). A recipient acts only through their own link, and only in their
group's turn -- whatever link they hold. The first signature is preceded by the recipient's consent to sign
electronically. When the last signer has signed, the envelope is *sealing*: the worker flattens and seals the
documents and records them, and the envelope is *completed*. A decline, a void or the expiry ends it instead.

Each signer's signing is one ``DocumentSigned``, decided once: a second submission by the same signer (a double
click, a second tab, a retried request) changes nothing, so the handler answers it as the first was answered.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from loginless.events import IntegrationEvent
from loginless.events.payloads.signing import (
    ConsentGiven,
    DocumentSigned,
    EnvelopeCompleted,
    EnvelopeCreated,
    EnvelopeDocument,
    EnvelopeExpired,
    EnvelopeField,
    EnvelopeRecipient,
    EnvelopeRecordSealed,
    EnvelopeReminders,
    EnvelopeSent,
    EnvelopeVoided,
    FieldKind,
    RecipientLinkIssued,
    RecipientRole,
    RecipientViewed,
    SealChanged,
    SealedDocument,
    SignedDocumentHashes,
    SignedDocumentsFiled,
    SigningDeclined,
    SigningTurnStarted,
    TemplateCreated,
    TemplateDeleted,
    TemplateRole,
    Verification,
)
from loginless.shared.errors import InvalidRequest, LoginlessError, NotFound
from loginless.shared.eventstore.decider import Decider

EnvelopeStatus = Literal["draft", "sent", "sealing", "completed", "declined", "voided", "expired"]
RecipientStatus = Literal["waiting", "pending", "signed", "declined"]
ENDED: frozenset[EnvelopeStatus] = frozenset({"completed", "declined", "voided", "expired"})

MAX_DOCUMENTS = 20
MAX_RECIPIENTS = 50
MAX_FIELDS = 500
MAX_TEXT_VALUE = 1000
MAX_ENVELOPE_LIFETIME = timedelta(days=120)
MAX_LIFETIME_SECONDS = int(MAX_ENVELOPE_LIFETIME.total_seconds())
SIGNING_LINK_LIFETIME = timedelta(days=7)  # the seed's promise: a signing link lasts 7 days
CONSENT_VERSION = "2026-12"  # bump when the consent text changes: the audit trail names the one shown
SIGNER_ROLES: frozenset[RecipientRole] = frozenset({"signer", "approver"})
CHOICE_KINDS: frozenset[FieldKind] = frozenset({"radio", "dropdown"})
FILLED_BY_SERVER: frozenset[FieldKind] = frozenset({"date_signed", "name", "email"})
SENDER = "sender"  # the recipient id of the fields the sender fills in (a template's merge fields)
SENDER_KINDS: frozenset[FieldKind] = frozenset({"text", "number"})
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f<>\"]{1,64}@[^@\s\x00-\x1f\x7f<>\"]+\.[^@\s\x00-\x1f\x7f<>\"]+$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{6,20}$")
_NUMBER = re.compile(r"^-?[0-9]{1,15}([.,][0-9]{1,6})?$")


def new_envelope_id() -> str:
    return f"env_{secrets.token_hex(12)}"


# ---- errors a guest or staff can meet ---------------------------------------------------------------------


class EnvelopeEnded(LoginlessError):
    """The envelope was completed, declined, voided or expired: nothing more can be signed through it."""

    status_code = 410
    problem_type = "envelope-ended"
    title = "This envelope is closed"


class NotYourTurn(LoginlessError):
    status_code = 409
    problem_type = "not-your-turn"
    title = "It is not this recipient's turn yet"


class ConsentRequired(LoginlessError):
    status_code = 409
    problem_type = "consent-required"
    title = "Consent to sign electronically comes first"


class DocumentChanged(LoginlessError):
    """Another signer signed while this one was reading: what they were shown is no longer the document."""

    status_code = 409
    problem_type = "document-changed"
    title = "The document changed while you were reading it"


class InvalidEnvelope(InvalidRequest):
    problem_type = "invalid-envelope"
    title = "The envelope is not valid"


class InvalidValues(InvalidRequest):
    problem_type = "invalid-field-values"
    title = "Some fields are missing or not valid"


# ---- state ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    recipient_id: str
    name: str
    email: str
    phone: str | None
    language: Literal["en", "es"] | None
    role: RecipientRole
    group: int
    status: RecipientStatus = "waiting"
    link_id: str | None = None
    consented_at: datetime | None = None
    signed_at: datetime | None = None

    @property
    def acts(self) -> bool:
        """Signers and approvers act in their group's turn; copies only receive the result."""
        return self.role in SIGNER_ROLES


@dataclass(frozen=True)
class TrailEntry:
    """One line of the audit trail."""

    at: datetime
    what: str  # created, sent, link_issued, viewed, consented, signed, declined, voided, expired, completed
    recipient_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Envelope:
    envelope_id: str
    tenant_id: str
    title: str
    message: str | None
    documents: tuple[EnvelopeDocument, ...]
    recipients: tuple[Recipient, ...]
    fields: tuple[EnvelopeField, ...]
    verification: Verification
    expires_at: datetime
    account_id: str | None
    folder_id: str | None
    certificate_to_signers: bool
    created_at: datetime
    reminders: EnvelopeReminders | None = None
    status: EnvelopeStatus = "draft"
    group: int = 0  # the routing group whose turn it is (0 before sending)
    values: Mapping[str, str] = field(default_factory=dict)  # field id -> value, as signers gave them
    current_sha256: Mapping[int, str] = field(default_factory=dict)  # document -> SHA-256 of its latest interim PDF
    sent_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    sealed: tuple[SealedDocument, ...] = ()
    certificate_sha256: str | None = None
    seal_level: str | None = None
    filed_document_ids: tuple[str, ...] = ()
    trail: tuple[TrailEntry, ...] = ()

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def signed_count(self) -> int:
        return sum(1 for r in self.recipients if r.status == "signed")

    def recipient(self, recipient_id: str) -> Recipient:
        for recipient in self.recipients:
            if recipient.recipient_id == recipient_id:
                return recipient
        raise NotFound("no such recipient in this envelope", recipient_id=recipient_id)

    def recipient_of_link(self, link_id: str) -> Recipient:
        for recipient in self.recipients:
            if recipient.link_id == link_id:
                return recipient
        raise NotFound("this link is not a recipient's link of this envelope")

    def fields_of(self, recipient_id: str) -> tuple[EnvelopeField, ...]:
        return tuple(f for f in self.fields if f.recipient_id == recipient_id)

    def turn(self) -> tuple[Recipient, ...]:
        """The recipients whose turn it is and who have not acted yet."""
        return tuple(r for r in self.recipients if r.group == self.group and r.acts and r.status == "pending")

    def live_links(self) -> list[str]:
        return [r.link_id for r in self.recipients if r.link_id and r.status in ("waiting", "pending")]


# ---- commands ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """Where a guest's request came from, for the audit trail."""

    client_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class CreateEnvelope:
    envelope_id: str
    tenant_id: str
    title: str
    message: str | None
    documents: tuple[EnvelopeDocument, ...]
    recipients: tuple[EnvelopeRecipient, ...]
    fields: tuple[EnvelopeField, ...]
    verification: Verification
    expires_at: datetime
    account_id: str | None
    folder_id: str | None
    certificate_to_signers: bool
    now: datetime
    template_id: str | None = None
    reminders: EnvelopeReminders | None = None


@dataclass(frozen=True)
class SendEnvelope:
    now: datetime


@dataclass(frozen=True)
class RecordLinkIssued:
    recipient_id: str
    link_id: str
    now: datetime


@dataclass(frozen=True)
class RecordView:
    link_id: str
    client: Client
    now: datetime


@dataclass(frozen=True)
class GiveConsent:
    link_id: str
    client: Client
    now: datetime


@dataclass(frozen=True)
class Sign:
    """A signer's values (field id -> value; the server fills date, name and e-mail fields) and the hashes of the
    PDFs they were shown and the ones their values made, rendered by the server."""

    link_id: str
    values: Mapping[str, str]
    method: Literal["drawn", "typed"]
    hashes: tuple[SignedDocumentHashes, ...]
    client: Client
    now: datetime


@dataclass(frozen=True)
class Decline:
    link_id: str
    reason: str
    client: Client
    now: datetime


@dataclass(frozen=True)
class Void:
    reason: str
    now: datetime


@dataclass(frozen=True)
class Expire:
    now: datetime


@dataclass(frozen=True)
class RecordSealed:
    documents: tuple[SealedDocument, ...]
    certificate_sha256: str
    seal_level: str
    now: datetime


@dataclass(frozen=True)
class RecordRecordSealed:
    certificate_sha256: str
    now: datetime


@dataclass(frozen=True)
class RecordFiled:
    account_id: str
    document_ids: tuple[str, ...]
    now: datetime


Command = (CreateEnvelope | SendEnvelope | RecordLinkIssued | RecordView | GiveConsent | Sign | Decline | Void
           | Expire | RecordSealed | RecordRecordSealed | RecordFiled)


# ---- the rules of a new envelope ----------------------------------------------------------------------------


def check_new_envelope(command: CreateEnvelope) -> None:
    """Everything a draft must be before it is recorded; each problem named."""
    errors: list[str] = []
    if not command.title.strip():
        errors.append("title: required")
    if not 1 <= len(command.documents) <= MAX_DOCUMENTS:
        errors.append(f"documents: 1 to {MAX_DOCUMENTS}")
    if not 1 <= len(command.recipients) <= MAX_RECIPIENTS:
        errors.append(f"recipients: 1 to {MAX_RECIPIENTS}")
    if len(command.fields) > MAX_FIELDS:
        errors.append(f"fields: at most {MAX_FIELDS}")
    if command.reminders is not None:
        r = command.reminders
        if not (1 <= r.first_after_seconds <= MAX_LIFETIME_SECONDS and 1 <= r.interval_seconds <= MAX_LIFETIME_SECONDS
                and 0 <= r.expiry_warning_before_seconds <= MAX_LIFETIME_SECONDS and 0 <= r.max_reminders <= 50):
            errors.append("reminders: first_after and interval from a second to 120 days, expiry_warning_before up "
                          "to 120 days, max_reminders from 0 to 50")
    if not timedelta(hours=1) <= command.expires_at - command.now <= MAX_ENVELOPE_LIFETIME:
        errors.append("expires_at: between an hour and 120 days from now")
    ids = [r.recipient_id for r in command.recipients]
    if len(set(ids)) != len(ids):
        errors.append("recipients: each recipient once")
    for r in command.recipients:
        if not _EMAIL.match(r.email):
            errors.append(f"recipients[{r.recipient_id}].email: not an e-mail address")
        if r.phone is not None and not _PHONE.match(r.phone):
            errors.append(f"recipients[{r.recipient_id}].phone: not a phone number")
        if command.verification == "sms" and r.role in SIGNER_ROLES and not r.phone:
            errors.append(f"recipients[{r.recipient_id}].phone: required to send codes by SMS")
        if r.group < 1:
            errors.append(f"recipients[{r.recipient_id}].group: from 1")
    if not any(r.role in SIGNER_ROLES for r in command.recipients):
        errors.append("recipients: at least one signer or approver")
    roles = {r.recipient_id: r.role for r in command.recipients}
    pages = {d.index: d.pages for d in command.documents}
    field_ids = [f.field_id for f in command.fields]
    if len(set(field_ids)) != len(field_ids):
        errors.append("fields: each field id once")
    for f in command.fields:
        where = f"fields[{f.field_id}]"
        if f.recipient_id == SENDER:
            if f.kind not in SENDER_KINDS or not (f.value or "").strip() or len(f.value or "") > MAX_TEXT_VALUE:
                errors.append(f"{where}: a sender's field is text or a number, with its value (up to 1,000 "
                              "characters)")
        elif roles.get(f.recipient_id) not in SIGNER_ROLES:
            errors.append(f"{where}.recipient: not a signer or approver of this envelope")
        if f.document not in pages:
            errors.append(f"{where}.document: no such document")
        elif not 1 <= f.page <= pages[f.document]:
            errors.append(f"{where}.page: the document has {pages[f.document]} pages")
        if f.width <= 0 or f.height <= 0 or f.x < 0 or f.y < 0:
            errors.append(f"{where}: a box inside the page")
        if f.kind in CHOICE_KINDS and not f.options:
            errors.append(f"{where}.options: required for a {f.kind}")
    signers_with_signature = {f.recipient_id for f in command.fields if f.kind == "signature"}
    for r in command.recipients:
        if r.role == "signer" and r.recipient_id not in signers_with_signature:
            errors.append(f"recipients[{r.recipient_id}]: a signer needs a signature field")
    if errors:
        raise InvalidEnvelope("; ".join(errors[:20]), errors=errors)


def check_values(envelope: Envelope, recipient: Recipient, values: Mapping[str, str]) -> dict[str, str]:
    """The signer's values as they will be recorded: unknown fields refused, required ones present, each value of
    its kind; date, name and e-mail filled by the server whatever the page sent."""
    mine = {f.field_id: f for f in envelope.fields_of(recipient.recipient_id)}
    errors = [f"{field_id}: not a field of this signer" for field_id in values if field_id not in mine]
    accepted: dict[str, str] = {}
    for field_id, f in mine.items():
        value = (values.get(field_id) or "").strip()
        if f.kind in FILLED_BY_SERVER:
            continue
        if f.kind == "attachment":
            if value and not _is_attachment(value):
                errors.append(f"{field_id}: an uploaded file")
            elif value:
                accepted[field_id] = value
            elif f.required:
                errors.append(f"{field_id}: attach a file")
            continue
        if not value:
            if f.required:
                errors.append(f"{field_id}: required")
            continue
        problem = _value_problem(f, value)
        if problem:
            errors.append(f"{field_id}: {problem}")
        else:
            accepted[field_id] = value
    if errors:
        raise InvalidValues("; ".join(errors[:20]), errors=errors)
    return accepted


def _value_problem(f: EnvelopeField, value: str) -> str | None:
    if len(value) > MAX_TEXT_VALUE or any(ord(c) < 32 and c not in "\t\n" for c in value):
        return "too long, or holds control characters"
    match f.kind:
        case "signature" | "initials":
            if not (value.startswith("typed:") and value[6:].strip()) and not _is_drawn(value):
                return "a drawn or typed signature"
        case "checkbox":
            if value not in ("true", "false"):
                return "true or false"
        case "radio" | "dropdown":
            if value not in (f.options or []):
                return "one of the options"
        case "number":
            if not _NUMBER.match(value):
                return "a number"
    return None


def _is_attachment(value: str) -> bool:
    """An uploaded file is stored apart; its value names it: ``attachment:<sha256>:<size>:<name>``."""
    parts = value.split(":", 3)
    return (len(parts) == 4 and parts[0] == "attachment" and re.fullmatch(r"[0-9a-f]{64}", parts[1]) is not None
            and parts[2].isdigit() and bool(parts[3]))


def attachment_name(name: str) -> str:
    """A display name for an uploaded file: no path, no control characters, at most 120 characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in ':"<>|*?').strip(". ")
    return name[:120] or "attachment"


def _is_drawn(value: str) -> bool:
    """A drawn mark is stored apart; its value names it by the SHA-256 of its PNG."""
    return value.startswith("drawn:") and re.fullmatch(r"[0-9a-f]{64}", value[6:]) is not None


def server_values(envelope: Envelope, recipient: Recipient, now: datetime) -> dict[str, str]:
    """What the server writes into date, name and e-mail fields: never what the page sent."""
    filled: dict[str, str] = {}
    for f in envelope.fields_of(recipient.recipient_id):
        if f.kind == "date_signed":
            filled[f.field_id] = now.date().isoformat()
        elif f.kind == "name":
            filled[f.field_id] = recipient.name
        elif f.kind == "email":
            filled[f.field_id] = recipient.email
    return filled


# ---- decide -----------------------------------------------------------------------------------------------


def decide(state: Envelope | None, command: Command) -> list[IntegrationEvent]:
    if isinstance(command, CreateEnvelope):
        if state is not None:
            return []  # created already (a retried request)
        check_new_envelope(command)
        return [EnvelopeCreated(
            envelope_id=command.envelope_id, tenant_id=command.tenant_id, title=command.title,
            message=command.message, documents=list(command.documents), recipients=list(command.recipients),
            fields=list(command.fields), verification=command.verification, expires_at=command.expires_at,
            account_id=command.account_id, folder_id=command.folder_id,
            certificate_to_signers=command.certificate_to_signers, template_id=command.template_id,
            reminders=command.reminders, created_at=command.now)]
    if state is None:
        raise NotFound("no such envelope")
    match command:
        case SendEnvelope(now=now):
            if state.status != "draft":
                return []  # sent already: sending again changes nothing
            if now >= state.expires_at:
                raise InvalidEnvelope("the envelope expired before it was sent")
            return [EnvelopeSent(envelope_id=state.envelope_id, tenant_id=state.tenant_id, sent_at=now,
                                 expires_at=state.expires_at), _turn(state, _first_group(state), now)]
        case RecordLinkIssued(recipient_id=recipient_id, link_id=link_id, now=now):
            if state.recipient(recipient_id).link_id == link_id:
                return []
            return [RecipientLinkIssued(envelope_id=state.envelope_id, tenant_id=state.tenant_id,
                                        recipient_id=recipient_id, link_id=link_id, issued_at=now)]
        case RecordView(link_id=link_id, client=client, now=now):
            recipient = acting_recipient(state, link_id, now, allow_done=True)
            if recipient.status != "pending" or any(
                    e.what == "viewed" and e.recipient_id == recipient.recipient_id for e in state.trail):
                return []  # the first view is the one the trail needs
            return [RecipientViewed(envelope_id=state.envelope_id, tenant_id=state.tenant_id,
                                    recipient_id=recipient.recipient_id, link_id=link_id, viewed_at=now,
                                    client_ip=client.client_ip, user_agent=client.user_agent)]
        case GiveConsent(link_id=link_id, client=client, now=now):
            recipient = acting_recipient(state, link_id, now)
            if recipient.consented_at is not None:
                return []
            return [ConsentGiven(envelope_id=state.envelope_id, tenant_id=state.tenant_id,
                                 recipient_id=recipient.recipient_id, consent_version=CONSENT_VERSION,
                                 consented_at=now, client_ip=client.client_ip, user_agent=client.user_agent)]
        case Sign() as sign:
            return _sign(state, sign)
        case Decline(link_id=link_id, reason=reason, client=client, now=now):
            recipient = acting_recipient(state, link_id, now)
            reason = reason.strip()
            if not reason or len(reason) > MAX_TEXT_VALUE:
                raise InvalidValues("reason: say briefly why (up to 1,000 characters)", errors=["reason: required"])
            return [SigningDeclined(signature_request_id=state.envelope_id, tenant_id=state.tenant_id,
                                    signer_id=recipient.recipient_id, reason=reason, declined_at=now,
                                    link_id=link_id, signer_name=recipient.name, client_ip=client.client_ip,
                                    user_agent=client.user_agent, title=state.title)]
        case Void(reason=reason, now=now):
            if state.status == "voided":
                return []
            if state.ended or state.status == "sealing":
                raise EnvelopeEnded(f"the envelope is {state.status} and cannot be voided", status=state.status)
            reason = reason.strip()
            if not reason or len(reason) > MAX_TEXT_VALUE:
                raise InvalidRequest("reason: required, up to 1,000 characters")
            return [EnvelopeVoided(envelope_id=state.envelope_id, tenant_id=state.tenant_id, reason=reason,
                                   voided_at=now)]
        case Expire(now=now):
            if state.status not in ("draft", "sent") or now < state.expires_at:
                return []
            return [EnvelopeExpired(envelope_id=state.envelope_id, tenant_id=state.tenant_id,
                                    expired_at=state.expires_at)]
        case RecordSealed(documents=documents, certificate_sha256=certificate, seal_level=level, now=now):
            if state.status != "sealing":
                return []
            return [EnvelopeCompleted(envelope_id=state.envelope_id, tenant_id=state.tenant_id, completed_at=now,
                                      documents=list(documents), certificate_sha256=certificate, seal_level=level)]
        case RecordRecordSealed(certificate_sha256=certificate, now=now):
            if state.status not in ("declined", "voided", "expired") or state.certificate_sha256 is not None:
                return []
            return [EnvelopeRecordSealed(envelope_id=state.envelope_id, tenant_id=state.tenant_id,
                                         outcome=state.status, certificate_sha256=certificate, sealed_at=now)]
        case RecordFiled(account_id=account_id, document_ids=document_ids, now=now):
            if state.filed_document_ids:
                return []
            return [SignedDocumentsFiled(envelope_id=state.envelope_id, tenant_id=state.tenant_id,
                                         account_id=account_id, document_ids=list(document_ids), filed_at=now)]
    raise TypeError(f"not an envelope command: {command!r}")


def _sign(state: Envelope, sign: Sign) -> list[IntegrationEvent]:
    recipient = state.recipient_of_link(sign.link_id)
    if recipient.status == "signed":
        return []  # the same signer again: their one signature stands
    recipient = acting_recipient(state, sign.link_id, sign.now)
    if recipient.consented_at is None:
        raise ConsentRequired("agree to sign electronically first")
    if any(state.current_sha256.get(h.document) != h.sha256_before for h in sign.hashes) or (
            {h.document for h in sign.hashes} != set(state.current_sha256)):
        raise DocumentChanged("another signer signed meanwhile: read the document again, then sign")
    values = check_values(state, recipient, sign.values) | server_values(state, recipient, sign.now)
    first = sign.hashes[0]
    events: list[IntegrationEvent] = [DocumentSigned(
        signature_request_id=state.envelope_id, tenant_id=state.tenant_id,
        document_id=state.documents[0].document_id or f"{state.envelope_id}/0", signer_id=recipient.recipient_id,
        signed_at=sign.now, document_sha256_before=first.sha256_before, document_sha256_after=first.sha256_after,
        link_id=sign.link_id, documents=list(sign.hashes), values=values, signature_method=sign.method,
        role=recipient.role, client_ip=sign.client.client_ip, user_agent=sign.client.user_agent,
        verification=state.verification)]
    still_to_act = [r for r in state.turn() if r.recipient_id != recipient.recipient_id]
    if not still_to_act:
        later = sorted({r.group for r in state.recipients if r.acts and r.group > state.group})
        if later:
            events.append(_turn(state, later[0], sign.now))
    return events


def acting_recipient(state: Envelope, link_id: str, now: datetime, *, allow_done: bool = False) -> Recipient:
    """The recipient of ``link_id`` if they may act now: the envelope is open and it is their group's turn."""
    recipient = state.recipient_of_link(link_id)
    if state.status == "sealing" or state.ended:
        raise EnvelopeEnded(f"this envelope is {_ending_word(state)}", status=state.status,
                            reason=state.end_reason)
    if now >= state.expires_at:
        raise EnvelopeEnded("this envelope expired", status="expired")
    if recipient.status == "waiting" or recipient.group != state.group:
        raise NotYourTurn("another recipient signs before you; you will get your link when it is your turn")
    if recipient.status == "declined" or (recipient.status == "signed" and not allow_done):
        raise EnvelopeEnded("you have acted on this envelope already", status=recipient.status)
    return recipient


def _ending_word(state: Envelope) -> str:
    return "complete" if state.status in ("sealing", "completed") else state.status


def _first_group(state: Envelope) -> int:
    return min(r.group for r in state.recipients if r.acts)


def _turn(state: Envelope, group: int, now: datetime) -> SigningTurnStarted:
    ids = [r.recipient_id for r in state.recipients if r.group == group and r.acts]
    return SigningTurnStarted(envelope_id=state.envelope_id, tenant_id=state.tenant_id, group=group,
                              recipient_ids=ids, until=state.expires_at, started_at=now, reminders=state.reminders)


# ---- evolve -----------------------------------------------------------------------------------------------


def evolve(state: Envelope | None, event: IntegrationEvent) -> Envelope:
    if isinstance(event, EnvelopeCreated):
        return Envelope(
            envelope_id=event.envelope_id, tenant_id=event.tenant_id, title=event.title, message=event.message,
            documents=tuple(event.documents), recipients=tuple(_recipient(r) for r in event.recipients),
            fields=tuple(event.fields), verification=event.verification, expires_at=event.expires_at,
            account_id=event.account_id, folder_id=event.folder_id,
            certificate_to_signers=event.certificate_to_signers, created_at=event.created_at,
            reminders=event.reminders,
            values={f.field_id: f.value for f in event.fields if f.recipient_id == SENDER and f.value},
            current_sha256={d.index: d.prepared_sha256 or d.sha256 for d in event.documents},
            trail=(TrailEntry(event.created_at, "created"),))
    assert state is not None, f"{type(event).__name__} before EnvelopeCreated"
    match event:
        case EnvelopeSent(sent_at=at):
            return replace(state, status="sent", sent_at=at, trail=(*state.trail, TrailEntry(at, "sent")))
        case SigningTurnStarted(group=group, recipient_ids=ids):
            recipients = tuple(replace(r, status="pending") if r.recipient_id in ids else r
                               for r in state.recipients)
            return replace(state, group=group, recipients=recipients)
        case RecipientLinkIssued(recipient_id=rid, link_id=link_id, issued_at=at):
            return replace(state, recipients=_changed(state, rid, link_id=link_id),
                           trail=(*state.trail, TrailEntry(at, "link_issued", rid)))
        case RecipientViewed(recipient_id=rid, viewed_at=at, client_ip=ip, user_agent=ua):
            return replace(state, trail=(*state.trail, TrailEntry(at, "viewed", rid, ip, ua)))
        case ConsentGiven(recipient_id=rid, consented_at=at, client_ip=ip, user_agent=ua, consent_version=v):
            return replace(state, recipients=_changed(state, rid, consented_at=at),
                           trail=(*state.trail, TrailEntry(at, "consented", rid, ip, ua, f"consent text {v}")))
        case DocumentSigned(signer_id=rid, signed_at=at) as signed:
            recipients = _changed(state, rid, status="signed", signed_at=at)
            values = {**state.values, **(signed.values or {})}
            hashes = {**state.current_sha256, **{h.document: h.sha256_after for h in signed.documents or ()}}
            everyone_signed = all(r.status == "signed" for r in recipients if r.acts)
            method = f"{signed.signature_method or 'typed'} signature; verified by " + (
                "link only" if (signed.verification or "none") == "none" else f"one-time code by {signed.verification}")
            return replace(state, recipients=recipients, values=values, current_sha256=hashes,
                           status="sealing" if everyone_signed else state.status,
                           trail=(*state.trail, TrailEntry(at, "signed", rid, signed.client_ip, signed.user_agent,
                                                           method)))
        case SigningDeclined(signer_id=rid, declined_at=at, reason=reason, client_ip=ip, user_agent=ua):
            return replace(state, recipients=_changed(state, rid, status="declined"), status="declined",
                           ended_at=at, end_reason=reason,
                           trail=(*state.trail, TrailEntry(at, "declined", rid, ip, ua, reason)))
        case EnvelopeVoided(voided_at=at, reason=reason):
            return replace(state, status="voided", ended_at=at, end_reason=reason,
                           trail=(*state.trail, TrailEntry(at, "voided", detail=reason)))
        case EnvelopeExpired(expired_at=at):
            return replace(state, status="expired", ended_at=at, trail=(*state.trail, TrailEntry(at, "expired")))
        case EnvelopeCompleted(completed_at=at, documents=documents, certificate_sha256=certificate,
                               seal_level=level):
            return replace(state, status="completed", ended_at=at, sealed=tuple(documents),
                           certificate_sha256=certificate, seal_level=level,
                           trail=(*state.trail, TrailEntry(at, "completed")))
        case EnvelopeRecordSealed(certificate_sha256=certificate):
            return replace(state, certificate_sha256=certificate)
        case SignedDocumentsFiled(document_ids=document_ids):
            return replace(state, filed_document_ids=tuple(document_ids))
    return state


def _recipient(r: EnvelopeRecipient) -> Recipient:
    return Recipient(recipient_id=r.recipient_id, name=r.name, email=r.email, phone=r.phone, language=r.language,
                     role=r.role, group=r.group)


def _changed(state: Envelope, recipient_id: str, **changes: object) -> tuple[Recipient, ...]:
    return tuple(replace(r, **changes) if r.recipient_id == recipient_id else r for r in state.recipients)


ENVELOPE: Decider[Envelope, Command] = Decider(decide=decide, evolve=evolve)


def routing_groups(routing: Literal["sequential", "parallel"] | None,
                   recipients: Sequence[tuple[RecipientRole, int | None]]) -> list[int]:
    """Each recipient's group: as given (numbered groups), else one each in order (sequential) or all in group 1
    (parallel). Copies join the last group: they receive the result, they do not wait anyone's turn."""
    if any(group is not None for _, group in recipients):
        return [group or 1 for _, group in recipients]
    if routing == "parallel":
        return [1 for _ in recipients]
    groups, next_group = [], 1
    for role, _ in recipients:
        groups.append(next_group)
        if role in SIGNER_ROLES:
            next_group += 1
    return [min(g, max(next_group - 1, 1)) for g in groups]


# ---- templates --------------------------------------------------------------------------------------------


def new_template_id() -> str:
    return f"tpl_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class Template:
    template_id: str
    tenant_id: str
    name: str
    title: str
    message: str | None
    documents: tuple[EnvelopeDocument, ...]
    roles: tuple[TemplateRole, ...]
    fields: tuple[EnvelopeField, ...]
    verification: Verification
    expires_in_days: int
    created_at: datetime
    deleted: bool = False

    def merge_fields(self) -> tuple[EnvelopeField, ...]:
        """The fields each envelope's sender fills in (a bulk send's CSV columns besides the roles')."""
        return tuple(f for f in self.fields if f.recipient_id == SENDER)


@dataclass(frozen=True)
class CreateTemplate:
    template: Template


@dataclass(frozen=True)
class DeleteTemplate:
    now: datetime


def check_template(template: Template) -> None:
    errors: list[str] = []
    if not template.name.strip() or not template.title.strip():
        errors.append("name and title: required")
    if not 1 <= len(template.documents) <= MAX_DOCUMENTS:
        errors.append(f"documents: 1 to {MAX_DOCUMENTS}")
    role_ids = [r.role_id for r in template.roles]
    if not role_ids or len(set(role_ids)) != len(role_ids) or SENDER in role_ids:
        errors.append('roles: at least one, each named once ("sender" is taken)')
    if not any(r.role in SIGNER_ROLES for r in template.roles):
        errors.append("roles: at least one signer or approver")
    if not 1 <= template.expires_in_days <= MAX_ENVELOPE_LIFETIME.days:
        errors.append("expires_in_days: 1 to 120")
    pages = {d.index: d.pages for d in template.documents}
    acting = {r.role_id for r in template.roles if r.role in SIGNER_ROLES}
    for f in template.fields:
        where = f"fields[{f.field_id}]"
        if f.recipient_id != SENDER and f.recipient_id not in acting:
            errors.append(f"{where}.role: a signer's or approver's role, or sender")
        if f.recipient_id == SENDER and f.kind not in SENDER_KINDS:
            errors.append(f"{where}: a sender's field is text or a number")
        if f.document not in pages or not 1 <= f.page <= pages[f.document]:
            errors.append(f"{where}: no such document or page")
    if errors:
        raise InvalidEnvelope("; ".join(errors[:20]), errors=errors)


def decide_template(state: Template | None, command: CreateTemplate | DeleteTemplate) -> list[IntegrationEvent]:
    match command:
        case CreateTemplate(template=t):
            if state is not None:
                return []
            check_template(t)
            return [TemplateCreated(
                template_id=t.template_id, tenant_id=t.tenant_id, template_name=t.name, title=t.title,
                message=t.message,
                documents=list(t.documents), roles=list(t.roles), fields=list(t.fields), verification=t.verification,
                expires_in_days=t.expires_in_days, created_at=t.created_at)]
        case DeleteTemplate(now=now):
            if state is None:
                raise NotFound("no such template")
            if state.deleted:
                return []
            return [TemplateDeleted(template_id=state.template_id, tenant_id=state.tenant_id, deleted_at=now)]
    raise TypeError(f"not a template command: {command!r}")


def evolve_template(state: Template | None, event: IntegrationEvent) -> Template:
    match event:
        case TemplateCreated() as e:
            return Template(template_id=e.template_id, tenant_id=e.tenant_id, name=e.template_name, title=e.title,
                            message=e.message, documents=tuple(e.documents), roles=tuple(e.roles),
                            fields=tuple(e.fields), verification=e.verification, expires_in_days=e.expires_in_days,
                            created_at=e.created_at)
        case TemplateDeleted():
            assert state is not None
            return replace(state, deleted=True)
    assert state is not None
    return state


TEMPLATE: Decider[Template, CreateTemplate | DeleteTemplate] = Decider(decide=decide_template, evolve=evolve_template)


# ---- a tenant's own seal ------------------------------------------------------------------------------------


def seal_stream(tenant_id: str) -> str:
    return f"seal:{tenant_id}"


@dataclass(frozen=True)
class TenantSeal:
    tenant_id: str
    fingerprint: str | None  # None: the platform's seal


@dataclass(frozen=True)
class ChangeSeal:
    """Seal with the tenant's certificate (its subject, fingerprint and expiry), or with the platform's (None)."""

    tenant_id: str
    subject: str | None
    fingerprint: str | None
    not_after: datetime | None
    now: datetime


def decide_seal(state: TenantSeal | None, command: ChangeSeal) -> list[IntegrationEvent]:
    if (state.fingerprint if state else None) == command.fingerprint:
        return []
    return [SealChanged(tenant_id=command.tenant_id, subject=command.subject, fingerprint=command.fingerprint,
                        not_after=command.not_after, changed_at=command.now)]


def evolve_seal(state: TenantSeal | None, event: IntegrationEvent) -> TenantSeal:
    assert isinstance(event, SealChanged)
    return TenantSeal(tenant_id=event.tenant_id, fingerprint=event.fingerprint)


SEAL: Decider[TenantSeal, ChangeSeal] = Decider(decide=decide_seal, evolve=evolve_seal)
