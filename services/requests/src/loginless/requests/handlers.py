"""The service layer: one async function per command or query.

A command runs through the kernel's decider runner (load the stream, decide, append, project, in one transaction,
retried on a lost race). What a guest types is a draft (``repository.save_draft``), saved in a transaction that
first takes the recipient's lock, as submission does: an answer saved while the same recipient submits on another
device either lands before the submission (and is judged with it) or finds the request submitted.

Links are issued after the request is recorded with its issuing job, at once and then by the worker until they all
exist (links replays an issue with the same key, so nothing is issued twice). Submitted files are filed into the
client's folder by the worker the same way, one job per file, idempotent by the file's id.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from loginless.documents import filetypes
from loginless.documents.client import DocumentsApi
from loginless.documents.domain import sanitize_display_name
from loginless.documents.ports import Scanner
from loginless.events.payloads.requests_ import SubmittedFile
from loginless.links.client import LinksApi
from loginless.links.views import IssueLinksIn, RecipientIn
from loginless.requests import definitions as defs
from loginless.requests import domain
from loginless.requests.domain import ClientRequest, Recipient, RequestClosed, Template
from loginless.requests.repository import AnswerChange, DraftAnswer, Repository, StagedFile
from loginless.requests.settings import RequestsSettings
from loginless.shared.blobs.store import BlobStore
from loginless.shared.clock import Clock, utc_now
from loginless.shared.errors import DependencyUnavailable, InvalidRequest, LoginlessError, NotFound
from loginless.shared.eventstore import Cause, DeciderRunner, EventStore, Outcome, Projections, database_errors
from loginless.shared.eventstore.jobs import Job, JobKind, Jobs
from loginless.shared.eventstore.migrations import advisory_key
from loginless.shared.eventstore.runner import retrying_on_conflict
from loginless.shared.guest.i18n import N_
from loginless.shared.web.assertion import GuestAssertion
from loginless.shared.web.idempotency import IdempotentRequests

log = structlog.get_logger(__name__)

ISSUE_LINKS = "issue-links"  # key: the request
FILE_DOCUMENT = "file-document"  # key: the staged file; payload: the account


DEVICE_NOT_VERIFIED = N_("this request holds answers already; to see them in this browser, confirm it is you with "
                         "a code sent to you")


class DeviceNotVerified(LoginlessError):
    """A browser that has not proven itself for the link, on a request that asks new devices for a one-time code
    once it holds answers (``verify_new_devices``)."""

    status_code = 403
    problem_type = "device-not-verified"
    title = "Confirm it is you to see the answers in this browser"


class AnswerConflict(LoginlessError):
    status_code = 409
    problem_type = "answer-conflict"
    title = "An answer was changed on another device"


@dataclass(frozen=True)
class Questionnaire:
    """A template's version ready to judge answers: what it says, parsed and compiled once."""

    version: domain.TemplateVersion
    definition: defs.Definition
    compiled: defs.Compiled


class Questionnaires:
    """Template versions never change once saved, so each process keeps the latest few it used, parsed and
    compiled, rather than reading, replaying and compiling a template on every autosave."""

    def __init__(self, runner: DeciderRunner[Template, domain.SaveTemplateVersion], *, size: int = 500) -> None:
        self._runner = runner
        self._size = size
        self._kept: OrderedDict[tuple[str, int], Questionnaire] = OrderedDict()

    async def get(self, template_id: str, version: int, connection: asyncpg.Connection | None = None,
                  ) -> Questionnaire:
        key = (template_id, version)
        if (kept := self._kept.get(key)) is not None:
            self._kept.move_to_end(key)
            return kept
        template, _ = await self._runner.load(template_id, connection)
        if template is None:
            raise NotFound("no such template")
        chosen = template.version(version)
        definition = _definition(chosen)
        kept = self._kept[key] = Questionnaire(chosen, definition, defs.compile_definition(definition))
        if len(self._kept) > self._size:
            self._kept.popitem(last=False)
        return kept


@dataclass(frozen=True)
class RequestsContext:
    """What every handler needs; built once per process by ``bootstrap``."""

    settings: RequestsSettings
    store: EventStore
    projections: Projections
    templates: DeciderRunner[Template, domain.SaveTemplateVersion]
    requests: DeciderRunner[ClientRequest, domain.RequestCommand]
    contacts: DeciderRunner[domain.Contact, domain.AddContact]
    repository: Repository
    links: LinksApi
    blobs: BlobStore
    scanner: Scanner
    documents: DocumentsApi
    jobs: Jobs
    idempotency: IdempotentRequests
    questionnaires: Questionnaires
    clock: Clock = utc_now

    @property
    def pool(self) -> asyncpg.Pool:
        return self.store.pool


