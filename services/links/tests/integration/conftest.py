"""Fixtures for the links service against real PostgreSQL, Kafka and Mailpit (their endpoints are fixtures of the
``loginless.testkit`` plugin): each test gets its own schema, topic and SMS outbox."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from loginless.links.bootstrap import MIGRATIONS, create_app, links_context
from loginless.links.delivery import DeliveryWorker
from loginless.links.handlers import LinksContext
from loginless.links.messages import MessageComposer
from loginless.links.senders import OutboxFileSmsSender
from loginless.links.settings import LinksSettings
from loginless.links.tenants import Tenant, Tenants
from loginless.links.tokens import new_api_key
from loginless.shared.eventstore import EventStore, migrate
from loginless.shared.mail import SmtpEmailSender
from loginless.testkit.clock import ManualWallClock
from loginless.testkit.links_service import links_settings
from loginless.testkit.staff import StaffKey

INTERNAL_SECRET = "test-internal-secret"
INTERNAL = {"Authorization": f"Bearer {INTERNAL_SECRET}"}
PUBLIC_URL = "https://guests.example.test"


@pytest.fixture
def clock() -> ManualWallClock:
    """The service's clock, moved by hand, so expiry is tested without waiting."""
    return ManualWallClock()


@pytest.fixture
def settings(database_url, kafka_bootstrap_servers, tmp_path) -> LinksSettings:
    return links_settings(
        database_url, kafka_bootstrap_servers, internal_secret=INTERNAL_SECRET, public_url=PUBLIC_URL,
        token_peppers=f"p2:{secrets.token_urlsafe(32)},p1:{secrets.token_urlsafe(32)}",
        smtp_url=os.environ.get("SMTP_URL", "smtp://127.0.0.1:9"), smtp_from="loginless <no-reply@links.test>",
        smtp_timeout_seconds=5, sms_outbox_path=str(tmp_path / "sms-outbox.jsonl"),
        delivery_max_attempts=3, delivery_retry_seconds=0.05, delivery_poll_seconds=0.05,
    )


@pytest.fixture
async def pool(settings):
    """The test's own pool (the app under test has its own, on the test client's event loop)."""
    pool = await asyncpg.create_pool(settings.database_url, min_size=0, max_size=10)
    async with pool.acquire() as connection:
        await migrate(connection, settings.schema, [MIGRATIONS])
    yield pool
    async with pool.acquire() as connection:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{settings.schema}" CASCADE')
    await pool.close()


@pytest.fixture
def ctx(pool, settings, clock) -> LinksContext:
    """The handlers' context on the test's pool: for driving the worker and checking state directly."""
    return links_context(EventStore(pool, schema=settings.schema, topic=settings.events_topic), settings, clock)


@pytest.fixture
async def client(settings, clock, pool):
    async with AsyncTestClient(create_app(settings, clock=clock)) as client:
        yield client


@pytest.fixture
async def concurrent_client(settings, clock, pool):
    """The app on this test's event loop: AsyncTestClient completes each request before the next starts, so
    only this client can put two requests in flight at once."""
    app = create_app(settings, clock=clock)
    started, stop = asyncio.Event(), asyncio.Event()

    async def serve() -> None:  # the lifespan is entered and left in one task, as anyio requires
        async with app.lifespan():
            started.set()
            await stop.wait()

    serving = asyncio.create_task(serve())
    await asyncio.wait([serving, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        serving.result()  # the app failed to start: raise its error
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://links.test") as client:
        yield client
    stop.set()
    await serving


@pytest.fixture
def make_staff(pool, settings):
    """A new tenant with one API key: ``await make_staff(name=..., color=...)``."""

    async def make(*, name: str = "Demo Firm", **profile: str) -> StaffKey:
        tenant_id = f"firm-{uuid.uuid4().hex[:8]}"
        key = new_api_key()
        await Tenants(pool, settings.schema).ensure(Tenant(tenant_id=tenant_id, name=name, **profile), key)
        return StaffKey(tenant_id, key.value)

    return make


@pytest.fixture
async def staff(make_staff) -> StaffKey:
    return await make_staff(name="Ortega & Lane Tax Advisors", color="#0b6e4f", contact_name="Front desk",
                            contact_email="desk@ortega-lane.test", contact_phone="+34 600 111 222")


@pytest.fixture
def issue():
    """``await issue(client, staff, **body)``: POST /v1/links (default: one e-mail recipient, no delivery), 201."""

    async def issue(client, staff: StaffKey, **body) -> list[dict]:
        body.setdefault("action", "view")
        body.setdefault("resource_id", f"doc-{uuid.uuid4().hex[:8]}")
        body.setdefault("recipients", [{"email": f"guest-{uuid.uuid4().hex[:8]}@example.test"}])
        response = await client.post("/v1/links", json=body, headers=staff.headers)
        assert response.status_code == 201, response.text
        return response.json()["links"]

    return issue


@pytest.fixture
def delivery_worker(ctx, settings) -> DeliveryWorker:
    """The worker's delivery loop on the test's pool; tests call ``deliver_due()`` to run one round."""
    return DeliveryWorker(
        ctx, composer=MessageComposer(settings.smtp_from),
        email=SmtpEmailSender(settings.smtp_url, timeout=settings.smtp_timeout_seconds),
        sms=OutboxFileSmsSender(settings.sms_outbox_path), max_attempts=settings.delivery_max_attempts,
        retry_seconds=settings.delivery_retry_seconds, poll_seconds=settings.delivery_poll_seconds,
        send_timeout_seconds=settings.smtp_timeout_seconds,
    )


@pytest.fixture
def sms_outbox(settings):
    """``sms_outbox()``: the messages the development SMS adapter wrote so far."""

    def read() -> list[dict]:
        path = Path(settings.sms_outbox_path)
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    return read


@pytest.fixture
def stream_types(pool, settings):
    """``await stream_types(link_id)``: the event names in a link's stream, in order."""

    async def types(link_id: str) -> list[str]:
        rows = await pool.fetch(f'SELECT type FROM "{settings.schema}".events WHERE stream_id = $1 ORDER BY version',
                                link_id)
        return [row["type"].split(".")[2] for row in rows]

    return types
