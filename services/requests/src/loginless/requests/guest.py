"""The guest's questionnaire, reached only through the gateway at ``/guest/…``.

The pages work without JavaScript: the questionnaire is one form, saved on the server with every press of a
button, which then decides which questions the answers show (and re-renders); the script only makes that live
(autosave, show and hide as the guest types) through the JSON endpoints under ``/guest/api``, which are also what
a second device resumes from. Every handler takes the gateway's assertion; the request is always the assertion's
resource and the recipient the one its link was issued to, whatever the path says.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field

from loginless.requests import definitions as defs
from loginless.requests import handlers, i18n
from loginless.requests.domain import ClientRequest, RequestClosed
from loginless.requests.handlers import AnswerConflict, DeviceNotVerified, GuestView, RequestsContext
from loginless.shared.errors import InvalidRequest, LoginlessError
from loginless.shared.eventstore import Cause
from loginless.shared.guest.i18n import N_, format_date, format_date_time, format_size, translations
from loginless.shared.guest.pages import NO_STORE, guest_asset_routes, service_page_context
from loginless.shared.guest.problems import GuestProblem, guest_problem
from loginless.shared.web.assertion import DEVICE_PROVEN_HEADER, GuestAssertion
from loginless.shared.web.context import correlation_id_of

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
MAX_FORM_BYTES = 2 * 1024 * 1024  # a form with a 1 MB answer reaches the checks, which name the field
UNNAMED_FIRM = N_("the firm")

CANCELLED = GuestProblem(
    title=N_("This request was cancelled"),
    explanation=N_("This request no longer takes answers."),
    next_step=N_("If you have questions, contact %(firm)s."),
    next_step_unbranded=N_("If you have questions, contact whoever sent you the link."),
)

Guest = NamedDependency[GuestAssertion]


class GuestPages:
    """What page handlers share: the application and the page context."""

    def __init__(self, ctx: RequestsContext) -> None:
        self.ctx = ctx

    async def context(self, request: Request, guest: GuestAssertion, **values: Any) -> dict[str, Any]:
        return service_page_context(request, recipient_language=guest.recipient.language,
                                    branding=await self.ctx.links.branding(guest.tenant_id),
                                    catalogs=i18n.CATALOGS, unnamed_firm=UNNAMED_FIRM, **values)


Pages = NamedDependency[GuestPages]


def error_page(error: LoginlessError, context: dict[str, Any]) -> Template:
    if isinstance(error, DeviceNotVerified):  # nothing of the answers: a page that offers the code
        return Template("verify_device.html", context=context, status_code=error.status_code, headers=NO_STORE)
    if isinstance(error, RequestClosed) and error.extra.get("reason") == "cancelled":
        problem = CANCELLED
    else:
        problem = guest_problem(error.problem_type, error.status_code)
    return Template("guest/error.html", context={**context, "problem": problem}, status_code=error.status_code,
                    headers=NO_STORE)


def proving(response: Response, request: ClientRequest, guest: GuestAssertion) -> Response:
    """The browser that gives a request's answers proves itself by giving them: on a request that asks new devices
    for a code, the gateway keeps that in its device cookie when it sees the header, so this browser is never
    asked. (Only the first answers get here from a browser not proven: later ones it must pass the code for.)"""
    if request.verify_new_devices and not guest.device_proven:
        response.headers[DEVICE_PROVEN_HEADER] = "1"
    return response


# ---- reading a form -----------------------------------------------------------------------------------------


def _typed(question: defs.Question, raw: Any) -> Any:
    """A form field's text as the answer's JSON type; text that is not of the type stays text, to be refused by
    the checks with the field's name."""
    if raw is None or isinstance(raw, UploadFile):
        return None
    text = str(raw).strip() if question.type not in ("long_text", "short_text") else str(raw)
    if text.strip() == "":
        return None
    if question.type == "number":
        try:
            return defs.to_number(text)
        except ArithmeticError:
            return text
    if question.type == "yes_no":
        return {"yes": True, "no": False}.get(text, text)
    if question.type == "currency":
        return text.replace(",", ".").replace(" ", "")
    return text


