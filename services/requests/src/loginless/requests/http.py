"""The staff API (``/v1``): questionnaire templates and the requests sent with them, of the caller's tenant.

Controllers only translate: HTTP to calls of ``handlers`` and their answers back to wire models. Rows of another
tenant are simply not found (404). Every creating POST honours ``Idempotency-Key`` (the kernel's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from pydantic import BaseModel, Field, model_validator

from loginless.requests import domain, handlers
from loginless.requests.domain import ClientRequest, Recipient, Template
from loginless.requests.handlers import RequestsContext
from loginless.shared.web.auth import StaffPrincipal
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
Requests: TypeAlias = NamedDependency[RequestsContext]
PathId: TypeAlias = FromPath[str]


# ---- wire models ----------------------------------------------------------------------------------------


class TemplateIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    definition: dict[str, Any] = Field(description="Sections, questions and conditions (docs/requests.md)")


class TemplateOut(BaseModel):
    template_id: str
    version: int
    title: str
    definition: dict[str, Any]
    saved_at: datetime
    data_schema: dict[str, Any] = Field(description="The JSON Schema each answer is checked against")
    ui_schema: dict[str, Any] = Field(description="Sections and the rules that show them, as the page judges them")

    @classmethod
    def of(cls, template: Template, version: int | None = None) -> TemplateOut:
        chosen = template.version(version) if version else template.latest
        compiled = handlers.defs.compile_definition(handlers._definition(chosen))
        return cls(template_id=template.template_id, version=chosen.version, title=chosen.title,
                   definition=dict(chosen.definition), saved_at=chosen.saved_at, data_schema=compiled.data_schema,
                   ui_schema=compiled.ui_schema)


EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
E164 = r"^\+[1-9][0-9]{6,14}$"


class ContactIn(BaseModel):
    name: str | None = Field(None, max_length=200)
    email: str = Field(max_length=254, pattern=EMAIL)
    phone: str | None = Field(None, max_length=30, pattern=E164)
    language: Literal["en", "es"] | None = None
    role: str | None = Field(None, max_length=100, description="client, banker, lawyer, bookkeeper…")


class ContactOut(ContactIn):
    contact_id: str
    account_id: str


class RecipientIn(BaseModel):
    """Someone from the account's contact list (``contact_id``), or anyone, by address."""

    contact_id: str | None = Field(None, max_length=100)
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254, pattern=EMAIL)
    phone: str | None = Field(None, max_length=30, pattern=E164,
                              description="E.164; with require_login the code may go here by SMS")
    language: Literal["en", "es"] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> RecipientIn:
        if (self.contact_id is None) == (self.email is None):
            raise ValueError("give a contact_id or an email")
        return self


class NewRequest(BaseModel):
    template_id: str
    template_version: int | None = Field(None, ge=1, description="Absent: the template's latest version")
    account_id: str | None = Field(None, max_length=100, description="The client account at documents; submitted "
                                   "files are filed into it")
    recipients: list[RecipientIn] = Field(min_length=1, max_length=domain.MAX_RECIPIENTS,
                                          description="The client and associated third parties: a link each")
    require_login: bool = Field(True, description="On: a one-time code to the recipient's e-mail (or phone) before "
                                "the request opens. Off: the link alone opens it")
    verify_new_devices: bool = Field(
        False, description="On: once the recipient has given answers, a browser that has not proven itself for "
        "the link (the one that gave them, or one that passed a code) gets a one-time code to the recipient's "
        "e-mail (or phone) before it shows them, so a forwarded link does not reveal them. Off: the link alone "
        "shows them on any device")
    message: str | None = Field(None, max_length=5000)
    due_at: datetime | None = None
    prefill: dict[str, Any] = Field(default_factory=dict, description="Answers the firm already knows, by question id")
    prefill_from_last: bool = Field(False, description="Also prefill each recipient's last submitted answers to "
                                    "this template for the same account (last year's)")


