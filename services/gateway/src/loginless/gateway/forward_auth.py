"""Forward authentication: the gateway's admission, asked by a proxy that moves the bytes itself.

Platform teams already run a proxy written in C or Go (nginx, ingress-nginx, Envoy, Traefik). Each can ask a
service whether a request may pass before forwarding it, and copy headers of that answer onto the forwarded
request. ``/auth/forward`` is that service: it rebuilds the guest's request from what the proxy says of it, asks
the same :func:`admission.admit` the proxy lane asks (one decision, never two), and answers

- **200** when the guest is admitted, with everything the embedded proxy would add to the request
  (``X-Loginless-Assertion``, ``X-Forwarded-Prefix``, the guest's language, ...), where to send it
  (``X-Loginless-Service`` and ``X-Loginless-Upstream-Path``, the path and query at that service), the cookies the
  guest's response may need (``X-Loginless-Device-Cookie``, given only if the service says the browser proved
  itself; ``X-Loginless-Set-Cookie``), and the guest's security headers (the edge adds them to every answer);
- **403** (401 for "no cookie") with ``X-Loginless-Refusal`` otherwise. nginx accepts no other status from an
  auth subrequest (a 404 or 410 there becomes a 500), so the proxy hands the original request to the gateway
  itself, which answers it with the page embedded mode shows. Proxies that pass a refusal on to the guest as it
  is (Traefik, Envoy) ask with ``?answer=page`` (or ``X-Loginless-Answer: page``), and the refusal then *is* that
  page.

Answers may be cached by the proxy until the end of the current second (``X-Accel-Expires``, nginx's cache): the
revocation promise is one second, and an assertion lives 60 s, reused for at most 30 (``proxy.AssertionCache``).
The endpoint exists only with ``GATEWAY_FORWARD_AUTH_ENABLED``: its answers are meant for the proxy, never for a
guest (a device cookie a guest could fetch here would skip a service's check of new devices), so a deployment
that serves guests straight from the gateway keeps it off, and one that turns it on never routes
``/auth/forward`` from the outside (the shipped nginx configuration answers it 404).
"""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

import structlog
from litestar import Litestar
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter

from loginless.gateway.admission import Admitted, Refusal, Refused, admit
from loginless.gateway.guest_cookie import Grant
from loginless.gateway.pages import language_chosen_by_guest
from loginless.gateway.proxy_lane import GUEST_PREFIX, proxied_link_id
from loginless.gateway.runtime import GatewayRuntime
from loginless.shared.guest.language import chosen_in_query, language_cookie
from loginless.shared.web.access_log import AccessLog
from loginless.shared.web.assertion import ASSERTION_HEADER, FORWARDED_PREFIX_HEADER
from loginless.shared.web.context import request_ids

log = structlog.get_logger(__name__)

FORWARD_AUTH_PATH = "/auth/forward"
SERVICE_HEADER = b"x-loginless-service"
UPSTREAM_PATH_HEADER = b"x-loginless-upstream-path"
LANGUAGE_HEADER = b"x-loginless-language"
DEVICE_COOKIE_HEADER = b"x-loginless-device-cookie"
SET_COOKIE_HEADER = b"x-loginless-set-cookie"
REFUSAL_HEADER = b"x-loginless-refusal"
# Not a refusal of admission: the path is one of the gateway's own pages (the code form), which it serves itself.
GATEWAY_PAGE = "gateway_page"
BAD_REQUEST = "bad_request"

FORWARD_AUTH_DECISIONS = Counter(
    "loginless_gateway_forward_auth_decisions_total",
    "Forward-authentication answers to a proxy (/auth/forward), by outcome: admitted, a refusal "
    "(admission.Refusal), gateway_page or bad_request", ["outcome"])

# Where each proxy says which request it asks about, most specific first: nginx as usually configured
# (X-Original-URI), ingress-nginx (X-Original-URL, a whole URL), Traefik (X-Forwarded-Uri).
_URI_HEADERS = (b"x-original-uri", b"x-original-url", b"x-forwarded-uri")
_METHOD_HEADERS = (b"x-original-method", b"x-forwarded-method")
# Asked by a proxy that hands a refusal to the guest as it is: in the address (Traefik) or a header it adds (Envoy).
_PAGE_ANSWER = b"answer=page"
_ANSWER_HEADER = b"x-loginless-answer"


