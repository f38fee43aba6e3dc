"""Input no handler can store is refused at the edge, once for every route of every service.

PostgreSQL's ``text`` cannot hold a NUL character, UTF-8 cannot encode an unpaired surrogate, and an index cannot
hold a very long key: such a value in a path, a query, a JSON body or a form would otherwise travel down to the
database and come back as a 500. The guard looks at every string a request carries before the handler runs and
answers ``422 application/problem+json`` naming the field (``path.link_id``, ``query.resource_id``, and a body's
members as every 422 of the services names them: ``recipients[0].name``). The limits are constants here, and the
OpenAPI documents declare the same ones (``openapi.py`` reads them), so a client learns from the document what the
server enforces.

Bodies are only read for JSON and URL-encoded forms, and only on routes that limit their size (read whole by the
handler anyway); uploads and other streamed bodies pass untouched.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.types import ASGIApp, Receive, Scope, Send

from loginless.shared.errors import InvalidRequest

# The longest id or other value a path segment or a query parameter may carry. Every id of loginless is far
# shorter (prefixed random ids, UUIDs); a resource id chosen by a firm is at most 128 characters.
MAX_PATH_VALUE_LENGTH = 256
MAX_QUERY_VALUE_LENGTH = 1024

# Characters no stored text may contain: NUL (PostgreSQL refuses it) and unpaired UTF-16 surrogates (no UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

_CHECKED_BODIES = ("application/json", "application/x-www-form-urlencoded")
_BODILESS = ("GET", "HEAD", "OPTIONS")  # methods whose body, if any, no handler reads


def problem_in(value: str, limit: int | None = None) -> str | None:
    """Why ``value`` cannot be taken, or None."""
    if (found := _UNSTORABLE.search(value)) is not None:
        return "contains a NUL character" if found[0] == "\x00" else "contains an unpaired UTF-16 surrogate"
    if limit is not None and len(value) > limit:
        return f"is longer than {limit} characters"
    return None


def problems_in_json(value: Any, where: str = "") -> list[dict[str, str]]:
    """Every unstorable string in a decoded JSON value, keys included, each with the path that leads to it."""
    found: list[dict[str, str]] = []
    if isinstance(value, str):
        if (problem := problem_in(value)) is not None:
            found.append({"field": where or "body", "message": problem})
    elif isinstance(value, dict):
        for key, item in value.items():
            if (problem := problem_in(key)) is not None:
                found.append({"field": where or "body", "message": f"has a member name that {problem}"})
            found.extend(problems_in_json(item, f"{where}.{key}" if where else key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(problems_in_json(item, f"{where}[{index}]"))
    return found


def _decoded_json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        # msgspec refuses an unpaired surrogate escape (``"\ud800"``) as malformed; Python's decoder keeps it, so
        # the field can still be named. Anything that is not JSON at all is left to the handler's own 400.
        try:
            return json.loads(body)
        except ValueError:
            return None


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the handler: the body already read, then whatever the connection says next (a
    disconnect). Handlers that read ``request.receive()`` themselves get the same bytes as those that ask Litestar."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Any:
        return pending.pop() if pending else await receive()

    return replay


class InputGuard:
    """Runs after routing (path parameters are known) and before guards, dependencies and the handler: a route
    middleware (``middleware=[InputGuard]``). A plain ASGI class rather than Litestar's ``ASGIMiddleware``, whose
    exclusion checks it has no use for and which every request would pay."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Every request passes here: what is not there (path parameters, a query, a body) costs nothing.
        errors = [
            {"field": f"path.{name}", "message": problem}
            for name, value in path_params.items()
            if isinstance(value, str) and (problem := problem_in(value, MAX_PATH_VALUE_LENGTH)) is not None
        ] if (path_params := scope.get("path_params")) else []
        if query_string := scope.get("query_string"):
            errors += [
                {"field": f"query.{name}", "message": problem}
                for name, value in parse_qsl(query_string.decode("utf-8", "surrogateescape"), keep_blank_values=True,
                                             errors="surrogateescape")
                if (problem := problem_in(value, MAX_QUERY_VALUE_LENGTH) or problem_in(name)) is not None
            ]
        body = None if errors or scope["method"] in _BODILESS else await self._small_body(scope, receive)
        if body:
            errors = self._body_problems(scope, body)
        if errors:
            raise InvalidRequest("; ".join(f"{e['field']} {e['message']}" for e in errors), errors=errors)
        await self.app(scope, receive if body is None else _replaying(body, receive), send)

    @staticmethod
    async def _small_body(scope: Scope, receive: Receive) -> bytes | None:
        """The body of a JSON or form request to a route that limits its size, read whole (as the handler would);
        None for anything else, whose body stays unread: a route without a limit streams its body (an upload
        sent as a form by ``curl --data-binary`` must not be held in memory here)."""
        request: Request = Request(scope, receive)
        if (request.content_type[0] not in _CHECKED_BODIES
                or scope["route_handler"].resolve_request_max_body_size() is None):
            return None
        return await request.body()

    @staticmethod
    def _body_problems(scope: Scope, body: bytes) -> list[dict[str, str]]:
        content_type = Request(scope).content_type[0]
        if content_type == "application/json":
            return problems_in_json(_decoded_json(body))
        return [
            {"field": name, "message": problem}
            for name, value in parse_qsl(body.decode("utf-8", "surrogateescape"), keep_blank_values=True,
                                         errors="surrogateescape")
            if (problem := problem_in(value) or problem_in(name)) is not None
        ]
