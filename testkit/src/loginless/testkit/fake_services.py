"""Test doubles of the gateway's neighbours, for its tests and benchmark: in-memory, served for real over HTTP.

- :class:`FakeLinksService`: the links service's internal API (resolve, open, use, verification codes, branding)
  over an in-memory set of links, with the same status codes and bodies as the real one.
- :class:`GuestEchoService`: an owning service's ``/guest/`` pages that verify the gateway's assertion and echo
  what they received; ``/guest/upload`` and ``/guest/download`` stream, and can be held in lockstep with the
  test to prove that nothing between them buffers a whole body.
- :func:`serve`: runs any ASGI app under uvicorn on a free loopback port, in the current event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from litestar import Litestar, MediaType, Request, Response, get, post, route
from litestar.params import FromPath, FromQuery
from litestar.response import Stream
from litestar.types import ASGIApp

from loginless.shared.web.assertion import ASSERTION_HEADER, AssertionVerifier, InvalidAssertion


@asynccontextmanager
async def serve(app: ASGIApp, *, port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port unless given) for the duration of the block; yields its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="auto"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the test runner owns signals
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises why it could not start
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.005)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{bound_port}"
    finally:
        server.should_exit = True
        await task


# ---- the links service ------------------------------------------------------------------------------------


@dataclass
class FakeLink:
    link_id: str
    tenant_id: str
    action: str
    resource_id: str
    expires_at: datetime
    recipient: dict[str, str | None]
    max_uses: int | None = None
    verification: str = "none"
    uses: int = 0
    opens: int = 0
    revoked_at: datetime | None = None
    code: str = "123456"
    attempts_left: int = 3
    codes_sent: int = 0
    one_code_at_a_time: bool = False  # like links: no new code moments after the last one
    issued_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def locked(self) -> bool:
        return self.attempts_left <= 0

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "used_up"
        return "active"

    def view(self, now: datetime) -> dict[str, Any]:
        """The body of links' ``LinkView``; a recipient without a language speaks English there, as in links."""
        return {
            "link_id": self.link_id, "tenant_id": self.tenant_id, "action": self.action,
            "resource_id": self.resource_id, "recipient": {**self.recipient,
                                                           "language": self.recipient.get("language") or "en"},
            "status": self.status(now), "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(), "max_uses": self.max_uses, "uses": self.uses,
            "opens": self.opens, "last_opened_at": None, "last_used_at": None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "verification": self.verification, "verification_locked": self.locked, "delivery": "none",
            "delivery_status": "none",
        }


@dataclass
class FakeLinksService:
    internal_secret: str
    links: dict[str, FakeLink] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    branding: dict[str, dict[str, str | None]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, link or tenant id)

    def add_tenant(self, tenant_id: str, name: str, *, contact_email: str | None = None,
                   contact_phone: str | None = None, color: str | None = "#0a7c52") -> None:
        self.branding[tenant_id] = {"name": name, "logo_url": None, "color": color, "contact_name": None,
                                    "contact_email": contact_email, "contact_phone": contact_phone}

    def issue(self, *, tenant_id: str = "tenant-1", action: str = "view", resource_id: str | None = None,
              expires_in: timedelta = timedelta(days=7), max_uses: int | None = None, verification: str = "none",
              email: str | None = "guest@example.com", phone: str | None = None,
              language: str | None = None) -> tuple[str, FakeLink]:
        """A new link; returns its token (the real service shows it only once) and the link."""
        token = secrets.token_urlsafe(32)
        link = FakeLink(
            link_id=f"lnk_{uuid.uuid4().hex[:20]}", tenant_id=tenant_id, action=action,
            resource_id=resource_id or f"res_{uuid.uuid4().hex[:12]}",
            expires_at=datetime.now(UTC) + expires_in, max_uses=max_uses, verification=verification,
            recipient={"name": "Guest", "email": email, "phone": phone, "language": language},
        )
        self.links[link.link_id] = link
        self.tokens[_fingerprint(token)] = link.link_id
        return token, link

    def app(self) -> Litestar:
        service = self

        def authorized(request: Request) -> bool:
            return hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {service.internal_secret}")

        def problem(status_code: int, **extra: Any) -> Response:
            return Response({"title": "problem", **extra}, status_code=status_code,
                            media_type="application/problem+json")

        def gone(link: FakeLink, now: datetime) -> Response:
            return problem(410, link_id=link.link_id, tenant_id=link.tenant_id, link_status=link.status(now))

        @route("/internal/{rest:path}", http_method=["GET", "POST"], status_code=200)
        async def internal(request: Request, rest: FromPath[str]) -> Response:
            if not authorized(request):
                return problem(401)
            now = datetime.now(UTC)
            parts = rest.strip("/").split("/")
            body = await request.json() if request.method == "POST" and await request.body() else {}
            if parts[:2] == ["v1", "tenants"] and parts[-1] == "branding":
                service.calls.append(("branding", parts[2]))
                branding = service.branding.get(parts[2])
                return Response(branding) if branding else problem(404)
            if parts == ["v1", "links", "resolve"]:
                link_id = service.tokens.get(_fingerprint(str(body.get("token", ""))))
                service.calls.append(("resolve", link_id or ""))
                if link_id is None:
                    return problem(404)
                link = service.links[link_id]
                return gone(link, now) if link.status(now) != "active" else Response(link.view(now))
            if parts[:2] != ["v1", "links"] or len(parts) < 3:
                return problem(404)
            operation = "/".join(parts[3:]) or request.method.lower()  # "get" for GET /links/{id}
            service.calls.append((operation, parts[2]))
            link = service.links.get(parts[2])
            if link is None:
                return problem(404)
            if operation == "get":
                return Response(link.view(now))
            if operation == "opened":
                link.opens += 1
                return Response(None, status_code=204)
            if operation == "use":
                if link.status(now) != "active":
                    return gone(link, now)
                link.uses += 1
                return Response(link.view(now))
            if operation == "verification-code":
                if link.locked:
                    return problem(423)
                if link.one_code_at_a_time and link.codes_sent:
                    return problem(429)
                link.codes_sent += 1
                return Response({"sent": True}, status_code=202)
            if operation == "verification-code/check":
                if link.locked:
                    return problem(423)
                if body.get("code") == link.code:
                    return Response({"verified": True})
                link.attempts_left -= 1
                return problem(423) if link.locked else problem(422, attempts_left=link.attempts_left)
            return problem(404)

        return Litestar([internal])


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---- an owning service ------------------------------------------------------------------------------------


