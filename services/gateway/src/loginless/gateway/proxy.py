"""The reverse proxy from ``/g/{link_id}/{path}`` to ``{service}/guest/{path}``, streaming both ways.

Request and response bodies pass through chunk by chunk (never a whole upload or download in memory). On the way
in the guest's cookies, any ``Authorization`` and every header the gateway itself vouches for are dropped, so a
guest can forge none of them; the gateway then adds its signed assertion about the link, whose resource id is
the link's own: the path a guest asks for never decides which resource they reach. On the way out hop-by-hop
headers and cookies are dropped and redirects into ``/guest/`` are mapped back under the link's prefix.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping

import httpx
import structlog
from litestar import Request
from litestar.types import Receive, Scope, Send

from loginless.gateway.read_model import LinkState
from loginless.gateway.settings import ServiceRoute
from loginless.shared.web.assertion import (
    ASSERTION_HEADER,
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
}
_GATEWAY_HEADER_PREFIXES = (b"x-loginless-", FORWARDED_PREFIX_HEADER.encode())
_DROPPED_FROM_SERVICE = HOP_BY_HOP | {b"set-cookie", b"set-cookie2"}

SERVICE_GUEST_PREFIX = "/guest"


class UpstreamUnavailable(Exception):
    """The owning service cannot be reached; the guest sees the 503 page."""


def _connection_listed(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Headers named in ``Connection`` are hop-by-hop too (RFC 9110 §7.6.1)."""
    listed: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            listed |= {token.strip().lower() for token in value.split(b",") if token.strip()}
    return listed


def guest_request_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The guest's headers a service may see."""
    dropped = _DROPPED_FROM_GUEST | _connection_listed(headers)
    return [(name, value) for name, value in headers
            if (lowered := name.lower()) not in dropped and not lowered.startswith(_GATEWAY_HEADER_PREFIXES)]


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"transfer-encoding" or (lowered == b"content-length" and value.strip() != b"0"):
            return True
    return False


class StreamedServiceResponse:
    """An ASGI app that relays one service response, chunk by chunk, and then closes it."""

    def __init__(self, response: httpx.Response, headers: list[tuple[bytes, bytes]]) -> None:
        self.response = response
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.response.status_code, "headers": self.headers})
            remaining = _content_length(self.headers)
            finished = False
            if scope["method"] != "HEAD" and remaining != 0:
                # Read to the end even after the last byte, so the connection goes back to the pool.
                async for chunk in self.response.aiter_raw():
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
        self._signed: dict[tuple[str, str], tuple[float, str]] = {}

    def assertion_for(self, link: LinkState, audience: str) -> str:
        now = self.clock()
        key = (link.link_id, audience)
        cached = self._signed.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        signed = self.signer.sign(link.assertion(audience), now=now)
        if len(self._signed) >= self.max_entries:
            self._signed.clear()
        self._signed[key] = (now + LIFETIME_SECONDS / 2, signed)
        return signed


def _http_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    return httpx.AsyncHTTPTransport(limits=limits)