class ForwardAuth:
    """Answers ``/auth/forward`` (and ``/auth/forward/g/...``, Envoy's form) ahead of the application."""

    def __init__(self, app: Litestar, handler: ASGIApp, access_log: AccessLog) -> None:
        self.app = app
        self.handler = handler
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway = self._gateway() if scope["type"] == "http" and _is_forward_auth(scope["path"]) else None
        if gateway is None or not gateway.settings.forward_auth_enabled:
            await self.handler(scope, receive, send)
            return
        started = time.perf_counter()
        request_id, correlation_id = request_ids(scope)
        original = original_request(scope)
        if original is None:
            outcome, link_id, service = BAD_REQUEST, None, None
            await _bad_request(send)
        else:
            outcome, link_id, service = await self._answer(gateway, scope, original, receive, send)
        FORWARD_AUTH_DECISIONS.labels(outcome).inc()
        self._access_log.info("forward-auth answered", method=original["method"] if original else scope["method"],
                              link_id=link_id, service=service, outcome=outcome,
                              duration_ms=round((time.perf_counter() - started) * 1000, 2),
                              request_id=request_id, correlation_id=correlation_id)

    def _gateway(self) -> GatewayRuntime | None:
        runtime = getattr(self.app.state, "runtime", None)  # there once the application has started
        return runtime.context if runtime is not None else None

    async def _answer(self, gateway: GatewayRuntime, scope: Scope, original: Scope, receive: Receive,
                      send: Send) -> tuple[str, str | None, str | None]:
        link_id = proxied_link_id(original)
        if link_id is None:  # the code pages, or not a guest page at all: the gateway's own to answer
            decision: Admitted | Refused = Refused(Refusal.NOT_FOUND)
            outcome = GATEWAY_PAGE if original["path"].startswith(GUEST_PREFIX) else Refusal.NOT_FOUND.value
        else:
            decision = await admit(gateway, original, link_id)
            outcome = "admitted" if isinstance(decision, Admitted) else decision.refusal.value
        if isinstance(decision, Admitted):
            await send_admission(send, gateway, decision, original)
            return outcome, decision.link.link_id, decision.route.service
        if _wants_page(scope):
            await self.handler(original, _no_body, _as_refusal(send, outcome))
        else:
            await _refuse(send, outcome)
        # Only a link the gateway knows is named in the log: the path is the guest's to write.
        return outcome, decision.link.link_id if decision.link else None, None


def _is_forward_auth(path: str) -> bool:
    return path == FORWARD_AUTH_PATH or path.startswith(FORWARD_AUTH_PATH + GUEST_PREFIX)


def _wants_page(scope: Scope) -> bool:
    """Whether the proxy asked for the refusal page itself. In Envoy's form the query string is the guest's, so
    there only the header counts."""
    if (_ANSWER_HEADER, b"page") in scope["headers"]:
        return True
    return scope["path"] == FORWARD_AUTH_PATH and _PAGE_ANSWER in scope.get("query_string", b"")


def original_request(scope: Scope) -> Scope | None:
    """The guest's request as the proxy describes it, as an ASGI scope admission can read; None when the proxy
    did not say which request it asks about (a misconfigured proxy: 400)."""
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"")
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    named = dict(headers)
    if raw_path.startswith(FORWARD_AUTH_PATH + GUEST_PREFIX):  # Envoy's path_prefix form: the path follows it
        target = raw_path[len(FORWARD_AUTH_PATH):] + (f"?{query.decode('latin-1')}" if query else "")
        method = scope["method"]
    elif raw_path != FORWARD_AUTH_PATH:  # the prefix itself escaped (/auth%2Fforward...): not a form we know
        return None
    else:
        uri = next((named[name] for name in _URI_HEADERS if name in named), None)
        if not uri:
            return None
        parsed = urlsplit(uri.decode("latin-1"))
        target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        method = next((named[name].decode("latin-1") for name in _METHOD_HEADERS if name in named), "GET").upper()
    path, _, original_query = target.partition("?")
    if not path.startswith("/") or any(character in path for character in " \r\n\t"):
        return None
    return {**scope, "method": method, "path": unquote(path), "raw_path": path.encode("latin-1"),
            "query_string": original_query.encode("latin-1"), "state": {}}


