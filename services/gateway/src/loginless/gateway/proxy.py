"""The reverse proxy from ``/g/{link_id}/{path}`` to ``{service}/guest/{path}``, streaming both ways.

Request and response bodies pass through chunk by chunk (never a whole upload or download in memory). On the way
in the guest's cookies, any ``Authorization`` and every header the gateway itself vouches for are dropped, so a
guest can forge none of them; the gateway then adds its signed assertion about the link, whose resource id is
the link's own: the path a guest asks for never decides which resource they reach, and the language the guest
chose (``X-Loginless-Language``, loginless.shared.guest.language). On the way out hop-by-hop headers and cookies
are dropped and redirects into ``/guest/`` are mapped back under the link's prefix; a language picked with the
switcher on a service's page is remembered in the gateway's cookie.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Protocol
from urllib.parse import urlsplit

import structlog
from litestar.types import Receive, Scope, Send

from loginless.gateway.read_model import LinkState
from loginless.gateway.settings import ServiceRoute
from loginless.gateway.upstream import UpstreamPool, UpstreamRequest, UpstreamResponse, UpstreamUnreachable
from loginless.shared import tracing
from loginless.shared.guest.language import CHOSEN_LANGUAGE_HEADER, chosen_in_query, language_cookie
from loginless.shared.web.assertion import (
    ASSERTION_HEADER,
    DEVICE_PROVEN_HEADER,
    FORWARDED_PREFIX_HEADER,
    LIFETIME_SECONDS,
    AssertionSigner,
)
from loginless.shared.web.context import CORRELATION_ID_HEADER, REQUEST_ID_HEADER

log = structlog.get_logger(__name__)

HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
                        b"trailer", b"trailers", b"transfer-encoding", b"upgrade", b"proxy-connection"})
# What a guest may not send to a service: their credentials for the gateway, and whatever the gateway vouches for.
_DROPPED_FROM_GUEST = HOP_BY_HOP | {
    b"host", b"cookie", b"authorization", b"forwarded", b"x-forwarded-for", b"x-forwarded-host",
    b"x-forwarded-proto", b"x-forwarded-port", b"x-real-ip", REQUEST_ID_HEADER.encode(),
    CORRELATION_ID_HEADER.encode(),
    # Framing is the gateway's own on the next hop; and the server in front of us has answered any Expect.
    b"content-length", b"expect",
}
_GATEWAY_HEADER_PREFIXES = (b"x-loginless-", FORWARDED_PREFIX_HEADER.encode())
# The gateway's own server writes Date and Server; a second of each would only confuse.
_DROPPED_FROM_SERVICE = HOP_BY_HOP | {b"set-cookie", b"set-cookie2", b"date", b"server"}

SERVICE_GUEST_PREFIX = "/guest"
ASSERTION_HEADER_BYTES = ASSERTION_HEADER.encode()
FORWARDED_PREFIX_HEADER_BYTES = FORWARDED_PREFIX_HEADER.encode()
REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode()
CORRELATION_ID_HEADER_BYTES = CORRELATION_ID_HEADER.encode()
CHOSEN_LANGUAGE_HEADER_BYTES = CHOSEN_LANGUAGE_HEADER.encode()
DEVICE_PROVEN_HEADER_BYTES = DEVICE_PROVEN_HEADER.encode()


_TRACE_HEADERS = (b"traceparent", b"tracestate")


class UpstreamUnavailable(Exception):
    """The owning service cannot be reached; the guest sees the 503 page."""


def _connection_listed(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Headers named in ``Connection`` are hop-by-hop too (RFC 9110 §7.6.1)."""
    listed: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            listed |= {token.strip().lower() for token in value.split(b",") if token.strip()}
    return listed - _CONNECTION_OPTIONS


_CONNECTION_OPTIONS = {b"close", b"keep-alive"}  # what Connection usually says: options, not header names


def guest_request_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The guest's headers a service may see."""
    kept = [(name, value) for name, value in headers
            if (lowered := name.lower()) not in _DROPPED_FROM_GUEST
            and not lowered.startswith(_GATEWAY_HEADER_PREFIXES)]
    if listed := _connection_listed(headers):  # rare: Connection names more than close or keep-alive
        kept = [(name, value) for name, value in kept if name.lower() not in listed]
    return kept