def answers_from_form(view: GuestView, form: Any) -> tuple[dict[str, Any], dict[str, int], str]:
    """The answers a posted page holds (only the questions it showed), the versions it showed them at, and the
    button pressed; adding or removing a group's item or a file is applied to the answers here."""
    action = str(form.get("action") or "save")
    answers: dict[str, Any] = {}
    versions: dict[str, int] = {}
    for question in view.definition.questions():
        qid = question.id
        if f"present.{qid}" not in form:
            continue
        if (version := form.get(f"v.{qid}")) and str(version).isdigit():
            versions[qid] = int(version)
        current = view.draft.get(qid)
        if question.type == "multiple_choice":
            answers[qid] = [str(v) for v in form.getall(f"q.{qid}", [])] or None
        elif question.type == "file":
            kept = [item for item in (current.value if current else None) or []
                    if not action == f"remove-file:{qid}:{item.get('file_id')}"]
            answers[qid] = kept or None
        elif question.type == "group":
            count = min(int(c) if (c := str(form.get(f"count.{qid}", "0"))).isdigit() else 0, question.max_items)
            items = [{inner.id: _typed(inner, form.get(f"g.{qid}.{index}.{inner.id}"))
                      for inner in question.questions or []} for index in range(count)]
            if action == f"add-item:{qid}" and len(items) < question.max_items:
                items.append({inner.id: None for inner in question.questions or []})
            elif action.startswith(f"remove-item:{qid}:"):
                index = action.rsplit(":", 1)[1]
                if index.isdigit() and int(index) < len(items):
                    items.pop(int(index))
            answers[qid] = items or None
        else:
            answers[qid] = _typed(question, form.get(f"q.{qid}"))
    # Only what changed is saved: an answer left as it was never conflicts with another device's.
    changed = {q: v for q, v in answers.items()
               if (view.draft[q].value if q in view.draft else None) != v}
    return changed, {q: versions[q] for q in changed if q in versions}, action


# ---- what a page shows ---------------------------------------------------------------------------------------


_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def translated(message: str, language: str) -> str:
    """An error message of the service in the guest's language; one with a number has it as ``%(n)s`` in the
    catalog (definitions._message)."""
    messages = translations(language, i18n.CATALOGS)
    if (number := _NUMBER.search(message)) is not None:
        template = message[:number.start()] + "%(n)s" + message[number.end():]
        if (words := messages.gettext(template)) != template:
            return words % {"n": number.group()}
    return messages.gettext(message)


