"""Test doubles of the services behind the gateway, served for real over HTTP (the links service's own stand-in is
:mod:`loginless.testkit.fake_links`, used in process).

- :class:`GuestEchoService`: an owning service's ``/guest/`` pages that verify the gateway's assertion and echo
  what they received; ``/guest/upload`` and ``/guest/download`` stream, and can be held in lockstep with the
  test to prove that nothing between them buffers a whole body.
- :func:`serve`: runs any ASGI app under uvicorn on a free loopback port, in the current event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
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


# ---- an owning service ------------------------------------------------------------------------------------


async def request_body(receive) -> bytes:  # noqa: ANN001 -- an ASGI receive callable
    """The whole body of the ASGI request being received (an app in a test that wants all of it at once)."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


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
