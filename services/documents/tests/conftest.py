"""Fixtures of the documents service's tests: the app on real PostgreSQL and S3 (integration, browser), with the
links service replaced by its in-memory fake (which also checks staff API keys), and guests' gateway assertions
signed here."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from loginless.documents.bootstrap import create_app, documents_context
from loginless.documents.handlers import DocumentsContext
from loginless.documents.ports import PassThroughScanner
from loginless.documents.settings import DocumentsSettings
from loginless.documents.storage import DocumentStorage
from loginless.documents.uploads import ResumableUploads
from loginless.shared.eventstore import EventStore
from loginless.shared.web.assertion import (
    ASSERTION_HEADER,
    FORWARDED_PREFIX_HEADER,
    AssertionSigner,
    GuestAssertion,
    GuestRecipient,
)
from loginless.testkit.clock import ShiftedClock
from loginless.testkit.endpoints import S3Endpoint
from loginless.testkit.fake_links import FakeLinks
from loginless.testkit.staff import StaffKey


def make_settings(database_url: str, s3: S3Endpoint, assertion_public_key: str,
                  **overrides) -> DocumentsSettings:  # noqa: ANN003
    """The service's settings with a schema of the test's own, so tests never touch a running service's tables."""
    values = dict(
        database_url=database_url, kafka_bootstrap_servers="127.0.0.1:1",
        s3_endpoint=s3.url, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
        s3_bucket=f"documents-test-{secrets.token_hex(4)}", assertion_public_key=assertion_public_key,
        database_schema=f"documents_t{uuid.uuid4().hex[:10]}", upload_part_size=5 * 1024 * 1024, log_json=True,
        scanner="none",  # the antivirus's own tests start a clamd (test_documents_antivirus.py)
        log_level="WARNING",
    )
    values.update(overrides)
    return DocumentsSettings(**values)


@dataclass
class Harness:
    """Everything a test needs to drive the service and look behind it."""

    settings: DocumentsSettings
    links: FakeLinks
    storage: DocumentStorage
    pool: asyncpg.Pool
    private_key: str  # signs guests' assertions, as the gateway does
    clock: ShiftedClock

    def new_tenant(self) -> StaffKey:
        tenant_id = self.links.add_tenant(name="Demo Firm", color="#1f5f8b", contact_email="hello@demo-firm.test")
        return StaffKey(tenant_id=tenant_id, api_key=self.links.add_api_key(tenant_id))

    def context(self, **changes: object) -> DocumentsContext:
        """The handlers' context on the test's own pool (another replica of the service, say), with ``changes``
        (a clock, a scanner)."""
        store = EventStore(self.pool, schema=self.settings.schema, topic=self.settings.events_topic)
        ctx = documents_context(store, self.settings, links=self.links, storage=self.storage,
                                scanner=PassThroughScanner(), clock=self.clock)
        return replace(ctx, **changes)

    def guest_headers(self, *, link_id: str, tenant_id: str, action: str, resource_id: str,
                      language: str | None = None, email: str = "guest@example.test",
                      **extra: str) -> dict[str, str]:
        assertion = GuestAssertion(
            link_id=link_id, tenant_id=tenant_id, action=action, resource_id=resource_id,
            recipient=GuestRecipient(email=email, language=language),
            link_expires_at=datetime.now(UTC) + timedelta(days=1), audience="documents")
        return {ASSERTION_HEADER: AssertionSigner(self.private_key).sign(assertion),
                FORWARDED_PREFIX_HEADER: f"/g/{link_id}", "x-forwarded-for": "203.0.113.9", **extra}

    def guest_headers_for(self, link_id: str, **extra: str) -> dict[str, str]:
        link = self.links.state_of(link_id)
        return self.guest_headers(link_id=link_id, tenant_id=link.tenant_id, action=link.action,
                                  resource_id=link.resource_id, **extra)

    def tus(self, client: AsyncTestClient, link_id: str) -> TusClient:
        return TusClient(client, self.guest_headers_for(link_id))

    async def events(self, tenant_id: str, type_suffix: str | None = None) -> list[asyncpg.Record]:
        rows = await self.pool.fetch(
            f'SELECT stream_id, type, data FROM "{self.settings.schema}".events WHERE tenant_id = $1'
            " ORDER BY recorded_at, version", tenant_id)
        return [row for row in rows if type_suffix is None or row["type"].split(".")[2] == type_suffix]

    async def objects(self, tenant_id: str) -> list[str]:
        return await self.storage.keys(f"tenants/{tenant_id}/")

    async def unfinished_multipart(self, tenant_id: str) -> list[str]:
        return await self.storage.multipart_uploads(f"tenants/{tenant_id}/")