class ShardedTransport(httpx.AsyncBaseTransport):
    """httpx's transport, as many small connection pools, each request going to the least busy one.

    httpcore's pool checks every idle connection it holds on each request, with a system call for each (is the
    socket readable?). With dozens of keep-alive connections to a service that becomes most of a proxied
    request's cost (measured: 75 checks per request at 32 concurrent guests). Pools of four keep the checks few,
    while httpcore still does all the connection handling.
    """

    CONNECTIONS_PER_SHARD = 4

    def __init__(self, max_connections: int, *,
                 shard: Callable[[httpx.Limits], httpx.AsyncBaseTransport] = _http_transport) -> None:
        per_shard = self.CONNECTIONS_PER_SHARD
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        self._shards = [shard(limits) for _ in range(max(1, -(-max_connections // per_shard)))]
        self._in_flight = [0] * len(self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._shards)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1
        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            self._in_flight[index] -= 1
            raise

        def done() -> None:
            self._in_flight[index] -= 1

        return httpx.Response(response.status_code, headers=response.headers.raw,
                              stream=_StreamThenCall(response.stream, done), extensions=response.extensions)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class _StreamThenCall(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, on_close: Callable[[], None]) -> None:
        self._stream, self._on_close = stream, on_close

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._on_close is not None:
                self._on_close, on_close = None, self._on_close
                on_close()


class GuestProxy:
    """Forwards guest requests with httpx at the transport level.

    Deliberately not ``httpx.AsyncClient``: a client keeps a cookie jar, and one shared by every guest would
    hand one guest's service cookies to the next. A proxy also must not follow redirects or authenticate, which
    is all the client layer adds, and skipping it saves about a third of the CPU per proxied request.
    """

    def __init__(self, routes: Mapping[str, ServiceRoute], signer: AssertionSigner, *, public_url: str,
                 connect_timeout: float = 5.0, io_timeout: float = 120.0, max_connections: int = 200,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.routes = dict(routes)
        self.assertions = AssertionCache(signer)
        self._forwarded_proto, _, self._forwarded_host = public_url.partition("://")
        self._forwarded_host = self._forwarded_host.split("/")[0]
        self._timeouts = httpx.Timeout(io_timeout, connect=connect_timeout, pool=connect_timeout).as_dict()
        self._transport = transport or ShardedTransport(max_connections)

    async def close(self) -> None:
        await self._transport.aclose()

    def route_of(self, link: LinkState) -> ServiceRoute | None:
        return self.routes.get(link.action or "")

    async def forward(self, request: Request, link: LinkState, route: ServiceRoute, *, rest: str,
                      client_address: str, request_id: str, language: str | None = None) -> StreamedServiceResponse:
        """Send the guest's request for ``rest`` (the part after ``/g/{link_id}``) to the link's service."""
        scope = request.scope
        prefix = f"/g/{link.link_id}"
        incoming: list[tuple[bytes, bytes]] = list(scope["headers"])
        headers = guest_request_headers(incoming)
        headers += [
            (ASSERTION_HEADER.encode(), self.assertions.assertion_for(link, route.service).encode()),
            (FORWARDED_PREFIX_HEADER.encode(), prefix.encode()),
            (b"x-forwarded-for", client_address.encode("latin-1")),
            (b"x-forwarded-proto", self._forwarded_proto.encode()),
            (b"x-forwarded-host", self._forwarded_host.encode("latin-1")),
            (REQUEST_ID_HEADER.encode(), request_id.encode("latin-1")),
        ]
        correlation_id = scope.get("state", {}).get("correlation_id")
        if correlation_id:
            headers.append((CORRELATION_ID_HEADER.encode(), correlation_id.encode("latin-1")))
        if language:  # the guest picked a language on a gateway page; the service's pages should follow
            headers = [(name, value) for name, value in headers if name.lower() != b"accept-language"]
            headers.append((b"accept-language", language.encode()))

        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{route.url.rstrip('/')}{SERVICE_GUEST_PREFIX}{rest or '/'}" + (f"?{query}" if query else "")
        content = _request_body(request) if _has_body(incoming) else None
        outgoing = httpx.Request(scope["method"], url, headers=headers, content=content,
                                 extensions={"timeout": self._timeouts})
        try:
            response = await self._transport.handle_async_request(outgoing)
        except httpx.TransportError as error:
            log.warning("service unreachable", service=route.service, link_id=link.link_id,
                        error=type(error).__name__)
            raise UpstreamUnavailable(route.service) from error
        return StreamedServiceResponse(response, self._response_headers(response, route, prefix))

    def _response_headers(self, response: httpx.Response, route: ServiceRoute,
                          prefix: str) -> list[tuple[bytes, bytes]]:
        raw = list(response.headers.raw)
        dropped = _DROPPED_FROM_SERVICE | _connection_listed(raw)
        headers = []
        for name, value in raw:
            lowered = name.lower()
            if lowered in dropped:
                continue
            if lowered == b"location":
                value = self._public_location(value.decode("latin-1"), route, prefix).encode("latin-1")
            headers.append((lowered, value))
        return headers

    @staticmethod
    def _public_location(location: str, route: ServiceRoute, prefix: str) -> str:
        """A redirect into the service's ``/guest/`` pages, as the guest's URL under the link's prefix."""
        for base in (route.url.rstrip("/") + SERVICE_GUEST_PREFIX, SERVICE_GUEST_PREFIX):
            if location == base or location.startswith(base + "/") or location.startswith(base + "?"):
                rest = location[len(base):]
                return prefix + (rest if rest.startswith("/") else "/" + rest)
        return location


async def _request_body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk
