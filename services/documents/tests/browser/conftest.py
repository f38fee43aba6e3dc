"""Browser tests: Debian's Chromium, driven by Playwright, against the documents app served in this process behind a
small stand-in of the gateway (it signs the assertion and proxies ``/g/{link_id}/…`` to ``/guest/…``) and a TCP
proxy whose connections the tests can cut."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from loginless.documents.bootstrap import create_app
from loginless.links.views import LinkView
from loginless.shared.web.assertion import (
    ASSERTION_HEADER,
    FORWARDED_PREFIX_HEADER,
    AssertionSigner,
    GuestAssertion,
    GuestRecipient,
)
from loginless.testkit.browser import CuttableProxy, chromium
from loginless.testkit.fake_links import FakeLinks
from loginless.testkit.network import free_port

# What the real gateway adds to every response (services/gateway: edge.py and its default policy).
STRICT_CSP = (b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
              b"object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
GATEWAY_HEADERS = [
    (b"referrer-policy", b"no-referrer"), (b"x-robots-tag", b"noindex, nofollow"),
    (b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"), (b"x-frame-options", b"DENY"),
    (b"content-security-policy", STRICT_CSP),
]
HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"proxy-authorization",
              b"host", b"content-length", b"cookie"}


def wait_until(condition, *, timeout: float = 30.0, what: str = "condition") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


class ThreadedServer:
    """An ASGI app served by uvicorn on its own thread and event loop."""

    def __init__(self, app, port: int) -> None:  # noqa: ANN001
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                                    access_log=False, lifespan="on", timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> ThreadedServer:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), what="server start")
        assert self.server.started, "the server did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class GatewayStandIn:
    """What the real gateway does for a guest who already holds the link cookie, reduced to the contract: check
    the link, attach a signed assertion and ``X-Forwarded-Prefix``, stream both ways, add the gateway's headers
    (its strict CSP is always added; a policy the service sent stays beside it and can only restrict further)."""

    def __init__(self, upstream: str, links: FakeLinks, private_key: str) -> None:
        self.upstream, self.links, self.signer = upstream, links, AssertionSigner(private_key)
        self.http = None

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        match = re.match(r"^/g/([A-Za-z0-9_-]+)(/.*)?$", scope["path"])
        link = self._link(match.group(1)) if match else None
        if link is None:
            return await self._plain(send, 404, b"no such link")
        if link.status != "active":
            return await self._plain(send, 410, b"this link has expired")
        assertion = self.signer.sign(GuestAssertion(
            link_id=link.link_id, tenant_id=link.tenant_id, action=link.action, resource_id=link.resource_id,
            recipient=GuestRecipient(email=link.recipient.email), link_expires_at=link.expires_at,
            audience="documents"))
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        headers += [(ASSERTION_HEADER.encode(), assertion.encode()),
                    (FORWARDED_PREFIX_HEADER.encode(), f"/g/{link.link_id}".encode()),
                    (b"x-forwarded-for", scope["client"][0].encode())]
        if any(k.lower() == b"content-length" for k, _ in scope["headers"]):
            headers.append((b"content-length", dict(scope["headers"])[b"content-length"]))
        url = f"{self.upstream}/guest{match.group(2) or '/'}"
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode()
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=httpx.Timeout(60, connect=5))

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ConnectionResetError("the guest went away")  # aborts the upstream request too
                if message.get("body"):
                    yield message["body"]
                if not message.get("more_body"):
                    return

        has_body = scope["method"] in {"POST", "PATCH", "PUT"}
        request = self.http.build_request(scope["method"], url, headers=headers, content=body() if has_body else None)
        response = await self.http.send(request, stream=True)
        try:
            out = [(k.lower().encode(), v.encode()) for k, v in response.headers.items()
                   if k.lower().encode() not in HOP_BY_HOP | {b"cache-control", b"x-content-type-options"}]
            if "content-length" in response.headers:
                out.append((b"content-length", response.headers["content-length"].encode()))
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": out + GATEWAY_HEADERS})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    def _link(self, link_id: str) -> LinkView | None:
        try:
            return self.links.state_of(link_id)
        except KeyError:
            return None

    @staticmethod
    async def _plain(send, status: int, text: bytes) -> None:  # noqa: ANN001
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain"), *GATEWAY_HEADERS]})
        await send({"type": "http.response.body", "body": text})


class Stack:
    def __init__(self, documents: ThreadedServer, gateway: ThreadedServer, proxy: CuttableProxy) -> None:
        self.documents, self.gateway, self.proxy = documents, gateway, proxy

    def guest_url(self, link_id: str, path: str = "/") -> str:
        return f"{self.proxy.url}/g/{link_id}{path}"


@pytest.fixture(scope="session")
def stack(harness):  # noqa: ANN001, ANN201
    app = create_app(harness.settings, links=harness.links, clock=harness.clock)
    documents = ThreadedServer(app, free_port()).start()
    gateway = ThreadedServer(GatewayStandIn(documents.url, harness.links, harness.private_key), free_port()).start()
    proxy = CuttableProxy(int(gateway.url.rsplit(":", 1)[1])).start()
    yield Stack(documents, gateway, proxy)
    proxy.stop()
    gateway.stop()
    documents.stop()


@pytest.fixture(scope="session")
async def browser():  # noqa: ANN201
    async with chromium() as launched:
        yield launched