@pytest.fixture(scope="session")
async def harness(database_url, s3, assertion_keys) -> AsyncIterator[Harness]:
    private_key, public_key = assertion_keys
    settings = make_settings(database_url, s3, public_key)
    links = FakeLinks(public_url="http://gateway.test", clock=lambda: datetime.now(UTC))
    storage = DocumentStorage(settings.s3_endpoint, access_key=settings.s3_access_key,
                              secret_key=settings.s3_secret_key.get_secret_value(), bucket=settings.s3_bucket)
    pool = await asyncpg.create_pool(settings.database_url, min_size=0, max_size=4)
    yield Harness(settings, links, storage, pool, private_key, ShiftedClock())
    async with pool.acquire() as connection:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{settings.schema}" CASCADE')
    await pool.close()


@pytest.fixture(scope="session")
async def client(harness: Harness) -> AsyncIterator[AsyncTestClient]:
    app = create_app(harness.settings, links=harness.links, clock=harness.clock)
    async with AsyncTestClient(app, timeout=60) as http:
        yield http


@pytest.fixture(scope="session")
async def stream_client(harness: Harness) -> AsyncIterator[AsyncTestClient]:
    """The same service (schema, bucket) with ``DOCUMENTS_DOWNLOAD_DELIVERY=stream``: downloads stream through it."""
    settings = harness.settings.model_copy(update={"download_delivery": "stream"})
    app = create_app(settings, links=harness.links, clock=harness.clock)
    async with AsyncTestClient(app, timeout=60) as http:
        yield http


@pytest.fixture
def tenant(harness: Harness) -> StaffKey:
    return harness.new_tenant()


@pytest.fixture
def later(harness: Harness):  # noqa: ANN201
    """``later(seconds=…)`` moves the service's clock ahead for the rest of the test."""

    def move(**delta: float) -> None:
        harness.clock.shift = timedelta(**delta)

    yield move
    harness.clock.shift = timedelta()


def tus_metadata(**values: str) -> str:
    import base64

    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


class TusClient:
    """Speaks tus 1.0 to the service's guest upload API, the way Uppy's tus plugin does."""

    def __init__(self, client: AsyncTestClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, {**headers, "tus-resumable": "1.0.0"}

    async def create(self, length: int, **metadata: str):  # noqa: ANN201
        headers = {**self.headers, "upload-length": str(length)}
        if metadata:
            headers["upload-metadata"] = tus_metadata(**metadata)
        return await self.client.post("/guest/uploads", headers=headers)

    @staticmethod
    def path_of(response) -> str:  # noqa: ANN001
        location = response.headers["location"]
        assert location.startswith("/g/"), location  # relative to the gateway's prefix, never our own host
        return "/guest/" + location.split("/", 3)[3]

    async def patch(self, path: str, offset: int, chunk: bytes):  # noqa: ANN201
        return await self.client.patch(path, content=chunk, headers={
            **self.headers, "upload-offset": str(offset), "content-type": "application/offset+octet-stream"})

    async def head(self, path: str):  # noqa: ANN201
        return await self.client.head(path, headers=self.headers)

    async def upload(self, data: bytes, *, chunk_size: int, **metadata: str) -> str:
        created = await self.create(len(data), **metadata)
        assert created.status_code == 201, created.text
        path = self.path_of(created)
        offset = 0
        while offset < len(data):
            response = await self.patch(path, offset, data[offset:offset + chunk_size])
            assert response.status_code == 204, response.text
            offset = int(response.headers["upload-offset"])
        return path


@pytest.fixture
def replica(harness: Harness, client) -> ResumableUploads:  # noqa: ARG001 (the app must have migrated)
    """A second instance of the upload logic on the test's own event loop: "another replica" of the service."""
    return ResumableUploads(harness.context())
