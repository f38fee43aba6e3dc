"""Fixtures of the signing service's integration tests: the app and its worker's work on real PostgreSQL and S3,
the real PDF engine with a development seal, links and documents replaced by their in-memory fakes, and guests'
gateway assertions signed here."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from loginless.shared.blobs import BlobStore
from loginless.shared.eventstore import EventStore
from loginless.shared.web.assertion import (
    ASSERTION_HEADER,
    FORWARDED_PREFIX_HEADER,
    AssertionSigner,
    GuestAssertion,
    GuestRecipient,
)
from loginless.signing.bootstrap import blobs_for, create_app, signing_context
from loginless.signing.engine import PdfWork
from loginless.signing.handlers import SigningContext
from loginless.signing.pdf import SealCredentials, development_ca
from loginless.signing.settings import SigningSettings
from loginless.testkit.clock import ShiftedClock
from loginless.testkit.fake_documents import FakeDocuments
from loginless.testkit.fake_links import FakeLinks
from loginless.testkit.files import pdf, text
from loginless.testkit.staff import StaffKey

CONTRACT = pdf(((595, 842), text("Loan agreement")), ((595, 842), text("Page two")))


@dataclass
class Harness:
    """Everything a test needs to drive the service, do its worker's work, and look behind it."""

    settings: SigningSettings
    links: FakeLinks
    documents: FakeDocuments
    blobs: BlobStore
    pool: asyncpg.Pool
    private_key: str
    clock: ShiftedClock
    pdf: PdfWork
    trust_root_pem: bytes
    tenants: list[StaffKey] = field(default_factory=list)

    def new_tenant(self) -> StaffKey:
        tenant_id = self.links.add_tenant(name="Demo Firm", color="#1f5f8b", contact_email="hello@demo-firm.test")
        return StaffKey(tenant_id=tenant_id, api_key=self.links.add_api_key(tenant_id))

    def context(self) -> SigningContext:
        """The handlers' context on the test's own pool: what the worker process runs with."""
        store = EventStore(self.pool, schema=self.settings.schema, topic=self.settings.events_topic)
        return signing_context(store, self.settings, links=self.links, documents=self.documents, pdf=self.pdf,
                               blobs=self.blobs, clock=self.clock)

    def guest_headers(self, link_id: str, **extra: str) -> dict[str, str]:
        """The gateway's assertion for one of the fake links' links, as the gateway would send it."""
        link = self.links.state_of(link_id)
        assertion = GuestAssertion(
            link_id=link_id, tenant_id=link.tenant_id, action=link.action, resource_id=link.resource_id,
            recipient=GuestRecipient(email=link.recipient.email, language=link.recipient.language),
            link_expires_at=datetime.now(UTC) + timedelta(days=1), audience="signing")
        return {ASSERTION_HEADER: AssertionSigner(self.private_key).sign(assertion),
                FORWARDED_PREFIX_HEADER: f"/g/{link_id}", "x-forwarded-for": "203.0.113.9",
                "user-agent": "Mozilla/5.0 (signing test)", **extra}

    def link_of(self, envelope_id: str, email: str) -> str:
        [link] = [link for link in self.links.links_for(envelope_id) if link.recipient.email == email]
        return link.link_id

    async def events(self, envelope_id: str) -> list[str]:
        rows = await self.pool.fetch(f'SELECT type FROM "{self.settings.schema}".events WHERE stream_id = $1'
                                     " ORDER BY version", envelope_id)
        return [row["type"].split(".")[2] for row in rows]


@pytest.fixture(scope="session")
async def harness(database_url, s3, assertion_keys) -> AsyncIterator[Harness]:
    private_key, public_key = assertion_keys
    schema = f"signing_t{uuid.uuid4().hex[:10]}"
    settings = SigningSettings(
        database_url=database_url, kafka_bootstrap_servers="127.0.0.1:1", database_schema=schema,
        s3_endpoint=s3.url, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
        s3_bucket=f"signing-test-{secrets.token_hex(4)}", assertion_public_key=public_key, log_level="WARNING",
        data_key=base64.b64encode(secrets.token_bytes(32)).decode())
    now = datetime.now(UTC)
    ca = development_ca(now=now)
    credentials = SealCredentials.from_pkcs12(ca.seal_pkcs12, ca.seal_password, now=now)
    engine = PdfWork(max_pages=settings.max_document_pages, max_size=settings.max_document_size,
                     credentials=credentials)
    links = FakeLinks(public_url="http://gateway.test", clock=lambda: datetime.now(UTC))
    pool = await asyncpg.create_pool(settings.database_url, min_size=0, max_size=4)
    blobs = blobs_for(settings)
    yield Harness(settings, links, FakeDocuments(), blobs, pool, private_key, ShiftedClock(), engine,
                  ca.root_certificate_pem)
    async with pool.acquire() as connection:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await pool.close()


@pytest.fixture(scope="session")
async def client(harness: Harness) -> AsyncIterator[AsyncTestClient]:
    app = create_app(harness.settings, links=harness.links, documents=harness.documents, pdf=harness.pdf,
                     clock=harness.clock)
    async with AsyncTestClient(app, timeout=60) as http:
        yield http


@pytest.fixture
def tenant(harness: Harness) -> StaffKey:
    return harness.new_tenant()


def envelope_body(*signers: tuple[str, str], document: bytes = CONTRACT, **body: Any) -> dict[str, Any]:
    """A new envelope's body: one uploaded PDF, the signers (name, e-mail) each with a signature and a date field on
    page 1, and ``body``'s overrides."""
    recipients = [{"name": name, "email": email} for name, email in signers]
    fields = []
    for n, _ in enumerate(signers):
        fields += [{"recipient": n, "kind": "signature", "page": 1, "x": 72, "y": 100 + 80 * n},
                   {"recipient": n, "kind": "date_signed", "page": 1, "x": 300, "y": 100 + 80 * n, "width": 120,
                    "height": 20}]
    return {"title": "Loan agreement", "documents": [{"name": "loan.pdf", "content_base64":
                                                      base64.b64encode(document).decode()}],
            "recipients": recipients, "fields": fields, "send": True, **body}