@dataclass
class GuestEchoService:
    """Guest pages of a service that only echo what arrived (after verifying the assertion for ``audience``)."""

    assertion_public_key: str
    received_first_upload_chunk: asyncio.Event | None = None
    guest_received_first_download_chunk: asyncio.Event | None = None

    def app(self) -> Litestar:
        service = self

        def verify(request: Request, audience: str) -> dict[str, Any] | Response:
            verifier = AssertionVerifier(service.assertion_public_key, audience=audience)
            try:
                assertion = verifier.verify(request.headers.get(ASSERTION_HEADER))
            except InvalidAssertion as error:
                return Response({"refused": str(error.detail)}, status_code=401)
            return assertion.model_dump(mode="json")

        @post("/{audience:str}/guest/upload", status_code=200, request_max_body_size=None)
        async def upload(request: Request, audience: FromPath[str]) -> Response:
            assertion = verify(request, audience)
            if isinstance(assertion, Response):
                return assertion
            digest, size = hashlib.sha256(), 0
            async for chunk in request.stream():
                if size == 0 and chunk and service.received_first_upload_chunk is not None:
                    service.received_first_upload_chunk.set()
                digest.update(chunk)
                size += len(chunk)
            return Response({"sha256": digest.hexdigest(), "size": size, "resource_id": assertion["resource_id"]})

        @get("/{audience:str}/guest/download")
        async def download(request: Request, audience: FromPath[str], size: FromQuery[int],
                           chunk: FromQuery[int] = 1 << 16) -> Response:
            assertion = verify(request, audience)
            if isinstance(assertion, Response):
                return assertion

            async def body() -> AsyncIterator[bytes]:
                # A small first chunk, then the rest held back until the guest has it: a proxy that buffers
                # the whole response, or even one chunk ahead, would never deliver it and the test would time out.
                first = min(1024, size)
                yield pattern_bytes(0, first)
                if service.guest_received_first_download_chunk is not None:
                    await service.guest_received_first_download_chunk.wait()
                for offset in range(first, size, chunk):
                    yield pattern_bytes(offset, min(chunk, size - offset))

            return Stream(body(), media_type="application/octet-stream", headers={"content-length": str(size)})

        @get("/{audience:str}/guest/redirect")
        async def redirect(request: Request, audience: FromPath[str]) -> Response:
            return Response(None, status_code=303, headers={
                "location": "/guest/after?x=1", "set-cookie": "session=from-service; Path=/",
                "content-security-policy": "sandbox",
            })

        @route(["/{audience:str}/guest", "/{audience:str}/guest/{path:path}"],
               http_method=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"], status_code=200,
               media_type=MediaType.JSON)
        async def echo(request: Request, audience: FromPath[str]) -> Response:
            assertion = verify(request, audience)
            if isinstance(assertion, Response):
                return assertion
            return Response({
                "audience": audience, "assertion": assertion, "method": request.method,
                "path": (request.scope.get("raw_path") or b"").decode().split(f"/{audience}", 1)[1],
                "query": request.scope.get("query_string", b"").decode(),
                "headers": {name: value for name, value in request.headers.items()},
                "body": (await request.body()).decode("latin-1"),
            })

        return Litestar([upload, download, redirect, echo])


_CYCLE = bytes(range(251))  # a prime length: any shift, loss or reordering of chunks changes the bytes


def pattern_bytes(offset: int, length: int) -> bytes:
    """The bytes at ``offset .. offset + length`` of an endless, deterministic stream."""
    start = offset % len(_CYCLE)
    return (_CYCLE * ((start + length) // len(_CYCLE) + 1))[start:start + length]
