"""Request and correlation ids: taken from the caller's headers or made here, bound to every log line; and the
layer around every service's application that does it, with the access log."""

from __future__ import annotations

import random
import re
import time

import structlog
from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from loginless.shared import tracing
from loginless.shared.eventstore.runner import Cause
from loginless.shared.tracing import add_trace_ids
from loginless.shared.web.access_log import AccessLog
from loginless.shared.web.logging import TOKEN_LENGTH, redact_text

REQUEST_ID_HEADER = "x-request-id"
CORRELATION_ID_HEADER = "x-correlation-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


_REQUEST_ID_BYTES = REQUEST_ID_HEADER.encode()
_CORRELATION_ID_BYTES = CORRELATION_ID_HEADER.encode()
_UUID4_BITS = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant
_UUID4_MASK = ~((0xF << 76) | (0x3 << 62))
_ID_HEADERS = (_REQUEST_ID_BYTES, _CORRELATION_ID_BYTES)
_NOT_LOGGED = ("/health", "/metrics")  # probes and scrapes: many, and nothing to learn from each


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
    """The correlation id of the request being handled (set by :class:`RequestContext`); a request that
    did not pass through it -- a test calling a handler directly -- gets a fresh one."""
    return connection.scope.get("state", {}).get("correlation_id") or _new_request_id()


def cause_of(connection: ASGIConnection) -> Cause:
    """Why a command runs when a request asks for it: the request's correlation id, copied onto its events."""
    return Cause(correlation_id_of(connection))


class RequestContext:
    """What every request of a service passes through, as one ASGI layer around the whole Litestar application:
    its request and correlation ids (taken or made, sent back as headers, bound to every log line written while it
    is handled), a server span when tracing is on, and one access line per response, with the fields of the
    request and of its answer.

    One plain ASGI layer rather than Litestar middleware: it sees every answer (unknown routes, refusals of the
    input guard, faults turned into problems), and a Litestar middleware costs a layer of wrappers per request.
    The line is rendered directly (``access_log.AccessLog``); the structlog pipeline and Litestar's
    ``LoggingMiddleware`` (two lines per request, each through the pipeline) were half of this plumbing's CPU.
    """

    def __init__(self, app: ASGIApp, access_log: AccessLog) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if tracing.enabled():
            await self._traced(scope, receive, send)
        else:
            await self._handle(scope, receive, send, None)

    async def _traced(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A server span, continuing the caller's trace (its ``traceparent`` header). Named by the route's template,
        never the path (a path can hold a token): the route is known once the router has run."""
        carried = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
                   if name in (b"traceparent", b"tracestate")}
        with tracing.span(f"{scope['method']} unmatched route", kind=tracing.SpanKind.SERVER,
                          parent=carried or None, attributes={"http.request.method": scope["method"]}) as current:
            await self._handle(scope, receive, send, current)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, span: tracing.Span | None) -> None:
        started = time.perf_counter()
        path = scope["path"]  # before routing: a mount's router shortens it
        request_id, correlation_id = request_ids(scope)
        ids_header = [(_REQUEST_ID_BYTES, request_id.encode()), (_CORRELATION_ID_BYTES, correlation_id.encode())]
        status = 500  # what the server answers if no response starts

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*(header for header in message.get("headers", ())
                                        if header[0] not in _ID_HEADERS), *ids_header]
            await send(message)

        # Bound in structlog's own context variables (handlers' lines get them through ``merge_contextvars``) and
        # reset afterwards; ``clear_contextvars`` would copy every context variable of the task, twice a request.
        bound = structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id)
        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            try:
                if span is not None:
                    route = scope.get("path_template") or "unmatched route"
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attributes({"http.route": route, "http.response.status_code": status})
                if self.access_log.enabled and not path.startswith(_NOT_LOGGED):
                    self._log(scope, path, status, started, request_id, correlation_id)
            finally:
                structlog.contextvars.reset_contextvars(**bound)

    def _log(self, scope: Scope, path: str, status: int, started: float, request_id: str,
             correlation_id: str) -> None:
        # Never headers, cookies or query strings: they carry API keys and capability tokens.
        fields = {"method": scope["method"],
                  "path": redact_text(path) if len(path) >= TOKEN_LENGTH else path,  # a token can be anywhere in it
                  "status_code": status, "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                  "request_id": request_id, "correlation_id": correlation_id}
        if tracing.enabled():
            add_trace_ids(None, "", fields)
        self.access_log.info("HTTP Response", **fields)


def with_request_context(app: Litestar, access_log: AccessLog) -> None:
    """Put :class:`RequestContext` around ``app``'s whole handler (routing, errors and all)."""
    app.asgi_handler = RequestContext(app.asgi_handler, access_log)