async def send_admission(send: Send, gateway: GatewayRuntime, admitted: Admitted, original: Scope) -> None:
    """200, with what the proxy adds to the forwarded request and to the guest's response."""
    link, route = admitted.link, admitted.route
    proxy = gateway.proxy
    prefix = f"/g/{link.link_id}"
    query = original.get("query_string", b"")
    upstream_path = proxy.upstream_path(route, admitted.rest) + (b"?" + query if query else b"")
    headers = [
        (ASSERTION_HEADER.encode(),
         proxy.assertions.assertion_for(link, route.service, device_proven=admitted.device_proven).encode()),
        (FORWARDED_PREFIX_HEADER.encode(), prefix.encode()),
        (SERVICE_HEADER, route.service.encode()),
        (UPSTREAM_PATH_HEADER, upstream_path),
        (b"x-accel-expires", f"@{int(gateway.wall_clock()) + 1}".encode()),  # nginx: cache to the second's end
        (b"content-length", b"0"),
    ]
    if language := language_chosen_by_guest(original):
        headers.append((LANGUAGE_HEADER, language.encode()))
    if not admitted.device_proven:  # the proxy sets it only if the service answers X-Loginless-Device-Proven
        headers.append((DEVICE_COOKIE_HEADER, gateway.cookies.issue(
            link.link_id, Grant.DEVICE, now=gateway.wall_clock(),
            lifetime_seconds=gateway.settings.device_proof_seconds).to_encoded_header()[1]))
    if switched_to := chosen_in_query(query):
        headers.append((SET_COOKIE_HEADER, language_cookie(switched_to, secure=gateway.settings.secure_cookies)
                        .to_encoded_header()[1]))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _refuse(send: Send, outcome: str) -> None:
    status = 401 if outcome == Refusal.NO_PASS.value else 403
    await send({"type": "http.response.start", "status": status, "headers": [
        (REFUSAL_HEADER, outcome.encode()), (b"x-accel-expires", b"0"), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


async def _bad_request(send: Send) -> None:
    body = (b'{"type":"about:blank","title":"Bad Request","status":400,"detail":"the proxy did not say which '
            b'request it asks about: X-Original-URI (nginx), X-Original-URL (ingress-nginx), X-Forwarded-Uri '
            b'(Traefik), or the path after /auth/forward (Envoy)"}')
    log.warning("forward-auth request without the original request; check the proxy's configuration")
    await send({"type": "http.response.start", "status": 400, "headers": [
        (b"content-type", b"application/problem+json"), (REFUSAL_HEADER, BAD_REQUEST.encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _no_body() -> Message:
    """The original request's body stays with the proxy: a refusal page never reads one."""
    return {"type": "http.request", "body": b"", "more_body": False}


def _as_refusal(send: Send, outcome: str) -> Send:
    """The page, as a refusal: a proxy lets a 2xx answer through, so a page that answers 2xx (the same-site step
    of a guest sent back by another site) is sent as 403, which browsers show all the same."""

    async def send_refusal(message: Message) -> None:
        if message["type"] == "http.response.start":
            status = message["status"]
            message = {**message, "status": 403 if status < 300 else status,
                       "headers": [*message.get("headers", ()), (REFUSAL_HEADER, outcome.encode())]}
        await send(message)

    return send_refusal


def with_forward_auth(app: Litestar, access_log: AccessLog) -> None:
    """Put the forward-auth answer in front of ``app``'s handler (the proxy lane's, so both share the edge)."""
    app.asgi_handler = ForwardAuth(app, app.asgi_handler, access_log)
