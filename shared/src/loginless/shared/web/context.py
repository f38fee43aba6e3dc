"""Request and correlation ids: taken from the caller's headers or made here, bound to every log line."""

from __future__ import annotations

import random
import re

import structlog
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from loginless.shared import tracing
from loginless.shared.eventstore.runner import Cause

REQUEST_ID_HEADER = "x-request-id"
CORRELATION_ID_HEADER = "x-correlation-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


_REQUEST_ID_BYTES = REQUEST_ID_HEADER.encode()
_CORRELATION_ID_BYTES = CORRELATION_ID_HEADER.encode()
_UUID4_BITS = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant
_UUID4_MASK = ~((0xF << 76) | (0x3 << 62))


def _safe(value: bytes | None) -> str | None:
    if value is None:
        return None
    text = value.decode("latin-1")
    return text if _SAFE_ID.match(text) else None  # never echo arbitrary input into logs


def _new_request_id() -> str:
    """A version-4 UUID from the process's pseudo-random generator: a request id only needs to be unique, and
    ``uuid.uuid4()`` would make a system call (``getrandom``) on every request."""
    digits = f"{random.getrandbits(128) & _UUID4_MASK | _UUID4_BITS:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def request_ids(scope: Scope) -> tuple[str, str]:
    """The request's id and correlation id: the caller's, if well-formed, else new."""
    incoming_request_id = incoming_correlation_id = None
    for key, value in scope.get("headers", ()):  # one pass: this runs for every request
        if key[:2] in (b"x-", b"X-"):
            key = key.lower()
            if key == _REQUEST_ID_BYTES and incoming_request_id is None:
                incoming_request_id = value
            elif key == _CORRELATION_ID_BYTES and incoming_correlation_id is None:
                incoming_correlation_id = value
    request_id = _safe(incoming_request_id) or _new_request_id()
    correlation_id = _safe(incoming_correlation_id) or request_id
    scope.setdefault("state", {})["correlation_id"] = correlation_id
    return request_id, correlation_id


def correlation_id_of(connection: ASGIConnection) -> str:
    """The correlation id of the request being handled (set by :class:`RequestContextMiddleware`); a request that
    did not pass through it -- a test calling a handler directly -- gets a fresh one."""
    return connection.scope.get("state", {}).get("correlation_id") or _new_request_id()


def cause_of(connection: ASGIConnection) -> Cause:
    """Why a command runs when a request asks for it: the request's correlation id, copied onto its events."""
    return Cause(correlation_id_of(connection))


def bind_request_ids(scope: Scope) -> tuple[str, str]:
    """The request's ids, also bound to every log line written while it is handled."""
    request_id, correlation_id = request_ids(scope)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id)
    return request_id, correlation_id


class RequestContextMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request_id, correlation_id = bind_request_ids(scope)

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers[REQUEST_ID_HEADER] = request_id
                headers[CORRELATION_ID_HEADER] = correlation_id
            await send(message)

        try:
            await next_app(scope, receive, send_with_ids)
        finally:
            structlog.contextvars.clear_contextvars()


class TracingMiddleware(ASGIMiddleware):
    """A server span per request, continuing the caller's trace (its ``traceparent`` header) when tracing is on
    (``loginless.shared.tracing``). Named by the route's template, never the path: a path can hold a token."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if not tracing.enabled():
            await next_app(scope, receive, send)
            return
        carried = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
                   if name in (b"traceparent", b"tracestate")}
        route = scope.get("path_template") or "unmatched route"
        answered: dict[str, int] = {}

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            await send(message)

        with tracing.span(f"{scope['method']} {route}", kind=tracing.SpanKind.SERVER, parent=carried or None,
                          attributes={"http.request.method": scope["method"], "http.route": route}) as current:
            await next_app(scope, receive, send_noting_status)
            current.set_attribute("http.response.status_code", answered.get("status", 0))
