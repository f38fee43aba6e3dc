"""A real gateway (uvicorn, in this process) on real PostgreSQL, with the links service's in-memory fake in place of
its links client, in front of a fake owning service served over HTTP on a free port. Each test gets its own, with
clocks it can move. (The integration and browser tests' fixtures; the unit tests use none of them.)"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from loginless.gateway.bootstrap import MIGRATIONS, create_app
from loginless.gateway.guest_cookie import COOKIE_NAME, Grant, GuestCookies, GuestPass
from loginless.gateway.read_model import LinkStateFreshness, LinkStateStore
from loginless.gateway.settings import GatewaySettings
from loginless.shared.eventstore import migrate
from loginless.testkit.clock import ManualClock
from loginless.testkit.fake_links import FakeLinks
from loginless.testkit.fake_services import GuestEchoService, serve

INTERNAL_SECRET = "internal-secret-for-tests"
COOKIE_SECRET = "cookie-secret-for-tests-0123456789"
TENANT = "tenant-1"
FIRM = "Acme Tax Advisors"
FIRM_EMAIL = "help@acme.example"
SERVICES = {"view": "documents", "upload": "documents", "sign": "signing", "pay": "payments", "request": "requests"}


@dataclass
class GatewayUnderTest:
    url: str
    settings: GatewaySettings
    links: FakeLinks
    echo: GuestEchoService
    monotonic: ManualClock
    link_states: LinkStateStore
    assertion_public_key: str

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30, **kwargs)

    def cookie_for(self, link_id: str, grant: Grant = Grant.ACCESS, *, lifetime: int = 3600) -> str:
        """A genuine cookie, as if the guest had opened the link (without telling the read model)."""
        value = GuestCookies(COOKIE_SECRET, secure=False).encode(GuestPass(link_id, grant, int(time.time()) + lifetime))
        return f"{COOKIE_NAME}={value}"

    async def enter(self, http: httpx.AsyncClient, token: str) -> str:
        """Open ``/l/{token}`` like a browser; returns the cookie header the guest holds afterwards."""
        response = await http.get(f"/l/{token}")
        assert response.status_code == 200, response.text
        cookie = response.headers["set-cookie"].split(";")[0]
        return cookie


@pytest.fixture
async def schema(database_url) -> AsyncIterator[str]:
    """A fresh gateway schema (migrated), dropped afterwards."""
    name = f"gateway_test_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(database_url)
    try:
        await migrate(connection, name, [MIGRATIONS])
        yield name
        await connection.execute(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        await connection.close()


GatewayFactory = Callable[..., AbstractAsyncContextManager[GatewayUnderTest]]


@pytest.fixture
def start_gateway(database_url, kafka_bootstrap_servers, assertion_keys, schema) -> GatewayFactory:
    """``async with start_gateway(**settings) as gateway``: the fake owning service served, then the gateway."""
    private_key, public_key = assertion_keys

    @asynccontextmanager
    async def start(*, service_url: str | None = None, **overrides: Any) -> AsyncIterator[GatewayUnderTest]:
        links = FakeLinks(public_url="http://127.0.0.1")
        links.add_tenant(TENANT, FIRM, contact_email=FIRM_EMAIL, contact_phone="+34 600 111 222", color="#0a7c52")
        echo = GuestEchoService(public_key)
        monotonic = ManualClock(10_000.0)
        async with serve(echo.app()) as echo_url:
            # A schema of the test's own, so tests never share a read model.
            settings = GatewaySettings(**{
                "database_schema": schema, "database_url": database_url,
                "kafka_bootstrap_servers": kafka_bootstrap_servers,
                "links_url": "http://127.0.0.1:9",  # never called: the fake stands in for the links client
                "internal_api_secret": INTERNAL_SECRET, "assertion_private_key": private_key,
                "cookie_secret": COOKIE_SECRET, "public_url": "http://127.0.0.1",
                # Each request reads the read model, so a test that changes it sees the effect at once.
                "link_state_cache_seconds": 0,
                # No worker runs unless a test starts one: the report made below stands for it, for an hour.
                "link_state_max_staleness_seconds": 3600,
                "routes": {action: {"service": service, "url": f"{service_url or echo_url}/{service}"}
                           for action, service in SERVICES.items()},
                **overrides,
            })
            app = create_app(settings, rate_limit_clock=monotonic, links=links)
            pool = await asyncpg.create_pool(database_url, min_size=0, max_size=2)
            await LinkStateFreshness(pool, schema=schema).report({0: datetime.now(UTC)})
            try:
                async with serve(app) as gateway_url:
                    yield GatewayUnderTest(gateway_url, settings, links, echo, monotonic,
                                           LinkStateStore(pool, schema=schema), public_key)
            finally:
                await pool.close()

    return start


@pytest.fixture
async def gateway(start_gateway) -> AsyncIterator[GatewayUnderTest]:
    async with start_gateway() as running:
        yield running