class StreamedServiceResponse:
    """An ASGI app that relays one service response, chunk by chunk, and then frees its connection."""

    def __init__(self, response: UpstreamResponse, headers: list[tuple[bytes, bytes]]) -> None:
        self.response = response
        self.status = response.status
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
            remaining = _content_length(self.headers)
            finished = False
            if scope["method"] != "HEAD" and remaining != 0:
                async for chunk in self.response.body():
                    if remaining is not None:
                        remaining -= len(chunk)
                    # The chunk that completes the announced length ends the response: one message fewer.
                    finished = remaining is not None and remaining <= 0
                    await send({"type": "http.response.body", "body": chunk, "more_body": not finished})
            if not finished:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self.response.aclose()


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class AssertionCache:
    """Signed assertions, reused for half their lifetime: what a link asserts never changes, so re-signing it on
    every request would only cost time. A service always gets one with at least half its lifetime left."""

    def __init__(self, signer: AssertionSigner, *, clock: Callable[[], float] = time.time,
                 max_entries: int = 10_000) -> None:
        self.signer = signer
        self.clock = clock
        self.max_entries = max_entries
        self._signed: dict[tuple[str, str, bool], tuple[float, str]] = {}

    def assertion_for(self, link: LinkState, audience: str, *, device_proven: bool = False) -> str:
        now = self.clock()
        key = (link.link_id, audience, device_proven)
        cached = self._signed.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        signed = self.signer.sign(link.assertion(audience, device_proven=device_proven), now=now)
        if len(self._signed) >= self.max_entries:
            self._signed.clear()
        self._signed[key] = (now + LIFETIME_SECONDS / 2, signed)
        return signed