def _in_language(errors: list[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    return [{**error, "message": translated(str(error.get("message", "")), language)} for error in errors]


def _errors_by_question(errors: list[dict[str, Any]]) -> dict[str, str]:
    by_question: dict[str, str] = {}
    for error in errors:
        parts = str(error.get("field", "")).split(".")
        if len(parts) >= 2:
            by_question.setdefault(parts[1], error.get("message", ""))
    return by_question


def shown_value(question: defs.Question, value: Any, language: str, files: dict[str, Any]) -> str:
    """An answer as the guest reads it back."""
    messages = translations(language, i18n.CATALOGS)
    if defs.is_blank(value):
        return ""
    if question.type == "yes_no":
        return messages.gettext(N_("Yes") if value else N_("No"))
    if question.type in defs.CHOICE_TYPES:
        labels = {o.value: o.label.in_(language) for o in question.options or []}
        values = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(v, str(v)) for v in values)
    if question.type == "file":
        return ", ".join(files[f].file_name if f in files else f for f in defs.file_ids(question, value))
    if question.type == "date" and defs.is_date(str(value)):
        return format_date(datetime.fromisoformat(str(value)).date(), language)
    return str(value)


def page_values(view: GuestView, language: str, errors: list[dict[str, Any]] | None = None,
                conflicts: dict[str, Any] | None = None) -> dict[str, Any]:
    errors = _in_language(errors or [], language)
    visible = view.visible
    values = view.values
    shown_required = [q for q in view.definition.questions() if q.id in visible and q.required]
    answered = [q for q in view.definition.questions() if q.id in visible and not defs.is_blank(values.get(q.id))]
    return {
        "view": view, "definition": view.definition, "visible": visible, "values": values,
        "versions": {q: a.version for q, a in view.draft.items()}, "files": view.files,
        "errors": errors or [], "error_at": _errors_by_question(errors or []), "conflicts": conflicts or {},
        "answered": len(answered), "total": sum(1 for q in view.definition.questions() if q.id in visible),
        "required_left": sum(1 for q in shown_required if defs.is_blank(values.get(q.id))),
        "comments": dict(view.recipient.comments), "show": lambda q, v: shown_value(q, v, language, view.files),
        "accept": lambda q: ",".join((q.files or defs.FileLimits()).types),
        "max_size": lambda q: format_size((q.files or defs.FileLimits()).max_size, language),
        "due": format_date_time(view.request.due_at, language) if view.request.due_at else None,
        "ui_schema": view.compiled.ui_schema,
    }


def _form_page(context: dict[str, Any], view: GuestView, *, status_code: int = 200,
               errors: list[dict[str, Any]] | None = None, conflicts: dict[str, Any] | None = None) -> Template:
    return Template("questionnaire.html", status_code=status_code, headers=NO_STORE,
                    context={**context, **page_values(view, context["lang"], errors, conflicts)})


# ---- the controller -----------------------------------------------------------------------------------------


class AnswersIn(BaseModel):
    answers: dict[str, Any] = Field(description="By question id; null or empty clears an answer")
    versions: dict[str, int] = Field(default_factory=dict, description="The version of each answer the guest edited")


class GuestController(Controller):
    path = "/guest"
    include_in_schema = False

    # ---- pages ----------------------------------------------------------------------------------------------

    @get(["/"], media_type=MediaType.HTML)
    async def questionnaire(self, request: Request, guest: Guest, guest_pages: Pages) -> Template:
        context = await guest_pages.context(request, guest)
        try:
            view = await handlers.guest_view(guest_pages.ctx, guest, cause=Cause(correlation_id_of(request)))
            view.request.check_answerable(view.recipient)
        except RequestClosed as closed:
            if closed.extra.get("reason") == "submitted":
                return self._submitted(context, view)
            return error_page(closed, context)
        except LoginlessError as error:
            return error_page(error, context)
        return _form_page(context, view)

    @post(["/"], media_type=MediaType.HTML, request_max_body_size=defs.MAX_FILE_SIZE * 2)
    async def save(self, request: Request, guest: Guest, guest_pages: Pages) -> Response:
        """A posted page: its answers saved (all or none), its files staged, then the page again -- or the review."""
        context = await guest_pages.context(request, guest)
        ctx = guest_pages.ctx
        try:
            view = await handlers.guest_view(ctx, guest)
            form = await request.form()
            changes, versions, action = answers_from_form(view, form)
            if changes:
                await handlers.save_answers(ctx, guest, changes, versions)
            gave_answers = bool(changes)
            errors = []
            for question in view.definition.questions():
                for upload in [u for u in form.getall(f"f.{question.id}", []) if isinstance(u, UploadFile)]:
                    content = await upload.read()
                    if not content and not upload.filename:
                        continue  # the file field left empty
                    try:
                        await handlers.upload_file(ctx, guest, question.id, name=upload.filename, content=content)
                        gave_answers = True
                    except InvalidRequest as refused:
                        errors.append({"field": f"answers.{question.id}", "message": "{}: {}".format(
                            upload.filename, translated(refused.detail, context["lang"]))})
        except InvalidRequest as invalid:
            view = await handlers.guest_view(ctx, guest)
            return _form_page(context, view, status_code=422, errors=invalid.extra.get("errors") or [
                {"field": invalid.extra.get("field", ""), "message": invalid.detail}])
        except AnswerConflict as conflict:
            view = await handlers.guest_view(ctx, guest)
            return _form_page(context, view, status_code=409, conflicts=conflict.extra.get("conflicts"))
        except LoginlessError as error:
            return error_page(error, context)
        view = await handlers.guest_view(ctx, guest)
        if errors:
            page: Response = _form_page(context, view, status_code=422, errors=errors)
        elif action == "review":
            page = Redirect(f"{context['prefix']}/review", status_code=303)
        else:
            anchor = action.split(":")[1] if ":" in action else ""
            page = Redirect(f"{context['prefix']}/" + (f"#q-{anchor}" if anchor else ""), status_code=303)
        return proving(page, view.request, guest) if gave_answers else page

    @get("/review", media_type=MediaType.HTML)
    async def review(self, request: Request, guest: Guest, guest_pages: Pages) -> Template:
        context = await guest_pages.context(request, guest)
        try:
            view = await handlers.guest_view(guest_pages.ctx, guest)
            view.request.check_answerable(view.recipient)
        except LoginlessError as error:
            return error_page(error, context)
        return self._review(context, view)

    def _review(self, context: dict[str, Any], view: GuestView, *, errors: list[dict[str, Any]] | None = None,
                status_code: int = 200) -> Template:
        return Template("review.html", status_code=status_code, headers=NO_STORE,
                        context={**context, **page_values(view, context["lang"], errors)})

    @post("/submit", media_type=MediaType.HTML)
    async def submit(self, request: Request, guest: Guest, guest_pages: Pages) -> Response:
        context = await guest_pages.context(request, guest)
        try:
            submitted = await handlers.submit(guest_pages.ctx, guest, cause=Cause(correlation_id_of(request)))
        except InvalidRequest as invalid:
            view = await handlers.guest_view(guest_pages.ctx, guest)
            return self._review(context, view, errors=invalid.extra.get("errors") or [], status_code=422)
        except LoginlessError as error:
            return error_page(error, context)
        return proving(Redirect(f"{context['prefix']}/", status_code=303), submitted, guest)

    def _submitted(self, context: dict[str, Any], view: GuestView) -> Template:
        return Template("submitted.html", headers=NO_STORE,
                        context={"copy": False, **context, **page_values(view, context["lang"]),
                                 "submitted_at": format_date_time(view.recipient.submitted_at, context["lang"])})

    @get("/copy", media_type=MediaType.HTML)
    async def copy(self, request: Request, guest: Guest, guest_pages: Pages) -> Response:
        """The guest's copy of what they submitted: the page on its own, as a file to keep (or print to PDF)."""
        context = await guest_pages.context(request, guest)
        try:
            view = await handlers.guest_view(guest_pages.ctx, guest)
        except LoginlessError as error:
            return error_page(error, context)
        if view.recipient.status != "submitted":
            return Redirect(f"{context['prefix']}/review", status_code=303)
        page = self._submitted({**context, "copy": True}, view)
        page.headers["Content-Disposition"] = f'attachment; filename="{view.request.client_request_id}.html"'
        return page

    # ---- the script's JSON endpoints (also a second device's resume) ----------------------------------------

    @get("/api/answers")
    async def answers(self, guest: Guest, guest_pages: Pages) -> Response[dict]:
        view = await handlers.guest_view(guest_pages.ctx, guest)
        return Response(_state(view), headers=NO_STORE)

    @post("/api/answers", status_code=200, request_max_body_size=MAX_FORM_BYTES)
    async def save_json(self, data: JSONBody[AnswersIn], guest: Guest, guest_pages: Pages) -> Response[dict]:
        """Autosave: the answers saved as given, all or none (422 names each refused one; 409 the answers another
        device changed meanwhile, as they now are)."""
        saved = await handlers.save_answers(guest_pages.ctx, guest, data.answers, data.versions)
        return proving(Response(_state(saved), headers=NO_STORE), saved.request, guest)

    @post("/api/files/{question_id:str}", status_code=201, request_max_body_size=defs.MAX_FILE_SIZE + 1)
    async def upload(self, request: Request, question_id: FromPath[str], guest: Guest, guest_pages: Pages,
                     name: FromQuery[str | None] = None) -> Response[dict]:
        """A file for a file question (the raw bytes are the body): staged, and added to the answer."""
        staged, version = await handlers.upload_file(guest_pages.ctx, guest, question_id, name=name,
                                                     content=await request.body())
        request_state, _ = await guest_pages.ctx.requests.load(staged.client_request_id)
        return proving(Response({"file_id": staged.file_id, "name": staged.file_name, "size": staged.size,
                                 "content_type": staged.content_type, "version": version}, status_code=201,
                                headers=NO_STORE), request_state, guest)

    @post("/api/submit", status_code=200)
    async def submit_json(self, request: Request, guest: Guest, guest_pages: Pages) -> Response[dict]:
        submitted = await handlers.submit(guest_pages.ctx, guest, cause=Cause(correlation_id_of(request)))
        return proving(Response(_state(await handlers.guest_view(guest_pages.ctx, guest)), headers=NO_STORE),
                       submitted, guest)


def _state(view: GuestView) -> dict[str, Any]:
    return {"status": view.recipient.status,
            "answers": {q: {"value": a.value, "version": a.version} for q, a in view.draft.items()},
            "visible": sorted(view.visible)}


ASSET_ROUTES = guest_asset_routes("/guest", static_directories=[STATIC_DIR], name="requests")
