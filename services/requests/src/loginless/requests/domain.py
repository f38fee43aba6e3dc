"""Questionnaire templates and client requests: commands, state, ``decide`` and ``evolve``; no I/O.

A template's stream holds its versions (``TemplateVersionSaved``); a request sent with one keeps that version for
good. A request's stream holds what happened to it as a whole and to each recipient: their link issued, their first
visit, their submission, a send-back for corrections, the request's cancellation. What a recipient types before
submitting is a draft (``drafts.py``), not an event: docs/requests.md says why.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from loginless.events import IntegrationEvent
from loginless.events.payloads.requests_ import (
    ClientRequestCompleted,
    ClientRequestSent,
    ContactAdded,
    RequestCancelled,
    RequestLinkIssued,
    RequestOpened,
    RequestRecipient,
    RequestSentBack,
    SubmittedFile,
    TemplateVersionSaved,
)
from loginless.requests.definitions import Definition
from loginless.shared.errors import InvalidRequest, LoginlessError, NotFound
from loginless.shared.eventstore.decider import Decider
from loginless.shared.guest.i18n import N_

MAX_RECIPIENTS = 20
RecipientStatus = Literal["pending", "sent", "opened", "submitted", "sent_back"]


class RequestClosed(LoginlessError):
    """The request takes no more answers: submitted (until sent back) or cancelled."""

    status_code = 409
    problem_type = "request-closed"
    title = "This request takes no more answers"


class NotSubmitted(LoginlessError):
    status_code = 409
    problem_type = "not-submitted"
    title = "Only submitted answers can be sent back"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


# ---- templates ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateVersion:
    version: int
    title: str
    definition: Mapping[str, Any]
    saved_at: datetime


@dataclass(frozen=True)
class Template:
    template_id: str
    tenant_id: str
    versions: tuple[TemplateVersion, ...] = ()

    @property
    def latest(self) -> TemplateVersion:
        return self.versions[-1]

    def version(self, number: int) -> TemplateVersion:
        if not 1 <= number <= len(self.versions):
            raise NotFound("no such version of this template", template_id=self.template_id, version=number)
        return self.versions[number - 1]


@dataclass(frozen=True)
class SaveTemplateVersion:
    template_id: str
    tenant_id: str
    title: str
    definition: Definition
    now: datetime


def decide_template(state: Template | None, command: SaveTemplateVersion) -> list[IntegrationEvent]:
    definition = command.definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    if state is not None and state.latest.definition == definition and state.latest.title == command.title:
        return []  # the same again: no new version
    return [TemplateVersionSaved(template_id=command.template_id, tenant_id=command.tenant_id,
                                 template_version=len(state.versions) + 1 if state else 1, title=command.title,
                                 definition=definition, saved_at=command.now)]


def evolve_template(state: Template | None, event: IntegrationEvent) -> Template:
    match event:
        case TemplateVersionSaved() as saved:
            template = state or Template(saved.template_id, saved.tenant_id)
            return replace(template, versions=(*template.versions, TemplateVersion(
                saved.template_version, saved.title, saved.definition, saved.saved_at)))
    raise AssertionError(f"unexpected event {type(event).__name__}")


TEMPLATE: Decider[Template, SaveTemplateVersion] = Decider(decide_template, evolve_template)


# ---- contacts -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    contact_id: str
    tenant_id: str
    account_id: str
    name: str | None
    email: str
    phone: str | None
    language: Literal["en", "es"] | None
    role: str | None


@dataclass(frozen=True)
class AddContact:
    contact: Contact
    now: datetime


def decide_contact(state: Contact | None, command: AddContact) -> list[IntegrationEvent]:
    if state is not None:
        return []
    c = command.contact
    return [ContactAdded(contact_id=c.contact_id, tenant_id=c.tenant_id, account_id=c.account_id,
                         contact_name=c.name, email=c.email, phone=c.phone, language=c.language, role=c.role,
                         added_at=command.now)]


def evolve_contact(state: Contact | None, event: IntegrationEvent) -> Contact:
    match event:
        case ContactAdded() as added:
            return Contact(added.contact_id, added.tenant_id, added.account_id, added.contact_name, added.email,
                           added.phone, added.language, added.role)
    raise AssertionError(f"unexpected event {type(event).__name__}")


CONTACT: Decider[Contact, AddContact] = Decider(decide_contact, evolve_contact)


# ---- requests -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    recipient_id: str
    name: str | None
    email: str | None
    phone: str | None
    language: Literal["en", "es"] | None
    contact_id: str | None = None
    link_id: str | None = None
    opened_at: datetime | None = None
    submitted_at: datetime | None = None
    sent_back_at: datetime | None = None
    comments: Mapping[str, str] = field(default_factory=dict)
    sent_back_message: str | None = None

    @property
    def status(self) -> RecipientStatus:
        if self.submitted_at is not None and (self.sent_back_at is None or self.submitted_at > self.sent_back_at):
            return "submitted"
        if self.sent_back_at is not None:
            return "sent_back"
        if self.opened_at is not None:
            return "opened"
        return "sent" if self.link_id is not None else "pending"


@dataclass(frozen=True)
class ClientRequest:
    client_request_id: str
    tenant_id: str
    account_id: str | None
    title: str
    template_id: str
    template_version: int
    require_login: bool
    message: str | None
    due_at: datetime | None
    sent_at: datetime
    recipients: tuple[Recipient, ...]
    cancelled_at: datetime | None = None
    verify_new_devices: bool = False  # a second browser passes a one-time code before it sees the answers

    def recipient(self, recipient_id: str) -> Recipient:
        for recipient in self.recipients:
            if recipient.recipient_id == recipient_id:
                return recipient
        raise NotFound("no such recipient of this request", recipient_id=recipient_id)

    def recipient_of_link(self, link_id: str) -> Recipient:
        for recipient in self.recipients:
            if recipient.link_id == link_id:
                return recipient
        raise NotFound("this link is not one of this request's")

    def still_to_issue(self) -> list[Recipient]:
        return [] if self.cancelled_at else [r for r in self.recipients if r.link_id is None]

    def check_answerable(self, recipient: Recipient) -> None:
        """Answers may be saved: the request is open and this recipient has not submitted (or was sent back)."""
        if self.cancelled_at is not None:
            raise RequestClosed(N_("this request was cancelled; it takes no more answers"),
                                client_request_id=self.client_request_id, reason="cancelled")
        if recipient.status == "submitted":
            raise RequestClosed(N_("these answers were submitted; they can no longer be changed"),
                                client_request_id=self.client_request_id, reason="submitted")


@dataclass(frozen=True)
class SendRequest:
    client_request_id: str
    tenant_id: str
    account_id: str | None
    template: Template
    template_version: int
    require_login: bool
    message: str | None
    due_at: datetime | None
    recipients: tuple[Recipient, ...]
    now: datetime
    verify_new_devices: bool = False


@dataclass(frozen=True)
class RecordLinkIssued:
    recipient_id: str
    link_id: str
    now: datetime


@dataclass(frozen=True)
class OpenRequest:
    link_id: str
    now: datetime


@dataclass(frozen=True)
class Submit:
    link_id: str
    answers: Mapping[str, Any]  # only the questions shown, checked against the definition by the handler
    files: tuple[SubmittedFile, ...]
    answers_inline: bool
    answers_url: str
    now: datetime


@dataclass(frozen=True)
class SendBack:
    recipient_id: str
    comments: Mapping[str, str]
    message: str | None
    now: datetime


@dataclass(frozen=True)
class Cancel:
    reason: str | None
    now: datetime


RequestCommand = SendRequest | RecordLinkIssued | OpenRequest | Submit | SendBack | Cancel


def decide_request(state: ClientRequest | None, command: RequestCommand) -> list[IntegrationEvent]:
    match command:
        case SendRequest() as send:
            if state is not None:
                return []
            if not 1 <= len(send.recipients) <= MAX_RECIPIENTS:
                raise InvalidRequest(f"a request goes to 1 to {MAX_RECIPIENTS} recipients", field="recipients")
            if send.due_at is not None and send.due_at <= send.now:
                raise InvalidRequest("the due date has passed", field="due_at")
            version = send.template.version(send.template_version)
            return [ClientRequestSent(
                client_request_id=send.client_request_id, tenant_id=send.tenant_id,
                require_login=send.require_login, sent_at=send.now, account_id=send.account_id, title=version.title,
                template_id=send.template.template_id, template_version=version.version, message=send.message,
                due_at=send.due_at, recipients=[RequestRecipient(
                    recipient_id=r.recipient_id, name=r.name, email=r.email, phone=r.phone, language=r.language,
                    contact_id=r.contact_id) for r in send.recipients],
                verify_new_devices=send.verify_new_devices)]
    if state is None:
        raise NotFound("no such request")
    match command:
        case RecordLinkIssued(recipient_id=recipient_id, link_id=link_id, now=now):
            if state.recipient(recipient_id).link_id is not None:
                return []
            return [RequestLinkIssued(client_request_id=state.client_request_id, tenant_id=state.tenant_id,
                                      recipient_id=recipient_id, link_id=link_id, issued_at=now)]
        case OpenRequest(link_id=link_id, now=now):
            recipient = state.recipient_of_link(link_id)
            if recipient.opened_at is not None:
                return []
            return [RequestOpened(client_request_id=state.client_request_id, tenant_id=state.tenant_id,
                                  recipient_id=recipient.recipient_id, link_id=link_id, opened_at=now)]
        case Submit() as submit:
            recipient = state.recipient_of_link(submit.link_id)
            state.check_answerable(recipient)
            return [ClientRequestCompleted(
                client_request_id=state.client_request_id, tenant_id=state.tenant_id, completed_at=submit.now,
                link_id=submit.link_id, title=state.title, respondent_name=recipient.name,
                respondent_email=recipient.email, recipient_id=recipient.recipient_id,
                answers=dict(submit.answers) if submit.answers_inline else None,
                answers_url=None if submit.answers_inline else submit.answers_url, files=list(submit.files))]
        case SendBack() as send_back:
            recipient = state.recipient(send_back.recipient_id)
            if state.cancelled_at is not None:
                raise RequestClosed("this request was cancelled", reason="cancelled")
            if recipient.status != "submitted":
                raise NotSubmitted("this recipient has not submitted answers to send back",
                                   recipient_id=recipient.recipient_id)
            return [RequestSentBack(client_request_id=state.client_request_id, tenant_id=state.tenant_id,
                                    recipient_id=recipient.recipient_id, link_id=recipient.link_id,
                                    comments=dict(send_back.comments), message=send_back.message,
                                    sent_back_at=send_back.now)]
        case Cancel(reason=reason, now=now):
            if state.cancelled_at is not None:
                return []
            return [RequestCancelled(client_request_id=state.client_request_id, tenant_id=state.tenant_id,
                                     reason=reason, cancelled_at=now)]
    raise AssertionError(f"unexpected command {type(command).__name__}")


def _with_recipient(state: ClientRequest, recipient_id: str, **changes: Any) -> ClientRequest:
    return replace(state, recipients=tuple(replace(r, **changes) if r.recipient_id == recipient_id else r
                                           for r in state.recipients))


def evolve_request(state: ClientRequest | None, event: IntegrationEvent) -> ClientRequest:
    match event:
        case ClientRequestSent() as sent:
            return ClientRequest(
                client_request_id=sent.client_request_id, tenant_id=sent.tenant_id, account_id=sent.account_id,
                title=sent.title or "", template_id=sent.template_id or "", template_version=sent.template_version or 1,
                require_login=sent.require_login, message=sent.message, due_at=sent.due_at, sent_at=sent.sent_at,
                recipients=tuple(Recipient(r.recipient_id, r.name, r.email, r.phone, r.language, r.contact_id)
                                 for r in sent.recipients or []), verify_new_devices=sent.verify_new_devices)
    assert state is not None
    match event:
        case RequestLinkIssued(recipient_id=recipient_id, link_id=link_id):
            return _with_recipient(state, recipient_id, link_id=link_id)
        case RequestOpened(recipient_id=recipient_id, opened_at=at):
            return _with_recipient(state, recipient_id, opened_at=at)
        case ClientRequestCompleted(recipient_id=recipient_id, completed_at=at) if recipient_id:
            return _with_recipient(state, recipient_id, submitted_at=at)
        case RequestSentBack(recipient_id=recipient_id, comments=comments, message=message, sent_back_at=at):
            return _with_recipient(state, recipient_id, sent_back_at=at, comments=comments,
                                   sent_back_message=message)
        case RequestCancelled(cancelled_at=at):
            return replace(state, cancelled_at=at)
    raise AssertionError(f"unexpected event {type(event).__name__}")


REQUEST: Decider[ClientRequest, RequestCommand] = Decider(decide_request, evolve_request)
