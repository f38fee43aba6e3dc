"""Events of the requests service (topic ``requests.events``).

The module is named ``requests_`` so that nothing here can shadow the well-known ``requests`` library.

A request's answers travel once, in ``ClientRequestCompleted`` (inline up to a size, else as a reference to the
staff API); while a recipient is still working, their answers are a draft the service keeps to itself
(docs/requests.md says why autosaves are not events).
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loginless.events.catalog import IntegrationEvent


class TemplateVersionSaved(IntegrationEvent, service="requests", version=1):
    """A questionnaire template's new version; a request sent with it keeps that version for good."""

    template_id: str
    tenant_id: str
    template_version: int
    title: str
    definition: dict[str, Any]  # sections, questions and conditions as staff wrote them (docs/requests.md)
    saved_at: datetime


class ContactAdded(IntegrationEvent, service="requests", version=1):
    """Someone on a client account's contact list (the client, their banker, their lawyer…), to send requests to."""

    contact_id: str
    tenant_id: str
    account_id: str
    contact_name: str | None = None  # not "name": IntegrationEvent reserves name, service and version
    email: str
    phone: str | None = None
    language: Literal["en", "es"] | None = None
    role: str | None = None
    added_at: datetime


class RequestRecipient(BaseModel):
    """Someone a request is for: the client or an associated third party, each with a link of their own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recipient_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: Literal["en", "es"] | None = None
    contact_id: str | None = None  # from the account's contact list, when given that way


class ClientRequestSent(IntegrationEvent, service="requests", version=1):
    client_request_id: str
    tenant_id: str
    require_login: bool
    sent_at: datetime
    account_id: str | None = None
    title: str | None = None
    template_id: str | None = None
    template_version: int | None = None
    message: str | None = None
    due_at: datetime | None = None
    recipients: list[RequestRecipient] | None = None
    verify_new_devices: bool = Field(
        False, description="A browser other than the one that gave the answers asks for a one-time code before it "
        "shows them")


class RequestLinkIssued(IntegrationEvent, service="requests", version=1):
    """A recipient's link exists at the links service (which e-mailed it); never its URL or token."""

    client_request_id: str
    tenant_id: str
    recipient_id: str
    link_id: str
    issued_at: datetime


class RequestOpened(IntegrationEvent, service="requests", version=1):
    """A recipient opened the request for the first time."""

    client_request_id: str
    tenant_id: str
    recipient_id: str
    link_id: str
    opened_at: datetime


class SubmittedFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    question_id: str
    file_id: str
    file_name: str
    content_type: str
    size: int
    sha256: str


class ClientRequestCompleted(IntegrationEvent, service="requests", version=1):
    """A recipient submitted their answers; ``respondent_email`` gets a receipt when given.

    ``answers`` holds the answers to the questions shown, by question id, unless they are larger than the service
    puts in an event: then ``answers`` is absent and ``answers_url`` is where the staff API serves them."""

    client_request_id: str
    tenant_id: str
    completed_at: datetime
    link_id: str | None = None
    title: str | None = None
    respondent_name: str | None = None
    respondent_email: str | None = None
    recipient_id: str | None = None
    answers: dict[str, Any] | None = None
    answers_url: str | None = None
    files: list[SubmittedFile] | None = None


class RequestSentBack(IntegrationEvent, service="requests", version=1):
    """Staff sent a recipient's submitted answers back for corrections, with a comment per answer."""

    client_request_id: str
    tenant_id: str
    recipient_id: str
    link_id: str | None = None
    comments: dict[str, str]
    message: str | None = None
    sent_back_at: datetime


class RequestCancelled(IntegrationEvent, service="requests", version=1):
    client_request_id: str
    tenant_id: str
    reason: str | None = None
    cancelled_at: datetime
