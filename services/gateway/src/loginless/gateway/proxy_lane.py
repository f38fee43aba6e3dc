"""The fast lane of guest traffic: an admitted ``/g/{link_id}/...`` request goes straight to its service.

Every page, asset and upload chunk a guest sends after opening a link is one of these, so they skip what the
gateway's own pages need from Litestar (routing, dependency injection, request and response objects, two log
lines and the generic metrics per request): that machinery costs more CPU than the whole proxied exchange
(docs/gateway-performance.md). What they keep: the edge's headers (this lane sits inside ``edge.py``), request
and correlation ids, one log line and metrics of their own. A request the lane does not admit — no cookie, a
closed link, the verification pages, anything unusual — goes to Litestar unchanged, whose route asks the same
question (``admission.py``) and shows the page that answers it.
"""

from __future__ import annotations

import time

import structlog
from litestar import Litestar
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Histogram

from loginless.gateway.admission import Admitted, admit, cookie_values
from loginless.gateway.edge import client_address
from loginless.gateway.i18n import LANGUAGE_COOKIE, LANGUAGES
from loginless.gateway.proxy import UpstreamUnavailable
from loginless.gateway.runtime import RUNTIME_KEY, GatewayRuntime
from loginless.shared.web.context import CORRELATION_ID_HEADER, REQUEST_ID_HEADER, bind_request_ids

log = structlog.get_logger(__name__)

GUEST_PREFIX = "/g/"
# Set by the lane when the service could not be reached, so the route shows the 503 page instead of retrying
# with a request body that may be partly consumed.
UPSTREAM_FAILED_STATE_KEY = "gateway.upstream_failed"

PROXIED_REQUESTS = Counter("loginless_gateway_proxied_requests_total",
                           "Guest requests forwarded to an owning service, by service and status",
                           ["service", "status"])
PROXIED_SECONDS = Histogram("loginless_gateway_proxied_request_duration_seconds",
                            "Forwarded guest requests, from arrival to the response's last byte", ["service"])

_REQUEST_ID = REQUEST_ID_HEADER.encode()
_CORRELATION_ID = CORRELATION_ID_HEADER.encode()


class ProxyLane:
    """Forwards admitted guest requests itself and hands everything else to the Litestar application."""

    def __init__(self, app: Litestar, handler: ASGIApp) -> None:
        self.app = app
        self.handler = handler  # the application's own ASGI handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        link_id = _proxied_link_id(scope)
        gateway = self._gateway() if link_id else None
        if link_id is None or gateway is None:
            await self.handler(scope, receive, send)
            return
        decision = await admit(gateway, scope, link_id)
        if not isinstance(decision, Admitted):
            await self.handler(scope, receive, send)
            return
        await self._forward(gateway, decision, scope, receive, send)

    def _gateway(self) -> GatewayRuntime | None:
        runtime = getattr(self.app.state, "runtime", None)  # there once the application has started
        return runtime.extras.get(RUNTIME_KEY) if runtime is not None else None

    async def _forward(self, gateway: GatewayRuntime, admitted: Admitted, scope: Scope, receive: Receive,
                       send: Send) -> None:
        started = time.perf_counter()
        request_id, correlation_id = bind_request_ids(scope)
        service = admitted.route.service
        status = 0

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message["headers"], (_REQUEST_ID, request_id.encode()),
                                      (_CORRELATION_ID, correlation_id.encode())]
            await send(message)

        language = next((value for value in cookie_values(scope, LANGUAGE_COOKIE) if value in LANGUAGES), None)
        try:
            response = await gateway.proxy.forward(
                scope, receive, admitted.link, admitted.route, rest=admitted.rest,
                client_address=client_address(scope, trusted_proxy_hops=gateway.settings.trusted_proxy_hops),
                request_id=request_id, correlation_id=correlation_id, language=language,
            )
        except UpstreamUnavailable:
            scope["state"][UPSTREAM_FAILED_STATE_KEY] = True
            structlog.contextvars.clear_contextvars()
            await self.handler(scope, receive, send)
            return
        try:
            await response(scope, receive, send_with_ids)
        except Exception as error:
            # The response has started: all a proxy can do is cut it off, so the guest sees it incomplete.
            log.warning("guest response broken off", link_id=admitted.link.link_id, service=service,
                        error=type(error).__name__)
            raise
        finally:
            elapsed = time.perf_counter() - started
            PROXIED_REQUESTS.labels(service, str(status)).inc()
            PROXIED_SECONDS.labels(service).observe(elapsed)
            log.info("guest request proxied", method=scope["method"], link_id=admitted.link.link_id,
                     service=service, status_code=status, duration_ms=round(elapsed * 1000, 2))
            structlog.contextvars.clear_contextvars()


def _proxied_link_id(scope: Scope) -> str | None:
    """The link id of a request the lane may take: under ``/g/{link_id}/``, except the verification pages."""
    if scope["type"] != "http":
        return None
    path: str = scope["path"]
    if not path.startswith(GUEST_PREFIX):
        return None
    link_id, slash, rest = path[len(GUEST_PREFIX):].partition("/")
    if not slash or rest == "verify" or rest.startswith("verify/"):
        return None
    return link_id


def with_proxy_lane(app: Litestar) -> None:
    """Put the lane in front of ``app``'s own handler."""
    app.asgi_handler = ProxyLane(app, app.asgi_handler)