def _scoped(tenant_id: str, missing: str):  # noqa: ANN202
    def check(state: object) -> None:
        if state is None or getattr(state, "tenant_id", None) != tenant_id:
            raise NotFound(missing)

    return check


async def _loaded(runner: DeciderRunner, stream_id: str, tenant_id: str, missing: str) -> Any:
    state, _ = await runner.load(stream_id)
    _scoped(tenant_id, missing)(state)
    return state


def _definition(version: domain.TemplateVersion) -> defs.Definition:
    return defs.Definition.model_validate(version.definition)


# ---- templates ------------------------------------------------------------------------------------------------


async def save_template(ctx: RequestsContext, tenant_id: str, *, template_id: str | None, title: str,
                        definition: Mapping[str, Any], cause: Cause) -> Template:
    """A new template, or a new version of one (a request already sent keeps the version it was sent with)."""
    try:
        parsed = defs.parse_definition(definition)
    except defs.InvalidDefinition as invalid:
        raise InvalidRequest("the questionnaire's definition is not valid", errors=invalid.errors) from None
    template_id = template_id or domain.new_id("tpl")

    def check(state: Template | None) -> None:
        if state is not None and state.tenant_id != tenant_id:
            raise NotFound("no such template")

    outcome = await ctx.templates.run(template_id, lambda: domain.SaveTemplateVersion(
        template_id, tenant_id, title, parsed, ctx.clock()), cause, check=check)
    return outcome.state


async def template(ctx: RequestsContext, tenant_id: str, template_id: str) -> Template:
    return await _loaded(ctx.templates, template_id, tenant_id, "no such template")


async def templates(ctx: RequestsContext, tenant_id: str, *, limit: int, after: str | None) -> list[asyncpg.Record]:
    async with database_errors():
        return await ctx.repository.template_versions(ctx.pool, tenant_id, limit=limit, after=after)


# ---- contacts ---------------------------------------------------------------------------------------------------


async def add_contact(ctx: RequestsContext, tenant_id: str, account_id: str, *, name: str | None, email: str,
                      phone: str | None, language: str | None, role: str | None, cause: Cause) -> domain.Contact:
    """Someone on the account's contact list: the client, or a third party requests can go to as well."""
    contact = domain.Contact(domain.new_id("con"), tenant_id, account_id, name, email, phone, language, role)
    outcome = await ctx.contacts.run(contact.contact_id, lambda: domain.AddContact(contact, ctx.clock()), cause)
    return outcome.state


async def contacts(ctx: RequestsContext, tenant_id: str, account_id: str, *, limit: int,
                   after: tuple[datetime, str] | None = None) -> list[asyncpg.Record]:
    async with database_errors():
        return await ctx.repository.contacts(ctx.pool, tenant_id, account_id, limit=limit, after=after)


async def contact_recipient(ctx: RequestsContext, tenant_id: str, account_id: str | None,
                            contact_id: str) -> Recipient:
    """A recipient from the account's contact list; a contact of another account (or tenant) is not found."""
    contact, _ = await ctx.contacts.load(contact_id) if contact_id.startswith("con_") else (None, 0)
    if contact is None or contact.tenant_id != tenant_id or contact.account_id != account_id:
        raise NotFound("no such contact of this account", contact_id=contact_id)
    return Recipient(domain.new_id("rcp"), contact.name, contact.email, contact.phone, contact.language,
                     contact_id=contact.contact_id)


# ---- sending a request --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    request: ClientRequest
    urls: dict[str, str]  # by recipient id: the links issued during the call (tokens, shown once)


def check_prefill(definition: defs.Definition, prefill: Mapping[str, Any], field: str) -> dict[str, Any]:
    """Known questions answered with values of the right shape (files cannot be prefilled)."""
    errors = []
    for question_id, value in prefill.items():
        question = definition.question(question_id)
        if question is None or question.type == "file":
            errors.append({"field": f"{field}.{question_id}", "message": N_("no such question to prefill")})
            continue
        errors += [{"field": e.field.replace("answers.", f"{field}.", 1), "message": e.message}
                   for e in defs.check_answer(question, value)]
    if errors:
        raise InvalidRequest("the prefilled answers are not valid", errors=errors)
    return {key: value for key, value in prefill.items() if not defs.is_blank(value)}


