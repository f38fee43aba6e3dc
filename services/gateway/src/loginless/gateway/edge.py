"""What wraps every request the gateway answers, outside Litestar's routing, so nothing escapes it.

``GuestSafetyHeaders`` puts the headers the guest URL contract promises (docs/architecture.md) on every response:
pages, proxied responses, errors, unknown routes, health checks. ``LinkTokenCapture`` takes the token out of
``/l/{token}`` before anything else sees the request: routing, request logging, exception logging, metrics and
tracing only ever see ``/l/{token}`` as :data:`REDACTED_LINK_PATH`; the handler reads the token from the request
state.

Both wrap the whole Litestar application (``app.asgi_handler``) because Litestar's own middleware runs only for
requests that matched a route.
"""

from __future__ import annotations

from urllib.parse import unquote

from litestar.types import ASGIApp, Message, Receive, Scope, Send

LINK_PREFIX = "/l/"
REDACTED_LINK_PATH = "/l/redacted"
TOKEN_STATE_KEY = "link_token"

# Added to every response; an existing value is replaced (a service cannot weaken them).
_REPLACED = {
    b"referrer-policy": b"no-referrer",
    b"cache-control": b"no-store",
    b"x-robots-tag": b"noindex, nofollow",
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
}


class GuestSafetyHeaders:
    """Adds the promised headers to every HTTP response.

    The gateway's Content-Security-Policy is always added. A policy the proxied service sent is kept beside it:
    browsers enforce every policy they get, so a second one can only restrict further, never loosen ours.
    """

    def __init__(self, app: ASGIApp, *, content_security_policy: str) -> None:
        self.app = app
        self._csp = content_security_policy.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", ())
                           if name.lower() not in _REPLACED]
                headers += _REPLACED.items()
                headers.append((b"content-security-policy", self._csp))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LinkTokenCapture:
    """Moves the token of ``/l/{token}`` from the path into the request state, replacing the path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(LINK_PREFIX):
            # Everything after /l/, even with more slashes: any such URL is a (possibly malformed) token.
            raw_path = scope.get("raw_path") or scope["path"].encode()
            token = unquote(raw_path.decode("latin-1")[len(LINK_PREFIX):])
            scope = {**scope, "path": REDACTED_LINK_PATH, "raw_path": REDACTED_LINK_PATH.encode(),
                     "state": {**scope.get("state", {}), TOKEN_STATE_KEY: token}}
        await self.app(scope, receive, send)


def guard_edge(app: ASGIApp, *, content_security_policy: str) -> ASGIApp:
    """The gateway's application wrapped in both layers, headers outermost so they cover everything."""
    return GuestSafetyHeaders(LinkTokenCapture(app), content_security_policy=content_security_policy)