class RecipientOut(BaseModel):
    recipient_id: str
    name: str | None
    email: str | None
    phone: str | None
    language: str | None
    link_id: str | None
    status: domain.RecipientStatus
    opened_at: datetime | None
    submitted_at: datetime | None
    sent_back_at: datetime | None
    comments: dict[str, str]
    url: str | None = Field(None, description="Holds the link's token: in the creating answer only, never stored")


class RequestOut(BaseModel):
    client_request_id: str
    template_id: str
    template_version: int
    title: str
    account_id: str | None
    require_login: bool
    verify_new_devices: bool
    message: str | None
    due_at: datetime | None
    sent_at: datetime
    status: Literal["pending", "open", "completed", "cancelled"]
    cancelled_at: datetime | None
    recipients: list[RecipientOut]

    @classmethod
    def of(cls, request: ClientRequest, urls: dict[str, str] | None = None) -> RequestOut:
        urls = urls or {}
        statuses = {r.status for r in request.recipients}
        status = ("cancelled" if request.cancelled_at else "pending" if "pending" in statuses
                  else "completed" if statuses == {"submitted"} else "open")
        return cls(
            client_request_id=request.client_request_id, template_id=request.template_id,
            template_version=request.template_version, title=request.title, account_id=request.account_id,
            require_login=request.require_login, verify_new_devices=request.verify_new_devices,
            message=request.message, due_at=request.due_at, sent_at=request.sent_at, status=status,
            cancelled_at=request.cancelled_at,
            recipients=[RecipientOut(
                recipient_id=r.recipient_id, name=r.name, email=r.email, phone=r.phone, language=r.language,
                link_id=r.link_id, status=r.status, opened_at=r.opened_at, submitted_at=r.submitted_at,
                sent_back_at=r.sent_back_at, comments=dict(r.comments), url=urls.get(r.recipient_id))
                for r in request.recipients])


class SendBackIn(BaseModel):
    comments: dict[str, Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        min_length=1, description="A comment per answer to correct, by question id")
    message: str | None = Field(None, max_length=5000)


class CancelIn(BaseModel):
    reason: str | None = Field(None, max_length=1000)


def _without_urls(answer: Answer) -> Answer:
    """What a replay gets: link URLs carry tokens, which are never stored here (recipients have them by e-mail)."""
    body = {**answer.body, "recipients": [{**r, "url": None} for r in answer.body.get("recipients", [])]}
    return Answer(answer.status_code, body)


# ---- controllers ----------------------------------------------------------------------------------------