async def send_request(ctx: RequestsContext, tenant_id: str, *, template_id: str, template_version: int | None,
                       account_id: str | None, recipients: list[Recipient], require_login: bool,
                       verify_new_devices: bool = False,
                       message: str | None, due_at: datetime | None, prefill: Mapping[str, Any],
                       prefill_from_last: bool, cause: Cause) -> Sent:
    now = ctx.clock()
    chosen = await template(ctx, tenant_id, template_id)
    version = chosen.version(template_version or chosen.latest.version)
    definition = _definition(version)
    given = check_prefill(definition, prefill, "prefill")
    if (require_login or verify_new_devices) and any(not (r.email or r.phone) for r in recipients):
        raise InvalidRequest("with require_login, every recipient needs an e-mail address or a phone number for "
                             "their one-time code", field="recipients")
    if any(not r.email for r in recipients):
        raise InvalidRequest("every recipient needs an e-mail address (their link is sent there)",
                             field="recipients")
    request_id = domain.new_id("req")
    command = domain.SendRequest(
        client_request_id=request_id, tenant_id=tenant_id, account_id=account_id, template=chosen,
        template_version=version.version, require_login=require_login, verify_new_devices=verify_new_devices,
        message=message, due_at=due_at,
        recipients=tuple(recipients), now=now)

    async def seed(connection: asyncpg.Connection, outcome: Outcome[ClientRequest]) -> None:
        await ctx.jobs.queue(connection, ISSUE_LINKS, request_id, tenant_id=tenant_id)
        for recipient in outcome.state.recipients:
            answers = dict(given)
            if prefill_from_last:
                last = await ctx.repository.last_submission(connection, tenant_id, template_id=template_id,
                                                            account_id=account_id, email=recipient.email,
                                                            before=request_id)
                answers = {**_still_valid(definition, last or {}), **answers}
            await ctx.repository.save_draft(connection, tenant_id=tenant_id, request_id=request_id,
                                            recipient_id=recipient.recipient_id,
                                            changes=[AnswerChange(q, v, None) for q, v in answers.items()], now=now)

    recorded = await ctx.requests.run(request_id, command, cause, also=seed)
    urls: dict[str, str] = {}
    request = recorded.state
    try:
        request = await issue_links(ctx, request_id, cause=cause, urls=urls, request=request)
    except DependencyUnavailable as error:
        log.warning("links not all issued yet; the worker carries on", client_request_id=request_id,
                    error=error.detail)
        request, _ = await ctx.requests.load(request_id)
    return Sent(request, urls)


