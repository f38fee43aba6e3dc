"""Fixtures of the requests service's tests: the app on real PostgreSQL and S3 (integration), with the links and
documents services replaced by their in-memory fakes (links' also checks staff API keys), and guests' gateway
assertions signed here."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from loginless.requests.bootstrap import blobs_for, create_app, requests_context
from loginless.requests.handlers import RequestsContext
from loginless.requests.settings import RequestsSettings
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
from loginless.testkit.fake_documents import FakeDocuments
from loginless.testkit.fake_links import FakeLinks
from loginless.testkit.staff import StaffKey

# A questionnaire with one of everything: a condition, a repeating group, an upload question.
TAX_RETURN = {
    "sections": [
        {"id": "about", "title": {"en": "About you", "es": "Sobre usted"}, "questions": [
            {"id": "full_name", "type": "short_text", "label": {"en": "Full name", "es": "Nombre completo"},
             "required": True},
            {"id": "email", "type": "email", "label": {"en": "E-mail", "es": "Correo electrónico"}},
            {"id": "phone", "type": "phone", "label": {"en": "Phone", "es": "Teléfono"}},
            {"id": "birth_date", "type": "date", "label": {"en": "Date of birth", "es": "Fecha de nacimiento"}},
            {"id": "tax_id", "type": "tax_id", "label": {"en": "Tax id (NIF)", "es": "NIF"}, "required": True},
            {"id": "iban", "type": "iban", "label": {"en": "IBAN for the refund", "es": "IBAN para la devolución"}},
            {"id": "notes", "type": "long_text", "label": {"en": "Anything else?", "es": "¿Algo más?"}},
        ]},
        {"id": "family", "title": {"en": "Family", "es": "Familia"}, "questions": [
            {"id": "status", "type": "single_choice", "label": {"en": "Marital status", "es": "Estado civil"},
             "options": [{"value": "single", "label": {"en": "Single", "es": "Soltero/a"}},
                         {"value": "married", "label": {"en": "Married", "es": "Casado/a"}}]},
            {"id": "spouse_name", "type": "short_text", "label": {"en": "Spouse's name", "es": "Nombre del cónyuge"},
             "required": True, "condition": {"question": "status", "equals": "married"}},
            {"id": "has_dependents", "type": "yes_no", "label": {"en": "Do you have dependents?",
                                                                 "es": "¿Tiene personas a su cargo?"}},
            {"id": "dependents", "type": "group", "label": {"en": "Dependent", "es": "Persona a cargo"},
             "condition": {"question": "has_dependents", "equals": True},
             "add_label": {"en": "Add another dependent", "es": "Añadir otra persona"}, "questions": [
                 {"id": "name", "type": "short_text", "label": {"en": "Name", "es": "Nombre"}, "required": True},
                 {"id": "born", "type": "date", "label": {"en": "Date of birth", "es": "Fecha de nacimiento"}}]},
        ]},
        {"id": "income", "title": {"en": "Income", "es": "Ingresos"}, "questions": [
            {"id": "sources", "type": "multiple_choice", "label": {"en": "Sources of income", "es": "Ingresos"},
             "options": [{"value": "salary", "label": {"en": "Salary", "es": "Salario"}},
                         {"value": "rent", "label": {"en": "Rent", "es": "Alquiler"}}]},
            {"id": "rent_amount", "type": "currency", "label": {"en": "Rent received (€)", "es": "Alquiler (€)"},
             "condition": {"question": "sources", "includes": "rent"}},
            {"id": "region", "type": "dropdown", "label": {"en": "Region", "es": "Comunidad"},
             "options": [{"value": "madrid", "label": {"en": "Madrid"}}, {"value": "other", "label": {"en": "Other"}}]},
            {"id": "months_worked", "type": "number", "label": {"en": "Months worked", "es": "Meses trabajados"},
             "minimum": 0, "maximum": 12},
            {"id": "payslips", "type": "file", "label": {"en": "Your 2025 payslips", "es": "Sus nóminas de 2025"},
             "files": {"max_size": 100000, "types": ["application/pdf", "image/*"], "max_files": 3}},
        ]},
    ]
}

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def make_settings(database_url: str, s3: S3Endpoint, assertion_public_key: str, **overrides: Any) -> RequestsSettings:
    """The service's settings with a schema and bucket of the test's own, so tests never touch a running service's."""
    values = dict(
        database_url=database_url, kafka_bootstrap_servers="127.0.0.1:1", s3_endpoint=s3.url,
        s3_access_key=s3.access_key, s3_secret_key=s3.secret_key, s3_bucket=f"requests-test-{secrets.token_hex(4)}",
        assertion_public_key=assertion_public_key, database_schema=f"requests_t{uuid.uuid4().hex[:10]}",
        log_json=True, log_level="WARNING")
    values.update(overrides)
    return RequestsSettings(**values)


