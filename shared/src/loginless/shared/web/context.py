"""Request and correlation ids: taken from the caller's headers or made here, bound to every log line."""

from __future__ import annotations

import random
import re
import uuid

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
CORRELATION_ID_HEADER = "x-correlation-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _incoming(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            text = value.decode("latin-1")
            return text if _SAFE_ID.match(text) else None  # never echo arbitrary input into logs
    return None


def _new_request_id() -> str:
    """A version-4 UUID from the process's pseudo-random generator: a request id only needs to be unique, and
    ``uuid.uuid4()`` would make a system call (``getrandom``) on every request."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def request_ids(scope: Scope) -> tuple[str, str]:
    """The request's id and correlation id: the caller's, if well-formed, else new."""
    request_id = _incoming(scope, REQUEST_ID_HEADER) or _new_request_id()
    correlation_id = _incoming(scope, CORRELATION_ID_HEADER) or request_id
    scope.setdefault("state", {})["correlation_id"] = correlation_id
    return request_id, correlation_id


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