def _still_valid(definition: defs.Definition, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Last year's answers that this version still asks, in a shape it still takes (files stay behind)."""
    kept = {}
    for question_id, value in answers.items():
        question = definition.question(question_id)
        if question is not None and question.type != "file" and not defs.check_answer(question, value):
            kept[question_id] = value
    return kept


def link_lifetime(ctx: RequestsContext, request: ClientRequest) -> datetime:
    if request.due_at is not None:
        return request.due_at + timedelta(days=7)  # late answers are still welcome for a while
    return request.sent_at + timedelta(days=ctx.settings.default_lifetime_days)


async def issue_links(ctx: RequestsContext, request_id: str, *, cause: Cause, urls: dict[str, str] | None = None,
                      request: ClientRequest | None = None) -> ClientRequest:
    """Issue each missing recipient link, one at a time, and record it; the key of each issue is the request and
    the recipient, so a second run (the worker beside a request) gets the same link back from links."""
    if request is None:
        request, _ = await ctx.requests.load(request_id)
    urls = {} if urls is None else urls
    for recipient in request.still_to_issue():
        verification = ("sms" if recipient.phone and not recipient.email else "email") if request.require_login \
            else "none"
        issued = await ctx.links.issue(request.tenant_id, IssueLinksIn(
            action="request", resource_id=request_id, expires_at=link_lifetime(ctx, request),
            verification=verification, recipients=[RecipientIn(
                name=recipient.name, email=recipient.email, phone=recipient.phone, language=recipient.language,
                delivery="email")]), idempotency_key=f"{request_id}/{recipient.recipient_id}")
        [link] = issued.links
        urls[recipient.recipient_id] = link.url
        outcome = await ctx.requests.run(request_id, lambda r=recipient, link_id=link.link_id: domain.RecordLinkIssued(
            r.recipient_id, link_id, ctx.clock()), cause)
        request = outcome.state
    if not request.still_to_issue():
        await ctx.jobs.finish(ctx.pool, ISSUE_LINKS, request_id)
    return request


# ---- staff: reading, sending back, cancelling ---------------------------------------------------------------


async def client_request(ctx: RequestsContext, tenant_id: str, request_id: str) -> ClientRequest:
    return await _loaded(ctx.requests, request_id, tenant_id, "no such request")


async def client_requests(ctx: RequestsContext, tenant_id: str, *, template_id: str | None, limit: int,
                          after: str | None) -> list[asyncpg.Record]:
    async with database_errors():
        return await ctx.repository.client_requests(ctx.pool, tenant_id, template_id=template_id, limit=limit,
                                                    after=after)


@dataclass(frozen=True)
class RecipientAnswers:
    recipient: Recipient
    draft: dict[str, DraftAnswer]
    submitted: dict[str, Any] | None
    visible: set[str]
    definition: defs.Definition


async def answers(ctx: RequestsContext, tenant_id: str, request_id: str) -> tuple[ClientRequest,
                                                                                     list[RecipientAnswers]]:
    """Each recipient's answers: those in progress (the draft) and the last submitted."""
    request = await client_request(ctx, tenant_id, request_id)
    version = (await template(ctx, tenant_id, request.template_id)).version(request.template_version)
    definition = _definition(version)
    compiled = defs.compile_definition(definition)
    result = []
    async with database_errors():
        for recipient in request.recipients:
            draft = await ctx.repository.draft(ctx.pool, request_id, recipient.recipient_id)
            submitted = await ctx.repository.submission(ctx.pool, request_id, recipient.recipient_id)
            values = {q: a.value for q, a in draft.items()}
            result.append(RecipientAnswers(recipient, draft, submitted,
                                           defs.visible_elements(compiled.ui_schema, values), definition))
    return request, result


async def send_back(ctx: RequestsContext, tenant_id: str, request_id: str, recipient_id: str, *,
                    comments: Mapping[str, str], message: str | None, cause: Cause) -> ClientRequest:
    """Reopen a recipient's submitted answers for corrections, a comment per answer; their link is e-mailed
    again so they know."""
    request = await client_request(ctx, tenant_id, request_id)
    definition = _definition((await template(ctx, tenant_id, request.template_id)).version(request.template_version))
    unknown = [q for q in comments if definition.question(q) is None]
    if unknown:
        raise InvalidRequest("comments name questions this request does not ask",
                             errors=[{"field": f"comments.{q}", "message": "no such question"} for q in unknown])
    outcome = await ctx.requests.run(request_id, lambda: domain.SendBack(recipient_id, dict(comments), message,
                                                                         ctx.clock()),
                                     cause, check=_scoped(tenant_id, "no such request"))
    link_id = outcome.state.recipient(recipient_id).link_id
    if link_id:
        try:
            await ctx.links.resend(tenant_id, link_id)
        except LoginlessError as error:  # the page says it anyway; the mail is a courtesy
            log.warning("could not send the link again after a send-back", link_id=link_id, error=error.detail)
    return outcome.state


async def cancel(ctx: RequestsContext, tenant_id: str, request_id: str, *, reason: str | None,
                 cause: Cause) -> ClientRequest:
    """Cancel the request: its pages refuse at once; its links are revoked at links as far as it answers."""
    outcome = await ctx.requests.run(request_id, lambda: domain.Cancel(reason, ctx.clock()), cause,
                                     check=_scoped(tenant_id, "no such request"))
    await ctx.jobs.finish(ctx.pool, ISSUE_LINKS, request_id)
    for recipient in outcome.state.recipients:
        if recipient.link_id:
            try:
                await ctx.links.revoke(tenant_id, recipient.link_id)
            except LoginlessError as error:  # the request refuses guests whatever links says
                log.warning("link not revoked at links", link_id=recipient.link_id, error=error.detail)
    return outcome.state


async def export_csv(ctx: RequestsContext, tenant_id: str, template_id: str) -> str:
    """Every submitted answer to the template, one row per recipient, one column per question of its latest
    version (older versions' answers fill the columns they share)."""
    latest = _definition((await template(ctx, tenant_id, template_id)).latest)
    async with database_errors():
        rows = await ctx.repository.submissions_of_template(ctx.pool, tenant_id, template_id)
    questions = list(latest.questions())
    submitted = [json.loads(row["answers"]) for row in rows]
    file_ids = [file_id for given in submitted for q in questions if q.type == "file"
                for file_id in defs.file_ids(q, given.get(q.id))]
    async with database_errors():
        names = await ctx.repository.file_names(ctx.pool, tenant_id, file_ids) if file_ids else {}

    def shown(question: defs.Question, value: Any) -> str:
        if question.type == "file":  # the names the guest gave the files, not the service's ids
            return "; ".join(names.get(file_id, file_id) for file_id in defs.file_ids(question, value))
        return _flat(value)

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["client_request_id", "recipient_id", "name", "email", "submitted_at", "template_version",
                     *[q.id for q in questions]])
    for row, given in zip(rows, submitted, strict=True):
        writer.writerow([row["client_request_id"], row["recipient_id"], _cell(row["name"]), _cell(row["email"]),
                         row["submitted_at"].isoformat(), row["template_version"],
                         *[_cell(shown(q, given.get(q.id))) for q in questions]])
    return out.getvalue()


