"""Fixtures of the payments service's integration tests: the app and its worker's work on real PostgreSQL, links
replaced by its in-memory fake, and guests' gateway assertions signed here."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from loginless.payments.bootstrap import create_app, payments_context
from loginless.payments.handlers import PaymentsContext
from loginless.payments.settings import PaymentsSettings
from loginless.payments.testprovider import TestProvider
from loginless.shared.eventstore import EventStore
from loginless.shared.web.assertion import (
    ASSERTION_HEADER,
    FORWARDED_PREFIX_HEADER,
    AssertionSigner,
    GuestAssertion,
    GuestRecipient,
)
from loginless.testkit.fake_links import FakeLinks
from loginless.testkit.staff import StaffKey

IBAN = "ES9121000418450200051332"


@dataclass
class Harness:
    """Everything a test needs to drive the service, do its worker's work, and look behind it."""

    settings: PaymentsSettings
    links: FakeLinks
    pool: asyncpg.Pool
    private_key: str
    provider: TestProvider

    def new_tenant(self) -> StaffKey:
        tenant_id = self.links.add_tenant(name="Demo Firm", color="#1f5f8b", contact_email="hello@demo-firm.test")
        return StaffKey(tenant_id=tenant_id, api_key=self.links.add_api_key(tenant_id))

    def context(self) -> PaymentsContext:
        """The handlers' context on the test's own pool: what the worker process runs with."""
        store = EventStore(self.pool, schema=self.settings.schema, topic=self.settings.events_topic)
        return payments_context(store, self.settings, links=self.links, provider=self.provider)

    def guest_headers(self, link_id: str, **extra: str) -> dict[str, str]:
        """The gateway's assertion for one of the fake links' links, as the gateway would send it."""
        link = self.links.state_of(link_id)
        assertion = GuestAssertion(
            link_id=link_id, tenant_id=link.tenant_id, action=link.action, resource_id=link.resource_id,
            recipient=GuestRecipient(email=link.recipient.email, language=link.recipient.language),
            link_expires_at=datetime.now(UTC) + timedelta(days=1), audience="payments")
        return {ASSERTION_HEADER: AssertionSigner(self.private_key).sign(assertion),
                FORWARDED_PREFIX_HEADER: f"/g/{link_id}", "x-forwarded-for": "203.0.113.9", **extra}

    async def events(self, invoice_id: str) -> list[str]:
        rows = await self.pool.fetch(f'SELECT type FROM "{self.settings.schema}".events WHERE stream_id = $1'
                                     " ORDER BY version", invoice_id)
        return [row["type"].split(".")[2] for row in rows]

    async def count(self, table: str, tenant_id: str) -> int:
        return await self.pool.fetchval(f'SELECT count(*) FROM "{self.settings.schema}".{table}'
                                        " WHERE tenant_id = $1", tenant_id)


@pytest.fixture(scope="session")
async def harness(database_url, assertion_keys) -> AsyncIterator[Harness]:
    private_key, public_key = assertion_keys
    schema = f"payments_t{uuid.uuid4().hex[:10]}"
    settings = PaymentsSettings(database_url=database_url, kafka_bootstrap_servers="127.0.0.1:1",
                                database_schema=schema, assertion_public_key=public_key, log_level="WARNING")
    links = FakeLinks(public_url="http://gateway.test")
    pool = await asyncpg.create_pool(settings.database_url, min_size=0, max_size=6)
    yield Harness(settings, links, pool, private_key, TestProvider(b"test-provider-secret"))
    async with pool.acquire() as connection:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await pool.close()


@pytest.fixture(scope="session")
async def client(harness: Harness) -> AsyncIterator[AsyncTestClient]:
    app = create_app(harness.settings, links=harness.links, provider=harness.provider)
    async with AsyncTestClient(app, timeout=60) as http:
        yield http


@pytest.fixture
def tenant(harness: Harness) -> StaffKey:
    return harness.new_tenant()


def invoice_body(**body: Any) -> dict[str, Any]:
    """A Spanish adviser's invoice: advice at 21% VAT less a discount, a book at 4%, IRPF withheld at 15%,
    payable by transfer to the firm's account; ``body`` overrides."""
    return {"account_id": "acc_1", "number": f"2026-{uuid.uuid4().hex[:8]}", "currency": "EUR",
            "issue_date": "2026-12-06", "due_date": "2026-12-31",
            "lines": [{"description": "Tax return 2025", "quantity": "1", "unit_price": "1000.00", "tax_rate": "21"},
                      {"description": "Tax guide (book)", "quantity": "2", "unit_price": "20.50", "tax_rate": "4"}],
            "discounts": [{"description": "Loyal client", "amount": "100", "tax_rate": "21"}],
            "withholdings": [{"description": "IRPF", "rate": "15"}],
            "bank": {"iban": "ES91 2100 0418 4502 0005 1332", "holder": "Demo Firm SL"},
            "payer": {"name": "Ana Ortiz", "email": "ana@example.test"}, **body}