@dataclass
class Harness:
    settings: RequestsSettings
    links: FakeLinks
    documents: FakeDocuments
    pool: asyncpg.Pool
    private_key: str
    clock: ShiftedClock

    def new_tenant(self) -> StaffKey:
        tenant_id = self.links.add_tenant(name="Demo Firm", color="#1f5f8b", contact_email="hello@demo-firm.test")
        return StaffKey(tenant_id=tenant_id, api_key=self.links.add_api_key(tenant_id))

    def context(self, **changes: object) -> RequestsContext:
        store = EventStore(self.pool, schema=self.settings.schema, topic=self.settings.events_topic)
        ctx = requests_context(store, self.settings, links=self.links, blobs=blobs_for(self.settings),
                               documents=self.documents, clock=self.clock)
        return replace(ctx, **changes)

    def assertion(self, link_id: str, *, device_proven: bool = False) -> GuestAssertion:
        link = self.links.state_of(link_id)
        return GuestAssertion(link_id=link_id, tenant_id=link.tenant_id, action=link.action,
                              resource_id=link.resource_id, recipient=GuestRecipient(
                                  email=link.recipient.email, language=link.recipient.language),
                              link_expires_at=datetime.now(UTC) + timedelta(days=1), audience="requests",
                              device_proven=device_proven)

    def guest_headers(self, link_id: str, *, device_proven: bool = False, **extra: str) -> dict[str, str]:
        """What the gateway sends along a guest's request; ``device_proven``: the browser holds the link's proof."""
        return {ASSERTION_HEADER: AssertionSigner(self.private_key).sign(self.assertion(
                    link_id, device_proven=device_proven)),
                FORWARDED_PREFIX_HEADER: f"/g/{link_id}", "x-forwarded-for": "203.0.113.9", **extra}

    async def events(self, tenant_id: str, name: str | None = None) -> list[asyncpg.Record]:
        rows = await self.pool.fetch(
            f'SELECT stream_id, type, data FROM "{self.settings.schema}".events WHERE tenant_id = $1'
            " ORDER BY recorded_at, version", tenant_id)
        return [row for row in rows if name is None or row["type"] == f"loginless.requests.{name}.v1"]


@pytest.fixture(scope="session")
async def harness(database_url, s3, assertion_keys) -> AsyncIterator[Harness]:
    private_key, public_key = assertion_keys
    settings = make_settings(database_url, s3, public_key)
    links = FakeLinks(public_url="http://gateway.test", clock=lambda: datetime.now(UTC))
    pool = await asyncpg.create_pool(settings.database_url, min_size=0, max_size=4)
    yield Harness(settings, links, FakeDocuments(), pool, private_key, ShiftedClock())
    async with pool.acquire() as connection:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{settings.schema}" CASCADE')
    await pool.close()


@pytest.fixture(scope="session")
async def client(harness: Harness) -> AsyncIterator[AsyncTestClient]:
    app = create_app(harness.settings, links=harness.links, documents=harness.documents, clock=harness.clock)
    async with AsyncTestClient(app, timeout=60) as http:
        yield http


@pytest.fixture
def tenant(harness: Harness) -> StaffKey:
    return harness.new_tenant()


@dataclass(frozen=True)
class Sent:
    request_id: str
    template_id: str
    link_ids: list[str]
    body: dict[str, Any]


async def send_questionnaire(client: AsyncTestClient, tenant: StaffKey, definition: dict[str, Any] | None = None,
                             **request: Any) -> Sent:
    """A template saved and a request sent with it to one recipient (or those given)."""
    created = await client.post("/v1/templates", headers=tenant.headers,
                                json={"title": "2025 tax return", "definition": definition or TAX_RETURN})
    assert created.status_code == 201, created.text
    template_id = created.json()["template_id"]
    body = {"template_id": template_id, "require_login": False,
            "recipients": [{"name": "Ana García", "email": "ana@example.test", "language": "es"}], **request}
    sent = await client.post("/v1/requests", headers=tenant.headers, json=body)
    assert sent.status_code == 201, sent.text
    answer = sent.json()
    return Sent(answer["client_request_id"], template_id, [r["link_id"] for r in answer["recipients"]], answer)


@pytest.fixture
def send(client: AsyncTestClient, tenant: StaffKey):  # noqa: ANN201
    """``await send(definition=None, **request)``: a questionnaire sent by ``tenant`` (see send_questionnaire)."""

    async def sending(definition: dict[str, Any] | None = None, **request: Any) -> Sent:
        return await send_questionnaire(client, tenant, definition, **request)

    return sending


@pytest.fixture
def tax_return() -> dict[str, Any]:
    return TAX_RETURN