def _flat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "; ".join(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _cell(value: str | None) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP's CSV injection advice)."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# ---- guests ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuestView:
    request: ClientRequest
    recipient: Recipient
    version: domain.TemplateVersion
    definition: defs.Definition
    compiled: defs.Compiled
    draft: dict[str, DraftAnswer]
    files: dict[str, StagedFile]

    @property
    def values(self) -> dict[str, Any]:
        return {question_id: answer.value for question_id, answer in self.draft.items()}

    @property
    def visible(self) -> set[str]:
        return defs.visible_elements(self.compiled.ui_schema, self.values)


def _guests(request: ClientRequest | None, guest: GuestAssertion) -> tuple[ClientRequest, Recipient]:
    """The request the guest's link is for, and the recipient it was issued to."""
    if request is None or request.tenant_id != guest.tenant_id or guest.action != "request":
        raise NotFound("no such request")
    return request, request.recipient_of_link(guest.link_id)


async def guest_view(ctx: RequestsContext, guest: GuestAssertion, *, cause: Cause | None = None) -> GuestView:
    """The request as the guest's link shows it; the first visit is recorded (``RequestOpened``)."""
    async with database_errors():
        request, _ = await ctx.requests.load(guest.resource_id)
    request, recipient = _guests(request, guest)
    if cause is not None and recipient.opened_at is None and request.cancelled_at is None:
        outcome = await ctx.requests.run(request.client_request_id,
                                         lambda: domain.OpenRequest(guest.link_id, ctx.clock()), cause)
        request, recipient = outcome.state, outcome.state.recipient_of_link(guest.link_id)
    async with database_errors(), ctx.pool.acquire() as connection:
        questionnaire = await ctx.questionnaires.get(request.template_id, request.template_version, connection)
        draft = await ctx.repository.draft(connection, request.client_request_id, recipient.recipient_id)
        files = await ctx.repository.staged_files(connection, request.client_request_id, recipient.recipient_id)
    if must_prove_device(request, guest) and holds_answers(request, recipient, draft):
        raise DeviceNotVerified(DEVICE_NOT_VERIFIED)
    return GuestView(request, recipient, questionnaire.version, questionnaire.definition, questionnaire.compiled,
                     draft, files)


def must_prove_device(request: ClientRequest, guest: GuestAssertion) -> bool:
    """Whether this browser is still to prove itself: the request asks new devices for a one-time code, and the
    gateway says this one has neither passed one for the link nor given its first answers."""
    return request.verify_new_devices and not guest.device_proven


def holds_answers(request: ClientRequest, recipient: Recipient, draft: Mapping[str, DraftAnswer]) -> bool:
    """Whether the recipient has given answers: saved after the request was sent (what the firm prefilled was
    saved with the sending, and is no answer of theirs), or submitted."""
    return recipient.status in ("submitted", "sent_back") or any(a.saved_at > request.sent_at for a in draft.values())


def check_changes(view: GuestView, changes: Mapping[str, Any]) -> list[dict[str, str]]:
    """What is wrong with answers a guest saves: unknown questions, wrong shapes, files not theirs."""
    errors: list[dict[str, str]] = []
    for question_id, value in changes.items():
        question = view.definition.question(question_id)
        if question is None:
            errors.append({"field": f"answers.{question_id}", "message": N_("this request asks no such question")})
            continue
        errors += [e.as_dict() for e in defs.check_answer(question, value)]
        for file_id in defs.file_ids(question, value):
            staged = view.files.get(file_id)
            if staged is None or staged.question_id != question_id:
                errors.append({"field": f"answers.{question_id}", "message": N_("no such file was uploaded here")})
    return errors



@asynccontextmanager
async def link_locked(ctx: RequestsContext, request_id: str, link_id: str) -> AsyncIterator[asyncpg.Connection]:
    """A transaction holding the lock of one recipient's link: their saves and their submission take turns."""
    async with ctx.store.transaction() as connection:
        await connection.execute("SELECT pg_advisory_xact_lock($1)", advisory_key("requests", request_id, link_id))
        yield connection


async def _answerable(ctx: RequestsContext, connection: asyncpg.Connection, view: GuestView) -> ClientRequest:
    request, _ = await ctx.requests.load(view.request.client_request_id, connection)
    request.check_answerable(request.recipient(view.recipient.recipient_id))
    return request


async def save_answers(ctx: RequestsContext, guest: GuestAssertion, changes: Mapping[str, Any],
                       versions: Mapping[str, int] | None = None) -> GuestView:
    """Save a guest's answers as given -- all of them or, when one is refused, none. ``versions`` are those the
    guest edited: an answer saved meanwhile from another device is not overwritten (:class:`AnswerConflict`,
    with the answer as it now is); answers to other questions never conflict. Returns the guest's view as it
    now is.

    The most frequent write of the service (autosave), so it is short: the request read (its events) and the
    answers judged against their questions, then one statement that takes the recipient's lock, checks the
    request still takes answers and each answer's version, and writes them (``repository.save_answers``). A save
    racing a submission from another device is judged before it, or finds the request submitted."""
    versions = versions or {}
    now = ctx.clock()
    async with database_errors(), ctx.pool.acquire() as connection:
        request, _ = await ctx.requests.load(guest.resource_id, connection)
        request, recipient = _guests(request, guest)
        request.check_answerable(recipient)
        if must_prove_device(request, guest) and recipient.status == "sent_back":  # answered, if only by prefill
            raise DeviceNotVerified(DEVICE_NOT_VERIFIED)
        questionnaire = await ctx.questionnaires.get(request.template_id, request.template_version, connection)
        request_id, recipient_id = request.client_request_id, recipient.recipient_id
        asks_files = any((q := questionnaire.definition.question(question_id)) is not None and q.type == "file"
                         for question_id in changes)
        files = await ctx.repository.staged_files(connection, request_id, recipient_id) if asks_files else {}
        view = GuestView(request, recipient, questionnaire.version, questionnaire.definition, questionnaire.compiled,
                         {}, files)
        if errors := check_changes(view, changes):
            raise InvalidRequest("some answers are not valid; nothing was saved", errors=errors)
        saved = await ctx.repository.save_answers(
            connection, tenant_id=request.tenant_id, request_id=request_id, recipient_id=recipient_id,
            lock_key=advisory_key("requests", request_id, guest.link_id), now=now,
            changes=[AnswerChange(q, None if defs.is_blank(v) else v, versions.get(q)) for q, v in changes.items()],
            unanswered_since=request.sent_at if must_prove_device(request, guest) else None)
        if saved.outcome in ("submitted", "cancelled"):  # since the events were read: say so as they do
            request, _ = await ctx.requests.load(request_id, connection)
            request.check_answerable(request.recipient(recipient_id))
    if saved.outcome == "conflict":
        raise AnswerConflict(
            "an answer was changed on another device since this page showed it; nothing was saved",
            conflicts={q: {"value": a.value, "version": a.version} for q, a in saved.answers.items()})
    if saved.outcome == "answered":
        raise DeviceNotVerified(DEVICE_NOT_VERIFIED)
    if saved.outcome != "draft":
        raise RequestClosed(N_("this request takes no more answers"), client_request_id=request_id)
    return replace(view, draft=saved.answers)


async def upload_file(ctx: RequestsContext, guest: GuestAssertion, question_id: str, *, name: str | None,
                      content: bytes, declared_type: str | None = None) -> tuple[StagedFile, int]:
    """Stage a file for a file question: its limits checked, its type judged from its bytes, scanned, stored in
    the service's own bucket, and added to the answer. Returns the file and the answer's new version."""
    view = await guest_view(ctx, guest)
    view.request.check_answerable(view.recipient)
    question = view.definition.question(question_id)
    if question is None or question.type != "file":
        raise InvalidRequest(N_("this request asks for no file here"), field=f"answers.{question_id}")
    limits = question.files or defs.FileLimits()
    field = f"answers.{question_id}"
    current = view.draft.get(question_id)
    already = defs.file_ids(question, current.value if current else None)
    if len(already) >= limits.max_files:
        raise InvalidRequest(N_("at most %(n)s files here") % {"n": limits.max_files}, field=field)
    if len(content) > limits.max_size:
        raise InvalidRequest(N_("the file is larger than %(n)s bytes") % {"n": limits.max_size}, field=field,
                             max_size=limits.max_size)
    if not content:
        raise InvalidRequest(N_("the file is empty"), field=field)
    file_type = filetypes.sniff(content[:filetypes.SNIFF_BYTES], name=name or "")
    if file_type.executable or not filetypes.type_allowed(file_type.mime, limits.types):
        raise InvalidRequest(N_("this question does not take files of this type"), field=field,
                             allowed=limits.types)
    verdict = await ctx.scanner.scan(content_type=file_type.mime, size=len(content), read=_reader(content))
    if not verdict.clean:
        raise InvalidRequest(N_("the file was refused by the virus scan"), field=field)
    request_id, recipient_id = view.request.client_request_id, view.recipient.recipient_id
    file_id = domain.new_id("fil")
    key = f"tenants/{view.request.tenant_id}/{request_id}/{recipient_id}/{file_id}"
    stored = await ctx.blobs.put(key, io.BytesIO(content), content_type=file_type.mime, length=len(content))
    staged = StagedFile(file_id=file_id, tenant_id=view.request.tenant_id, client_request_id=request_id,
                        recipient_id=recipient_id, question_id=question_id, object_key=key,
                        file_name=sanitize_display_name(name, fallback="file"), content_type=file_type.mime,
                        size=stored.size, sha256=stored.sha256, scan="clean")
    async with database_errors(), link_locked(ctx, request_id, guest.link_id) as connection:
        request = await _answerable(ctx, connection, view)
        draft = await ctx.repository.draft(connection, request_id, recipient_id)
        if must_prove_device(request, guest) and holds_answers(request, request.recipient(recipient_id), draft):
            raise DeviceNotVerified(DEVICE_NOT_VERIFIED)  # answers came from elsewhere while this one was sent
        await ctx.repository.stage_file(connection, staged, ctx.clock())
        value = [*(draft[question_id].value or [] if question_id in draft else []), {"file_id": file_id}]
        if len(value) > limits.max_files:
            raise InvalidRequest(N_("at most %(n)s files here") % {"n": limits.max_files}, field=field)
        versions, _ = await ctx.repository.save_draft(
            connection, tenant_id=view.request.tenant_id, request_id=request_id, recipient_id=recipient_id,
            changes=[AnswerChange(question_id, value, None)], now=ctx.clock())
    return staged, versions[question_id]


def _reader(content: bytes):  # noqa: ANN202
    async def read() -> AsyncIterator[bytes]:
        yield content

    return read


@dataclass(frozen=True)
class Submission:
    answers: dict[str, Any]
    files: list[StagedFile]


def judge_submission(view: GuestView) -> Submission:
    """The answers to the questions shown, every one of them checked and every required one present; answers to
    hidden questions are left out. :class:`InvalidRequest` names every problem."""
    visible = view.visible
    values = view.values
    answers = {q: v for q, v in values.items() if q in visible and not defs.is_blank(v)}
    errors = check_changes(view, answers)
    errors += [e.as_dict() for e in defs.missing_required(view.definition, answers, visible)]
    if errors:
        raise InvalidRequest("the answers cannot be submitted yet", errors=errors)
    files = [view.files[file_id] for question_id, value in answers.items()
             for file_id in defs.file_ids(view.definition.question(question_id), value)]
    return Submission(answers, files)


async def submit(ctx: RequestsContext, guest: GuestAssertion, *, cause: Cause) -> ClientRequest:
    """Submit: the answers shown are judged and recorded (``ClientRequestCompleted``), the hidden ones dropped
    from the draft, and the files queued for filing into the client's folder."""
    view = await guest_view(ctx, guest)
    view.request.check_answerable(view.recipient)
    request_id, recipient_id = view.request.client_request_id, view.recipient.recipient_id

    async def attempt() -> ClientRequest:
        async with database_errors(), link_locked(ctx, request_id, guest.link_id) as connection:
            fresh = GuestView(view.request, view.recipient, view.version, view.definition, view.compiled,
                              await ctx.repository.draft(connection, request_id, recipient_id),
                              await ctx.repository.staged_files(connection, request_id, recipient_id))
            judged = judge_submission(fresh)
            inline = len(json.dumps(judged.answers)) <= ctx.settings.answers_in_event_limit
            now = ctx.clock()
            outcome = await ctx.requests.run_in(connection, request_id, domain.Submit(
                link_id=guest.link_id, answers=judged.answers, answers_inline=inline,
                answers_url=f"/v1/requests/{request_id}/answers",
                files=tuple(SubmittedFile(question_id=f.question_id, file_id=f.file_id, file_name=f.file_name,
                                          content_type=f.content_type, size=f.size, sha256=f.sha256)
                            for f in judged.files), now=now), cause)
            await ctx.repository.save_submission(connection, tenant_id=view.request.tenant_id, request_id=request_id,
                                                 recipient_id=recipient_id, answers=judged.answers, now=now)
            dropped = [q for q in fresh.draft if q not in judged.answers]
            if dropped:
                await connection.execute(
                    f"DELETE FROM {ctx.repository.s}.drafts WHERE client_request_id = $1 AND recipient_id = $2"
                    " AND question_id = ANY($3)", request_id, recipient_id, dropped)
            file_ids = [f.file_id for f in judged.files]
            await ctx.repository.mark_submitted(connection, file_ids)
            if view.request.account_id and file_ids:
                for file_id in file_ids:
                    await ctx.jobs.queue(connection, FILE_DOCUMENT, file_id, tenant_id=view.request.tenant_id,
                                         payload={"account_id": view.request.account_id})
            return outcome.state

    request = await retrying_on_conflict(attempt)
    log.info("request answered", client_request_id=request_id, recipient_id=recipient_id)
    return request


# ---- the worker ---------------------------------------------------------------------------------------------


def job_kinds(ctx: RequestsContext) -> list[JobKind]:
    """The worker's jobs: links still to issue for a request, submitted files still to file with documents.
    Both are retried while the other service is down; a refusal is logged and the job dropped (a link links
    refuses for good, or an account documents does not know, needs staff, not another try)."""

    async def issue(job: Job) -> None:
        await issue_links(ctx, job.key, cause=Cause(f"issue:{job.key}"))

    async def file(job: Job) -> None:
        await file_with_documents(ctx, job.key, job.tenant_id, job.payload["account_id"])

    settings = ctx.settings
    return [JobKind(ISSUE_LINKS, issue, retry_seconds=settings.job_retry_seconds),
            JobKind(FILE_DOCUMENT, file, retry_seconds=settings.job_retry_seconds)]


async def work_through_jobs(ctx: RequestsContext) -> int:
    return await ctx.jobs.work_through(job_kinds(ctx), now=ctx.clock())


async def file_with_documents(ctx: RequestsContext, file_id: str, tenant_id: str, account_id: str) -> str:
    """File one submitted file into the client's account; idempotent by the file's id, so a retry after a lost
    answer files it once. The staged copy goes once documents holds it."""
    staged = await ctx.repository.staged_file(ctx.pool, file_id)
    if staged is None:
        raise NotFound("the staged file is gone", file_id=file_id)
    if staged.document_id is not None:
        return staged.document_id
    content = b"".join([chunk async for chunk in ctx.blobs.read_chunks(staged.object_key)])
    document = await ctx.documents.file(tenant_id, account_id=account_id, folder_id=None, name=staged.file_name,
                                        content=content, idempotency_key=f"requests/{file_id}")
    await ctx.repository.filed(ctx.pool, file_id, document.document_id)
    await ctx.blobs.delete(staged.object_key)
    log.info("file filed with documents", file_id=file_id, document_id=document.document_id)
    return document.document_id


async def remove_abandoned(ctx: RequestsContext, *, batch: int = 200) -> tuple[int, int]:
    """Drafts untouched past the retention, and staged files never submitted: removed (objects first)."""
    older_than = ctx.clock() - timedelta(days=ctx.settings.draft_retention_days)
    removed_files = 0
    while files := await ctx.repository.abandoned_files(ctx.pool, older_than, batch):
        await asyncio.gather(*(ctx.blobs.delete(f.object_key) for f in files))
        await ctx.repository.forget_files(ctx.pool, [f.file_id for f in files])
        removed_files += len(files)
        if len(files) < batch:
            break
    return await ctx.repository.forget_old_drafts(ctx.pool, older_than), removed_files