class TemplatesController(Controller):
    path = "/v1/templates"
    tags = ["templates"]

    @post("/")
    async def create(self, request: Request, data: JSONBody[TemplateIn], staff: Staff, requests: Requests,
                     idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """A questionnaire template (version 1). Its definition is checked when saved: 422 names what is wrong."""
        async def work() -> Answer:
            template = await handlers.save_template(requests, staff.tenant_id, template_id=None, title=data.title,
                                                    definition=data.definition, cause=cause_of(request))
            return Answer(201, TemplateOut.of(template).model_dump(mode="json"))

        return (await requests.idempotency.run(tenant_id=staff.tenant_id, operation="create-template",
                                               key=idempotency_key, request=data.model_dump(mode="json"),
                                               work=work)).response()

    @post("/{template_id:str}/versions")
    async def new_version(self, request: Request, template_id: PathId, data: JSONBody[TemplateIn], staff: Staff,
                          requests: Requests, idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """A new version; requests already sent keep theirs. The same definition again makes no new version."""
        await handlers.template(requests, staff.tenant_id, template_id)

        async def work() -> Answer:
            template = await handlers.save_template(requests, staff.tenant_id, template_id=template_id,
                                                    title=data.title, definition=data.definition,
                                                    cause=cause_of(request))
            return Answer(201, TemplateOut.of(template).model_dump(mode="json"))

        return (await requests.idempotency.run(tenant_id=staff.tenant_id, operation="template-version",
                                               key=idempotency_key, request=[template_id, data.model_dump()],
                                               work=work)).response()

    @get("/")
    async def list(self, staff: Staff, requests: Requests, after: FromQuery[str | None] = None,
                   cursor: PageCursor = None, limit: PageLimit = PAGE_LIMIT_DEFAULT) -> dict:
        rows = await handlers.templates(requests, staff.tenant_id, limit=limit + 1,
                                        after=after_key(cursor, after))
        rows, next_cursor = page(rows, limit, key=lambda row: (row["template_id"],))
        items = [{"template_id": r["template_id"], "version": r["template_version"], "title": r["title"],
                  "saved_at": r["saved_at"].isoformat()} for r in rows]
        return {"templates": items, "next": items[-1]["template_id"] if next_cursor else None,
                "next_cursor": next_cursor}

    @get("/{template_id:str}")
    async def get_one(self, template_id: PathId, staff: Staff, requests: Requests,
                      version: Annotated[int | None, QueryParameter(ge=1)] = None) -> TemplateOut:
        return TemplateOut.of(await handlers.template(requests, staff.tenant_id, template_id), version)

    @get("/{template_id:str}/answers.csv", media_type="text/csv")
    async def export(self, template_id: PathId, staff: Staff, requests: Requests) -> Response[str]:
        """Every submitted answer to the template: a row per recipient, a column per question."""
        body = await handlers.export_csv(requests, staff.tenant_id, template_id)
        return Response(body, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{template_id}-answers.csv"',
            "Cache-Control": "private, no-store"})


class RequestsController(Controller):
    path = "/v1/requests"
    tags = ["requests"]

    @post("/", responses=problem_responses({404: "The template or the account it names does not exist for this "
                                                 "tenant"}))
    async def send(self, request: Request, data: JSONBody[NewRequest], staff: Staff, requests: Requests,
                   idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Send a questionnaire: each recipient gets a link of their own by e-mail (from the links service). 201
        with the links; 202 while links cannot answer (the worker issues them, recipients get them by e-mail)."""
        async def work() -> Answer:
            recipients = [
                await handlers.contact_recipient(requests, staff.tenant_id, data.account_id, r.contact_id)
                if r.contact_id else Recipient(domain.new_id("rcp"), r.name, r.email, r.phone, r.language)
                for r in data.recipients]
            sent = await handlers.send_request(
                requests, staff.tenant_id, template_id=data.template_id, template_version=data.template_version,
                account_id=data.account_id, recipients=recipients,
                require_login=data.require_login, verify_new_devices=data.verify_new_devices, message=data.message,
                due_at=data.due_at, prefill=data.prefill,
                prefill_from_last=data.prefill_from_last, cause=cause_of(request))
            body = RequestOut.of(sent.request, sent.urls)
            return Answer(202 if body.status == "pending" else 201, body.model_dump(mode="json"))

        return (await requests.idempotency.run(tenant_id=staff.tenant_id, operation="send-request",
                                               key=idempotency_key, request=data.model_dump(mode="json"),
                                               work=work, remember=_without_urls)).response()

    @get("/")
    async def list(self, staff: Staff, requests: Requests, template_id: FromQuery[str | None] = None,
                   after: FromQuery[str | None] = None, cursor: PageCursor = None,
                   limit: PageLimit = PAGE_LIMIT_DEFAULT) -> dict:
        rows = await handlers.client_requests(requests, staff.tenant_id, template_id=template_id, limit=limit + 1,
                                              after=after_key(cursor, after))
        rows, next_cursor = page(rows, limit, key=lambda row: (row["client_request_id"],))
        items = [{"client_request_id": r["client_request_id"], "template_id": r["template_id"],
                  "template_version": r["template_version"], "title": r["title"], "account_id": r["account_id"],
                  "sent_at": r["sent_at"].isoformat(),
                  "cancelled_at": r["cancelled_at"].isoformat() if r["cancelled_at"] else None} for r in rows]
        return {"requests": items, "next": items[-1]["client_request_id"] if next_cursor else None,
                "next_cursor": next_cursor}

    @get("/{request_id:str}")
    async def get_one(self, request_id: PathId, staff: Staff, requests: Requests) -> RequestOut:
        return RequestOut.of(await handlers.client_request(requests, staff.tenant_id, request_id))

    @get("/{request_id:str}/answers")
    async def answers(self, request_id: PathId, staff: Staff, requests: Requests) -> dict:
        """Each recipient's answers: ``submitted`` (the last submission) and ``in_progress`` (the draft, with each
        answer's version and time, and whether its question is shown now)."""
        client_request, per_recipient = await handlers.answers(requests, staff.tenant_id, request_id)
        return {"client_request_id": client_request.client_request_id, "recipients": [{
            "recipient_id": a.recipient.recipient_id, "name": a.recipient.name, "email": a.recipient.email,
            "status": a.recipient.status, "submitted_at": a.recipient.submitted_at, "submitted": a.submitted,
            "comments": dict(a.recipient.comments),
            "in_progress": {q: {"value": d.value, "version": d.version, "saved_at": d.saved_at,
                                "shown": q in a.visible} for q, d in a.draft.items()},
        } for a in per_recipient]}

    @post("/{request_id:str}/recipients/{recipient_id:str}/send-back", status_code=200)
    async def send_back(self, request: Request, request_id: PathId, recipient_id: PathId,
                        data: JSONBody[SendBackIn], staff: Staff, requests: Requests) -> RequestOut:
        """Reopen a recipient's submitted answers for corrections, with a comment per answer."""
        return RequestOut.of(await handlers.send_back(requests, staff.tenant_id, request_id, recipient_id,
                                                      comments=data.comments, message=data.message,
                                                      cause=cause_of(request)))

    @post("/{request_id:str}/cancel", status_code=200)
    async def cancel(self, request: Request, request_id: PathId, staff: Staff, requests: Requests,
                     data: JSONBody[CancelIn | None] = None) -> RequestOut:
        """Cancel: the recipients' pages refuse at once and their links are revoked."""
        return RequestOut.of(await handlers.cancel(requests, staff.tenant_id, request_id,
                                                   reason=data.reason if data else None, cause=cause_of(request)))


class ContactsController(Controller):
    path = "/v1/accounts/{account_id:str}/contacts"
    tags = ["contacts"]

    @post("/")
    async def add(self, request: Request, account_id: PathId, data: JSONBody[ContactIn], staff: Staff,
                  requests: Requests, idempotency_key: IdempotencyKey = None) -> Response[dict]:
        """Add someone to a client account's contact list (the account lives at documents; its id is enough)."""
        async def work() -> Answer:
            contact = await handlers.add_contact(requests, staff.tenant_id, account_id, name=data.name,
                                                 email=data.email, phone=data.phone, language=data.language,
                                                 role=data.role, cause=cause_of(request))
            return Answer(201, ContactOut(contact_id=contact.contact_id, account_id=account_id,
                                          **data.model_dump()).model_dump(mode="json"))

        return (await requests.idempotency.run(tenant_id=staff.tenant_id, operation="add-contact",
                                               key=idempotency_key, request=[account_id, data.model_dump()],
                                               work=work)).response()

    @get("/")
    async def list(self, account_id: PathId, staff: Staff, requests: Requests, cursor: PageCursor = None,
                   limit: PageLimit = PAGE_LIMIT_DEFAULT) -> dict:
        after = decode_cursor(cursor, parts=2)
        rows = await handlers.contacts(requests, staff.tenant_id, account_id, limit=limit + 1,
                                       after=(cursor_time(after[0]), after[1]) if after else None)
        rows, next_cursor = page(rows, limit, key=lambda row: (row["added_at"].isoformat(), row["contact_id"]))
        return {"contacts": [ContactOut(contact_id=r["contact_id"], account_id=r["account_id"], name=r["name"],
                                        email=r["email"], phone=r["phone"], language=r["language"],
                                        role=r["role"]).model_dump(mode="json") for r in rows],
                "next_cursor": next_cursor}


STAFF_CONTROLLERS = [TemplatesController, RequestsController, ContactsController]
