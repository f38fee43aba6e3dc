"""The gateway's routes: opening a link, verifying the recipient, and the guest pages of the owning services.

``GET /l/{token}`` (seen here as :data:`REDACTED_LINK_PATH`, see ``edge.py``) swaps a valid token for a cookie
scoped to ``/g/{link_id}/`` and moves the browser there (after a click, ``POST /l/{token}``, for a link with a
use limit); ``/g/{link_id}/verify`` asks for a one-time code when the
link wants one; everything else under ``/g/{link_id}/`` is proxied to the service that owns the link's action.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated

import httpx
import structlog
from litestar import Controller, HttpMethod, MediaType, Request, Response, get, post, route
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.params import Body, FromPath
from litestar.response import Redirect
from litestar.types import ASGIApp
from prometheus_client import Counter

from loginless.gateway.admission import Refusal, Refused, admit, device_proven, link_if_open
from loginless.gateway.admission import guest_pass as find_guest_pass
from loginless.gateway.edge import REDACTED_LINK_PATH, TOKEN_STATE_KEY
from loginless.gateway.guest_cookie import LINK_ID_PATTERN, Grant, guest_path
from loginless.gateway.pages import (
    ASSET_PREFIX,
    language_chosen_by_guest,
    mask_email,
    mask_phone,
    render_page,
    render_problem,
)
from loginless.gateway.proxy import UpstreamUnavailable
from loginless.gateway.proxy_lane import UPSTREAM_FAILED_STATE_KEY
from loginless.gateway.rate_limit import INVALID_TOKEN_ATTEMPTS, RATE_LIMITED
from loginless.gateway.read_model import LinkFacts, LinkState
from loginless.gateway.runtime import GatewayRuntime
from loginless.links.client import (
    LinkGone,
    LinkNotFound,
    LinksUnavailable,
    VerificationCodeTooSoon,
    VerificationLocked,
    WrongVerificationCode,
)
from loginless.links.views import ClientIn, LinkView
from loginless.shared.eventstore import DATABASE_UNAVAILABLE
from loginless.shared.guest.address import client_address
from loginless.shared.guest.pages import guest_asset_routes
from loginless.shared.guest.problems import (
    LINK_GONE,
    LINK_NOT_FOUND,
    NO_ACCESS,
    TOO_MANY_REQUESTS,
    UNAVAILABLE,
    VERIFICATION_LOCKED,
)
from loginless.shared.web.context import correlation_id_of

log = structlog.get_logger(__name__)

STATIC = Path(__file__).parent / "static"
# The links service hands out 256-bit tokens as 43 base64url characters; anything else cannot be one.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
CODE_PATTERN = re.compile(r"^[0-9]{6}$")

LINK_OPENINGS = Counter("loginless_gateway_link_openings_total", "Visits of /l/{token}, by outcome", ["outcome"])


# ---- shared steps -------------------------------------------------------------------------------------------


def _client_address(request: Request, gateway: GatewayRuntime) -> str:
    return client_address(request.scope, trusted_proxy_hops=gateway.settings.trusted_proxy_hops)


def _client_info(request: Request, gateway: GatewayRuntime) -> ClientIn:
    return ClientIn(client_ip=_client_address(request, gateway),
                      user_agent=request.headers.get("user-agent", "")[:512])


def _request_id() -> str:
    return str(structlog.contextvars.get_contextvars().get("request_id", ""))


async def _remember(gateway: GatewayRuntime, view: LinkView) -> None:
    """Put what links just told us into the read model; the read model is only a cache here, so failing is fine."""
    try:
        await gateway.link_states.merge(LinkFacts.from_view(view))
    except DATABASE_UNAVAILABLE as error:
        log.warning("could not update the link read model", link_id=view.link_id, error=type(error).__name__)


def _not_found_page(request: Request) -> Response:
    """Never branded: a link that does not work must not tell whose it might have been."""
    return render_problem(request, LINK_NOT_FOUND, status_code=404)


def _unavailable_page(request: Request) -> Response:
    return render_problem(request, UNAVAILABLE, status_code=503, headers={"Retry-After": "30"})


def _access_denied_page(request: Request) -> Response:
    return render_problem(request, NO_ACCESS, status_code=403)


async def _gone_page(request: Request, gateway: GatewayRuntime, *, tenant_id: str | None, reason: str,
                     expired_on: datetime | None = None, recipient_language: str | None = None,
                     cookies: list[Cookie] | None = None) -> Response:
    branding = await gateway.links.branding(tenant_id) if tenant_id else None
    return render_problem(request, LINK_GONE, status_code=410, template="link_gone.html", branding=branding,
                          recipient_language=recipient_language, reason=reason, expired_on=expired_on,
                          cookies=cookies or [])


async def _closed_link_page(request: Request, gateway: GatewayRuntime, link: LinkState, reason: str) -> Response:
    """The 410 page for a guest inside a link that was revoked or expired. The cookie stays: it opens nothing any
    more, and with it every later request (a reload, the page's own assets) gets this page again rather than a
    bare "access denied" once the first of them had cleared it."""
    expired_on = link.expires_at if reason == "expired" else None
    return await _gone_page(request, gateway, tenant_id=link.tenant_id, reason=reason, expired_on=expired_on,
                            recipient_language=link.recipient_language)


async def _recipient_language(gateway: GatewayRuntime, link_id: str | None) -> str | None:
    """The recipient's language as the read model knows it, for a page about a link links would not open; only a
    nicety, so an unreachable database leaves it to the guest's browser."""
    if link_id is None:
        return None
    try:
        link = await gateway.link_states.get(link_id)
    except DATABASE_UNAVAILABLE:
        return None
    return link.recipient_language if link is not None else None


async def _open_link(request: Request, gateway: GatewayRuntime, link_id: str) -> LinkState | Response:
    """The link if a guest holding its cookie may go on; otherwise the page that says why not (404, 410, 503)."""
    link = await link_if_open(gateway, link_id)
    if isinstance(link, Refused):
        return await _refusal_page(request, gateway, link)
    return link


async def _refusal_page(request: Request, gateway: GatewayRuntime, refused: Refused) -> Response:
    """The page, or redirect, that tells a guest why their request does not go through."""
    link_id = refused.link.link_id if refused.link else request.path_params.get("link_id", "")
    match refused.refusal:
        case Refusal.ADD_SLASH:
            query = request.scope.get("query_string", b"").decode("latin-1")
            return Redirect(guest_path(link_id) + (f"?{query}" if query else ""), status_code=308)
        case Refusal.NO_PASS if _arrived_from_another_site(request):
            return _returning_page(request, link_id)
        case Refusal.NO_PASS:
            return _access_denied_page(request)
        case Refusal.UNAVAILABLE:
            return _unavailable_page(request)
        case Refusal.CLOSED if refused.link is not None and refused.reason:
            log.info("link closed; guest turned away", link_id=link_id, reason=refused.reason)
            return await _closed_link_page(request, gateway, refused.link, refused.reason)
        case Refusal.VERIFY_FIRST:
            return Redirect(f"{guest_path(link_id)}verify", status_code=303)
        case Refusal.NO_ROUTE:
            log.error("no route for the link's action; check GATEWAY_ROUTES", link_id=link_id,
                      action=refused.link.action if refused.link else None)
            return _unavailable_page(request)
    return _not_found_page(request)


def _arrived_from_another_site(request: Request) -> bool:
    """A top-level page load that another site started: a guest coming back from a payment provider's page, say.

    The browser withholds the SameSite=Strict cookie from it, whoever the guest is. Only a GET of a document, so
    forms and scripts from other sites stay refused, as SameSite=Lax would have it."""
    headers = request.headers
    return (request.method == "GET" and headers.get("sec-fetch-site") == "cross-site"
            and headers.get("sec-fetch-mode") == "navigate" and headers.get("sec-fetch-dest") == "document")


def _returning_page(request: Request, link_id: str) -> Response:
    """200 with a same-site step to the very same address, on which the browser sends the guest's cookie. A
    browser that then still has none is refused as usual: that request is same-site, so this page is not shown
    twice."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    target = raw_path.decode("latin-1") + (f"?{query}" if query else "")
    if not target.startswith(guest_path(link_id)):  # never a step to anywhere but this link's own pages
        return _access_denied_page(request)
    return render_page(request, "entering.html", status_code=200, target=target, language_switcher=False)


def _access_cookie(gateway: GatewayRuntime, view: LinkView, grant: Grant = Grant.ACCESS) -> Cookie:
    settings = gateway.settings
    lifetime = settings.guest_session_max_seconds if grant is Grant.ACCESS else settings.verification_session_seconds
    return gateway.cookies.issue(view.link_id, grant, now=gateway.wall_clock(), lifetime_seconds=lifetime)


def _device_cookie(gateway: GatewayRuntime, link_id: str) -> Cookie:
    """The browser's proof, once a code passed in it, that it is the recipient's (guest_cookie.Grant.DEVICE)."""
    return gateway.cookies.issue(link_id, Grant.DEVICE, now=gateway.wall_clock(),
                                 lifetime_seconds=gateway.settings.device_proof_seconds)


async def _entering_page(request: Request, gateway: GatewayRuntime, view: LinkView, grant: Grant) -> Response:
    """200, not a redirect: a SameSite=Strict cookie is not sent along a redirect chain that a click in a mail
    client started, but it is on the same-site navigation this page makes (meta refresh, or the link in it)."""
    cookie = _access_cookie(gateway, view, grant)
    target = guest_path(view.link_id) + ("verify" if grant is Grant.VERIFY else "")
    return render_page(request, "entering.html", status_code=200, cookies=[cookie], target=target,
                       branding=await gateway.links.branding(view.tenant_id),
                       recipient_language=view.recipient.language, language_switcher=False)


# ---- /l/{token} -------------------------------------------------------------------------------------------


async def _invalid_token_page(request: Request, gateway: GatewayRuntime, address: str, reason: str) -> Response:
    """The same page for a malformed and an unknown token: it must not tell them apart. An address that failed
    too often gets 429 instead, for failures only (``rate_limit.py``)."""
    INVALID_TOKEN_ATTEMPTS.labels(reason).inc()
    log.info("invalid link token", reason=reason)
    try:
        retry_after = await gateway.invalid_tokens.record_failure(address)
    except DATABASE_UNAVAILABLE as error:  # not counted this once: the guest still learns the link is unknown
        log.warning("invalid link token not counted", error=repr(error))
        retry_after = None
    if retry_after is not None:
        RATE_LIMITED.inc()
        LINK_OPENINGS.labels("rate_limited").inc()
        log.info("link opening refused: too many invalid tokens from this address")
        return render_problem(request, TOO_MANY_REQUESTS, status_code=429, template="rate_limited.html",
                              headers={"Retry-After": str(retry_after)}, minutes=math.ceil(retry_after / 60))
    LINK_OPENINGS.labels("invalid").inc()
    return _not_found_page(request)


def pages(descriptions: dict[int, str]) -> dict[int, ResponseSpec]:
    """OpenAPI entries for what a guest route answers, by status code: pages (redirects have no body)."""
    return {code: ResponseSpec(None if 300 <= code < 400 else str, description=text, generate_examples=False,
                               media_type=MediaType.TEXT if code == 308 else MediaType.HTML)
            for code, text in descriptions.items()}


# What a link that cannot be followed answers, wherever it is followed.
LINK_REFUSED = {404: "Unknown or malformed token: the same page for both", 410: "The link expired, was revoked or "
                "was used up", 429: "Too many invalid tokens from this address; Retry-After says when to come back",
                503: "links cannot be asked right now"}
GUEST_REFUSED = {403: "No cookie for this link (it must be opened through its URL first)",
                 404: "Not a link id", 410: "The link expired, was revoked or was used up",
                 503: "The link's state or the owning service cannot be reached right now"}
VERIFY_REFUSED = {**GUEST_REFUSED, 303: "Verified already, or the code was sent: on to the next page",
                  423: "Too many wrong codes: codes are refused until a pause ends (Retry-After, and the page says "
                       "in how many minutes)"}


def refine_openapi(document: dict) -> None:
    """``/l/{token}`` is routed as :data:`REDACTED_LINK_PATH` (the token never reaches routing): document the
    URL guests open. A guest page's ``{path}`` is the rest of the URL, slashes and all, not a URI of its own."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "path" and parameter.get("name") == "path":
                    parameter["schema"].pop("format", None)
                    parameter["description"] = "The page's path at the service that owns the link's action"
    item = document.get("paths", {}).pop(REDACTED_LINK_PATH, None)
    if item is None:
        return
    token = {"name": "token", "in": "path", "required": True, "description": "The link's token, as in its URL",
             "schema": {"type": "string"}}
    for operation in item.values():
        if isinstance(operation, dict) and "responses" in operation:
            operation["parameters"] = [token, *operation.get("parameters", [])]
    document["paths"]["/l/{token}"] = item


@get(REDACTED_LINK_PATH, name="open-link", summary="Open a link: the token is swapped for a cookie",
     responses=pages({200: "The page that moves the guest on to /g/{link_id}/ (or asks for a click, for a link "
                           "with a use limit)", **LINK_REFUSED}))
async def open_link(request: Request, gateway: NamedDependency[GatewayRuntime]) -> Response:
    """A link without a use limit lets the guest in at once. One with a limit asks for a click first (a form that
    posts back here): mail scanners open the links in a message before the recipient does, and they must not use
    up a one-time link. Neither counts as a use until the guest is let in."""
    return await _through_link(request, gateway, clicked=False)


@post(REDACTED_LINK_PATH, name="enter-link", status_code=303, summary="The click on a link with a use limit",
      responses=pages({303: "Let in: on to /g/{link_id}/ with the link's cookie", **LINK_REFUSED}))
async def enter_link(request: Request, gateway: NamedDependency[GatewayRuntime]) -> Response:
    """The click on the page of a link with a use limit: one use, and in."""
    return await _through_link(request, gateway, clicked=True)


async def _through_link(request: Request, gateway: GatewayRuntime, *, clicked: bool) -> Response:
    token: str = request.scope["state"].get(TOKEN_STATE_KEY, "")
    # No limit before the token is known to be invalid: a valid one always lets its guest in.
    address = _client_address(request, gateway)
    if not TOKEN_PATTERN.match(token):
        return await _invalid_token_page(request, gateway, address, "malformed")
    try:
        view = await gateway.links.resolve(token)
        del token  # from here on only the link id identifies the link
        await _remember(gateway, view)
        if not clicked:  # the click comes from the page this visit showed: one opening, not two
            try:
                await gateway.links.record_opened(view.link_id, _client_info(request, gateway))
            except LinksUnavailable:  # an access record is not worth turning the guest away for
                log.warning("could not record that the link was opened", link_id=view.link_id)
        if view.verification != "none":
            LINK_OPENINGS.labels("verification").inc()
            log.info("link opened; recipient verification needed", link_id=view.link_id)
            return await _entering_page(request, gateway, view, Grant.VERIFY)
        if view.max_uses is not None and not clicked:
            LINK_OPENINGS.labels("confirmation").inc()
            log.info("link opened; waiting for the guest's click", link_id=view.link_id)
            return render_page(request, "link_confirm.html", status_code=200,
                               branding=await gateway.links.branding(view.tenant_id),
                               recipient_language=view.recipient.language,
                               uses_left=max(0, view.max_uses - view.uses))
        view = await gateway.links.use(view.link_id, _client_info(request, gateway))
        await _remember(gateway, view)
    except LinkNotFound:
        return await _invalid_token_page(request, gateway, address, "unknown")
    except LinkGone as gone:
        LINK_OPENINGS.labels("gone").inc()
        log.info("link no longer valid", link_id=gone.link_id, status=gone.link_status)
        return await _gone_page(request, gateway, tenant_id=gone.tenant_id, reason=gone.link_status,
                                recipient_language=await _recipient_language(gateway, gone.link_id))
    except LinksUnavailable:
        LINK_OPENINGS.labels("unavailable").inc()
        return _unavailable_page(request)
    LINK_OPENINGS.labels("entered").inc()
    log.info("link opened; guest let in", link_id=view.link_id)
    if clicked:  # a same-site POST: the redirect carries the new SameSite=Strict cookie
        return Redirect(guest_path(view.link_id), status_code=303, cookies=[_access_cookie(gateway, view)])
    return await _entering_page(request, gateway, view, Grant.ACCESS)


# ---- /g/{link_id}/verify ----------------------------------------------------------------------------------


class RecipientVerificationController(Controller):
    """The one-time code a link with recipient verification asks for before anything else; also the code a guest
    already let in passes to prove this browser for the link (asked by a service's page: a request's answers on
    a new device), which gives the browser the link's device proof (``Grant.DEVICE``)."""

    path = "/g/{link_id:str}/verify"

    async def _admit(self, request: Request, gateway: GatewayRuntime, link_id: str) -> LinkState | Response:
        """The link, if this guest may verify now; else the page or redirect to answer with."""
        if not LINK_ID_PATTERN.match(link_id):
            return _not_found_page(request)
        guest_pass = find_guest_pass(request.scope, gateway, link_id)
        if guest_pass is None:
            return _access_denied_page(request)
        if guest_pass.grant is Grant.ACCESS and device_proven(request.scope, gateway, link_id):
            return Redirect(guest_path(link_id), status_code=303)
        link = await _open_link(request, gateway, link_id)
        if isinstance(link, Response):
            return link
        if (until := link.verification_locked_until_at(gateway.now())) is not None:
            return await self._locked_page(request, gateway, link,
                                           retry_after=math.ceil((until - gateway.now()).total_seconds()))
        return link

    async def _page(self, request: Request, gateway: GatewayRuntime, link: LinkState, *, status_code: int = 200,
                    sent: bool = False, error: str | None = None, attempts_left: int | None = None) -> Response:
        if link.verification == "sms" and link.recipient_phone:
            destination = mask_phone(link.recipient_phone)
        elif link.recipient_email:
            destination = mask_email(link.recipient_email)
        else:
            destination = None
        return render_page(request, "verify.html", status_code=status_code,
                           branding=await gateway.links.branding(link.tenant_id),
                           recipient_language=link.recipient_language, link_id=link.link_id,
                           channel=link.verification, destination=destination, sent=sent, error=error,
                           attempts_left=attempts_left)

    async def _locked_page(self, request: Request, gateway: GatewayRuntime, link: LinkState, *,
                           retry_after: int | None) -> Response:
        """Too many wrong codes: the page says in how many minutes codes work again (never "ask for a new
        link": the pause ends by itself, or staff end it)."""
        log.info("recipient verification locked", link_id=link.link_id, retry_after=retry_after)
        retry_after = max(1, retry_after) if retry_after is not None else None
        return render_problem(request, VERIFICATION_LOCKED, status_code=423, template="verification_locked.html",
                              headers={"Retry-After": str(retry_after)} if retry_after is not None else None,
                              minutes=math.ceil(retry_after / 60) if retry_after is not None else None,
                              branding=await gateway.links.branding(link.tenant_id),
                              recipient_language=link.recipient_language)

    @get("/", name="verify-page", summary="The page that asks for the one-time code",
         responses=pages({200: "The page", **VERIFY_REFUSED}))
    async def show(self, request: Request, gateway: NamedDependency[GatewayRuntime],
                   link_id: FromPath[str]) -> Response:
        link = await self._admit(request, gateway, link_id)
        if isinstance(link, Response):
            return link
        return await self._page(request, gateway, link, sent=request.query_params.get("sent") == "1")

    @post("/code", name="verify-send-code", status_code=303, summary="Send a one-time code to the recipient",
          responses=pages({429: "A code was sent moments ago: the page says when to ask again", **VERIFY_REFUSED}))
    async def send_code(self, request: Request, gateway: NamedDependency[GatewayRuntime],
                        link_id: FromPath[str]) -> Response:
        link = await self._admit(request, gateway, link_id)
        if isinstance(link, Response):
            return link
        try:
            await gateway.links.send_verification_code(link_id)
        except VerificationCodeTooSoon:
            return await self._page(request, gateway, link, status_code=429, sent=True, error="too_soon")
        except VerificationLocked as locked:
            return await self._locked_page(request, gateway, link, retry_after=locked.extra.get("retry_after"))
        except LinkGone as gone:
            return await _gone_page(request, gateway, tenant_id=link.tenant_id, reason=gone.link_status,
                                    recipient_language=link.recipient_language,
                                    cookies=[gateway.cookies.clear(link_id)])
        except LinksUnavailable:
            return _unavailable_page(request)
        log.info("verification code requested", link_id=link_id)
        return Redirect(f"{guest_path(link_id)}verify?sent=1", status_code=303)

    @post("/", name="verify-check-code", status_code=303, summary="Check the code; right, and the guest is in",
          responses=pages({422: "Not a code, or the wrong one: the page again, with the attempts left",
                           **VERIFY_REFUSED}))
    async def check_code(
        self, request: Request, gateway: NamedDependency[GatewayRuntime], link_id: FromPath[str],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response:
        link = await self._admit(request, gateway, link_id)
        if isinstance(link, Response):
            return link
        code = "".join(str(data.get("code", "")).split())  # people paste "123 456"
        if not CODE_PATTERN.match(code):
            return await self._page(request, gateway, link, status_code=422, sent=True, error="malformed")
        let_in_already = (found := find_guest_pass(request.scope, gateway, link_id)) is not None \
            and found.grant is Grant.ACCESS
        try:
            await gateway.links.check_verification_code(link_id, code)
            if let_in_already:  # proving this browser: the link was used when the guest came in
                log.info("browser proven for the link", link_id=link_id)
                return Redirect(guest_path(link_id), status_code=303, cookies=[_device_cookie(gateway, link_id)])
            view = await gateway.links.use(link_id, _client_info(request, gateway))
        except WrongVerificationCode as wrong:
            log.info("wrong verification code", link_id=link_id, attempts_left=wrong.attempts_left)
            return await self._page(request, gateway, link, status_code=422, sent=True, error="wrong",
                                    attempts_left=wrong.attempts_left)
        except VerificationLocked as locked:
            return await self._locked_page(request, gateway, link, retry_after=locked.extra.get("retry_after"))
        except LinkGone as gone:
            return await _gone_page(request, gateway, tenant_id=link.tenant_id, reason=gone.link_status,
                                    recipient_language=link.recipient_language,
                                    cookies=[gateway.cookies.clear(link_id)])
        except LinksUnavailable:
            return _unavailable_page(request)
        await _remember(gateway, view)
        log.info("recipient verified; guest let in", link_id=link_id)
        # A same-site POST, so the redirect carries the new SameSite=Strict cookies.
        return Redirect(guest_path(link_id), status_code=303,
                        cookies=[_access_cookie(gateway, view), _device_cookie(gateway, link_id)])


# ---- /g/{link_id}/{path} ----------------------------------------------------------------------------------


@route(["/g/{link_id:str}", "/g/{link_id:str}/{path:path}"], name="guest-pages",
       summary="A guest page of the service that owns the link's action, through the gateway",
       responses=pages({**GUEST_REFUSED, 308: "/g/{link_id} without the slash: to /g/{link_id}/"}),
       http_method=[HttpMethod.GET, HttpMethod.HEAD, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH,
                    HttpMethod.DELETE, HttpMethod.OPTIONS],
       status_code=200, request_max_body_size=None)  # the owning service sets its own upload limits
async def guest_pages(request: Request, gateway: NamedDependency[GatewayRuntime],
                      link_id: FromPath[str]) -> ASGIApp:
    """The pages for guest requests the proxy lane did not let through; anything admitted after all is forwarded.

    Most admitted requests never get here: ``proxy_lane.py`` forwards them before Litestar sees them.
    """
    if request.scope["state"].get(UPSTREAM_FAILED_STATE_KEY):
        return _unavailable_page(request).to_asgi_response(None, request)
    decision = await admit(gateway, request.scope, link_id)
    if isinstance(decision, Refused):
        return (await _refusal_page(request, gateway, decision)).to_asgi_response(None, request)
    try:
        return await gateway.proxy.forward(
            request.scope, request.receive, decision.link, decision.route, rest=decision.rest,
            client_address=_client_address(request, gateway), request_id=_request_id(),
            correlation_id=correlation_id_of(request), language=language_chosen_by_guest(request.scope),
            device_proven=decision.device_proven,
        )
    except UpstreamUnavailable:
        return _unavailable_page(request).to_asgi_response(None, request)


# ---- /unsubscribe/{token} ---------------------------------------------------------------------------------


UNSUBSCRIBE_BODY_LIMIT = 4096  # "List-Unsubscribe=One-Click" (RFC 8058) and nothing more
UNSUBSCRIBE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,1024}\.[A-Za-z0-9_-]{1,128}")  # base64url payload, "." signature


@route("/unsubscribe/{token:str}", name="unsubscribe", summary="One-click unsubscribe from owner alerts",
       responses=pages({200: "Done, or the page with the button", 404: "Not an unsubscribe token",
                        503: "notifications cannot be reached right now"}),
       http_method=[HttpMethod.GET, HttpMethod.POST], status_code=200, request_max_body_size=UNSUBSCRIBE_BODY_LIMIT)
async def unsubscribe(request: Request, gateway: NamedDependency[GatewayRuntime], token: FromPath[str]) -> Response:
    """The one-click unsubscribe links of owner alerts, answered by notifications. Not a guest link: the token is
    notifications' own signature and opens nothing else, so it is passed on as it came, without admission. A
    client per request: an unsubscribe is rare, and this keeps notifications out of the guests' hot path."""
    if not UNSUBSCRIBE_TOKEN.fullmatch(token):  # never a path of its own ("..", "a/b") at notifications
        return _not_found_page(request)
    url = f"{gateway.settings.notifications_url.rstrip('/')}/unsubscribe/{token}"
    try:
        async with httpx.AsyncClient(timeout=gateway.settings.upstream_connect_timeout_seconds) as client:
            answer = await client.request(request.method, url, content=await request.body(),
                                          headers={"content-type": request.headers.get("content-type", "")})
    except httpx.HTTPError:
        return _unavailable_page(request)
    if answer.status_code >= 500:
        return _unavailable_page(request)
    return Response(answer.content, status_code=answer.status_code, media_type=MediaType.HTML)


# ---- small public routes ----------------------------------------------------------------------------------


@get("/robots.txt", media_type=MediaType.TEXT, summary="Keeps crawlers out of links and guest pages")
async def robots_txt() -> str:
    return "User-agent: *\nDisallow: /l/\nDisallow: /g/\nDisallow: /unsubscribe/\n"


ROUTE_HANDLERS = [
    open_link,
    enter_link,
    RecipientVerificationController,
    guest_pages,
    unsubscribe,
    robots_txt,
    *guest_asset_routes(ASSET_PREFIX, static_directories=[STATIC], name="gateway"),
]