class GuestProxy:
    """Forwards guest requests to the owning services, one pool of keep-alive connections per service."""

    def __init__(self, routes: Mapping[str, ServiceRoute], signer: AssertionSigner, *, public_url: str,
                 connect_timeout: float = 5.0, io_timeout: float = 120.0, max_connections: int = 200,
                 pool_factory: Callable[[ServiceRoute], Upstream] | None = None,
                 device_proof: Callable[[str], tuple[bytes, bytes]] | None = None) -> None:
        """``device_proof(link_id)``: the Set-Cookie header that proves a browser for a link, given when the
        service answers with ``DEVICE_PROVEN_HEADER`` (without it, that header is only dropped)."""
        self.routes = dict(routes)
        self._device_proof = device_proof
        self.assertions = AssertionCache(signer)
        self._forwarded_proto, _, self._forwarded_host = public_url.partition("://")
        self._forwarded_host = self._forwarded_host.split("/")[0]
        self._pool_factory = pool_factory or (lambda route: _pool_for(
            route, max_connections=max_connections, connect_timeout=connect_timeout, io_timeout=io_timeout))
        self._pools: dict[str, Upstream] = {}
        self._pools_by_url: dict[str, Upstream] = {}

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()

    def route_of(self, link: LinkState) -> ServiceRoute | None:
        return self.routes.get(link.action or "")

    def _pool(self, route: ServiceRoute) -> Upstream:
        pool = self._pools_by_url.get(route.url)
        if pool is None:
            origin = urlsplit(route.url).netloc  # one pool per service process, however many routes lead there
            pool = self._pools.get(origin) or self._pools.setdefault(origin, self._pool_factory(route))
            self._pools_by_url[route.url] = pool
        return pool

    async def forward(self, scope: Scope, receive: Receive, link: LinkState, route: ServiceRoute, *, rest: str,
                      client_address: str, request_id: str, correlation_id: str | None = None,
                      language: str | None = None, device_proven: bool = False) -> StreamedServiceResponse:
        """Send the guest's request for ``rest`` (the raw part after ``/g/{link_id}``) to the link's service;
        ``language`` is the one the guest chose, if any; ``device_proven``, whether the guest's browser holds the
        link's device proof."""
        prefix = f"/g/{link.link_id}"
        incoming: list[tuple[bytes, bytes]] = scope["headers"]
        headers = guest_request_headers(incoming)
        if language:
            headers.append((CHOSEN_LANGUAGE_HEADER_BYTES, language.encode()))
        headers += [
            (ASSERTION_HEADER_BYTES,
             self.assertions.assertion_for(link, route.service, device_proven=device_proven).encode()),
            (FORWARDED_PREFIX_HEADER_BYTES, prefix.encode()),
            (b"x-forwarded-for", client_address.encode("latin-1")),
            (b"x-forwarded-proto", self._forwarded_proto.encode()),
            (b"x-forwarded-host", self._forwarded_host.encode("latin-1")),
            (REQUEST_ID_HEADER_BYTES, request_id.encode("latin-1")),
        ]
        if correlation_id:
            headers.append((CORRELATION_ID_HEADER_BYTES, correlation_id.encode("latin-1")))

        query = scope.get("query_string", b"")
        target = self.upstream_path(route, rest)
        has_body, length = _request_framing(incoming)
        outgoing = UpstreamRequest(scope["method"], target + (b"?" + query if query else b""), headers,
                                   body=_request_body(receive) if has_body else None, content_length=length)
        try:
            if tracing.enabled():  # the hot path stays as it is when tracing is off
                response = await self._send_traced(route, outgoing, incoming)
            else:
                response = await self._pool(route).send(outgoing)
        except UpstreamUnreachable as error:
            log.warning("service unreachable", service=route.service, link_id=link.link_id, error=str(error))
            raise UpstreamUnavailable(route.service) from error
        response_headers = self._response_headers(response.headers, route, prefix)
        if any(name == DEVICE_PROVEN_HEADER_BYTES for name, _ in response_headers):
            response_headers = [(name, value) for name, value in response_headers
                                if name != DEVICE_PROVEN_HEADER_BYTES]
            if self._device_proof is not None and not device_proven:
                response_headers.append(self._device_proof(link.link_id))
        if switched_to := chosen_in_query(query):
            response_headers.append(language_cookie(switched_to, secure=self._forwarded_proto == "https")
                                    .to_encoded_header())
        return StreamedServiceResponse(response, response_headers)

    @staticmethod
    def upstream_path(route: ServiceRoute, rest: str) -> bytes:
        """Where ``/g/{link_id}{rest}`` is at the owning service (without the query)."""
        return f"{_path_of(route.url)}{SERVICE_GUEST_PREFIX}{rest or '/'}".encode("latin-1")

    async def _send_traced(self, route: ServiceRoute, outgoing: UpstreamRequest,
                           incoming: list[tuple[bytes, bytes]]) -> UpstreamResponse:
        """The forward as a span of the guest's trace (continuing the guest's own ``traceparent``, if it sent one);
        the service continues it from the ``traceparent`` put on the forwarded request."""
        carried = {name.decode("latin-1"): value.decode("latin-1") for name, value in incoming
                   if name in _TRACE_HEADERS}
        with tracing.span(f"proxy to {route.service}", kind=tracing.SpanKind.CLIENT, parent=carried or None):
            outgoing.headers[:] = [(name, value) for name, value in outgoing.headers if name not in _TRACE_HEADERS]
            outgoing.headers.extend((name.encode(), value.encode())
                                    for name, value in tracing.inject_trace_headers({}).items())
            return await self._pool(route).send(outgoing)

    def _response_headers(self, raw: list[tuple[bytes, bytes]], route: ServiceRoute,
                          prefix: str) -> list[tuple[bytes, bytes]]:
        listed = _connection_listed(raw)
        dropped = _DROPPED_FROM_SERVICE | listed if listed else _DROPPED_FROM_SERVICE
        headers = []
        for name, value in raw:  # names arrive lower-cased
            if name in dropped:
                continue
            if name == b"location":
                value = self._public_location(value.decode("latin-1"), route, prefix).encode("latin-1")
            headers.append((name, value))
        return headers

    @staticmethod
    def _public_location(location: str, route: ServiceRoute, prefix: str) -> str:
        """A redirect into the service's ``/guest/`` pages, as the guest's URL under the link's prefix."""
        for base in (route.url.rstrip("/") + SERVICE_GUEST_PREFIX, SERVICE_GUEST_PREFIX):
            if location == base or location.startswith(base + "/") or location.startswith(base + "?"):
                rest = location[len(base):]
                return prefix + (rest if rest.startswith("/") else "/" + rest)
        return location


class Upstream(Protocol):
    """What the proxy needs of a connection pool (``upstream.UpstreamPool``; tests put a fake service here)."""

    async def send(self, request: UpstreamRequest) -> UpstreamResponse: ...

    async def close(self) -> None: ...


def _pool_for(route: ServiceRoute, **options: float) -> UpstreamPool:
    url = urlsplit(route.url)
    return UpstreamPool(url.hostname or "127.0.0.1", url.port or 80, **options)  # type: ignore[arg-type]


def _path_of(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def _request_framing(headers: list[tuple[bytes, bytes]]) -> tuple[bool, int | None]:
    """Whether the guest sends a body, and its length (None when it comes chunked, and goes on chunked)."""
    length: int | None = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            return True, None
        if lowered == b"content-length":
            length = int(value)  # the server in front of us has checked it already
    return bool(length), length


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    """The guest's body as the server hands it over; a guest who goes away mid-way breaks it off."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GuestWentAway
        if body := message.get("body"):
            yield body
        if not message.get("more_body"):
            return


class GuestWentAway(Exception):
    """The guest's connection closed before their request body was complete."""
