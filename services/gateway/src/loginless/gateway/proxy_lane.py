"""The fast lane of guest traffic: an admitted ``/g/{link_id}/...`` request goes straight to its service.

Every page, asset and upload chunk a guest sends after opening a link is one of these, so they skip what the
gateway's own pages need from Litestar (routing, dependency injection, request and response objects, two log
lines and the generic metrics per request): that machinery costs more CPU than the whole proxied exchange
(docs/gateway-performance.md). What they keep: the edge's headers (this lane sits inside ``edge.py``), request
and correlation ids, metrics of their own and one access-log line each (written in batches: ``access_log.py``).

A request the lane does not admit (no cookie, a closed link, the verification pages, anything unusual) goes to
Litestar unchanged, whose route asks the same question (``admission.py``) and shows the page that answers it.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from litestar import Litestar
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import Counter, Histogram

from loginless.gateway.admission import Admitted, admit
from loginless.gateway.pages import language_chosen_by_guest
from loginless.gateway.proxy import UpstreamUnavailable
from loginless.gateway.runtime import GatewayRuntime
from loginless.shared.guest.address import client_address
from loginless.shared.web.access_log import AccessLog
from loginless.shared.web.context import CORRELATION_ID_HEADER, REQUEST_ID_HEADER, request_ids

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

    def __init__(self, app: Litestar, handler: ASGIApp, access_log: AccessLog) -> None:
        self.app = app
        self.handler = handler  # the application's own ASGI handler
        self._metrics = _ProxiedMetrics()
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        link_id = proxied_link_id(scope)
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
        return runtime.context if runtime is not None else None

    async def _forward(self, gateway: GatewayRuntime, admitted: Admitted, scope: Scope, receive: Receive,
                       send: Send) -> None:
        started = time.perf_counter()
        # Passed to the one log line rather than bound to the logging context: binding and clearing that
        # context copies every context variable of the task, twice per request.
        request_id, correlation_id = request_ids(scope)
        link_id, service = admitted.link.link_id, admitted.route.service
        language = language_chosen_by_guest(scope)
        try:
            response = await gateway.proxy.forward(
                scope, receive, admitted.link, admitted.route, rest=admitted.rest,
                client_address=client_address(scope, trusted_proxy_hops=gateway.settings.trusted_proxy_hops),
                request_id=request_id, correlation_id=correlation_id, language=language,
                device_proven=admitted.device_proven,
            )
        except UpstreamUnavailable:
            scope["state"][UPSTREAM_FAILED_STATE_KEY] = True
            await self.handler(scope, receive, send)
            return
        response.headers += [(_REQUEST_ID, request_id.encode()), (_CORRELATION_ID, correlation_id.encode())]
        try:
            await response(scope, receive, send)
        except Exception as error:
            # The response has started: all a proxy can do is cut it off, so the guest sees it incomplete.
            log.warning("guest response broken off", link_id=link_id, service=service, error=type(error).__name__,
                        request_id=request_id, correlation_id=correlation_id)
            raise
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.observe(service, response.status, elapsed)
            self._access_log.info("guest request proxied", method=scope["method"], link_id=link_id, service=service,
                                  status_code=response.status, duration_ms=round(elapsed * 1000, 2),
                                  request_id=request_id, correlation_id=correlation_id)


class _ProxiedMetrics:
    """The lane's two metrics, with each label combination's series looked up once rather than per request."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, int], Any] = {}
        self._histograms: dict[str, Any] = {}

    def observe(self, service: str, status: int, seconds: float) -> None:
        counter = self._counters.get((service, status))
        if counter is None:
            counter = self._counters[(service, status)] = PROXIED_REQUESTS.labels(service, str(status))
        histogram = self._histograms.get(service)
        if histogram is None:
            histogram = self._histograms[service] = PROXIED_SECONDS.labels(service)
        counter.inc()
        histogram.observe(seconds)


def proxied_link_id(scope: Scope) -> str | None:
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


def with_proxy_lane(app: Litestar, access_log: AccessLog) -> None:
    """Put the lane in front of ``app``'s own handler; it writes an access line per request to ``access_log``."""
    app.asgi_handler = ProxyLane(app, app.asgi_handler, access_log)
