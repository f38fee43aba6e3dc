"""A payer's receipt: the PaymentReceived payments published becomes one mail to the payer, in their language,
with the receipt PDF the real payments service draws (fetched over its internal API) attached -- once, however
often Kafka delivers the event. Real PostgreSQL for both services, the real links service, Mailpit. Bad inputs
tried: the event delivered twice, a payment without a payer's address (no mail), payments unreachable (the mail
waits for it, nothing half-sent)."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from io import BytesIO

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient
from pypdf import PdfReader

from loginless.events.payloads.payments import PaymentReceived
from loginless.payments.bootstrap import create_app
from loginless.payments.client import PaymentsClient
from loginless.payments.settings import PaymentsSettings
from loginless.shared.eventstore import EventStore
from loginless.testkit.fake_links import FakeLinks
from loginless.testkit.mailpit import mails_to

from .conftest import INTERNAL_SECRET
from .test_notifications_by_mail import settled_mails

pytestmark = pytest.mark.integration


@pytest.fixture
async def payments(database_url, notifications):  # noqa: ANN001, ANN201
    """The payments service, for the same firm, its internal API reached by notifications' own client."""
    schema = f"payments_t{uuid.uuid4().hex[:10]}"
    settings = PaymentsSettings(database_url=database_url, kafka_bootstrap_servers="127.0.0.1:1",
                                database_schema=schema, internal_api_secret=INTERNAL_SECRET, log_level="WARNING")
    links = FakeLinks(public_url="http://gateway.test")
    links.add_tenant(notifications.tenant_id, name="Ortega & Lane")
    api_key = links.add_api_key(notifications.tenant_id)
    async with AsyncTestClient(create_app(settings, links=links), timeout=60) as http:
        http.headers["authorization"] = f"Bearer {api_key}"
        client = PaymentsClient(str(http.base_url), INTERNAL_SECRET, transport=http._transport)
        notifications.ctx = replace(notifications.ctx, payments=client)
        yield http, settings  # the client is not closed: its transport is the test client's, closed with it
    pool = await asyncpg.create_pool(database_url, min_size=0, max_size=1)
    await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await pool.close()


async def received_payment(http: AsyncTestClient, settings: PaymentsSettings, payer_email: str | None,
                           database_url: str) -> PaymentReceived:
    """A Spanish invoice issued and paid in part by a transfer staff recorded: the PaymentReceived payments wrote."""
    body = {"account_id": "acc_1", "number": f"2026-{uuid.uuid4().hex[:6]}", "currency": "EUR",
            "issue_date": "2026-12-06", "due_date": "2026-12-31",
            "lines": [{"description": "Tax return 2025", "unit_price": "1000", "tax_rate": "21"}],
            "payer": {"name": "Ana Ortiz", "email": "ana@example.test", "language": "es"}}
    invoice = (await http.post("/v1/invoices", json=body)).json()
    assert (await http.post(f"/v1/invoices/{invoice['invoice_id']}/issue")).status_code == 200
    paid = await http.post(f"/v1/invoices/{invoice['invoice_id']}/payments", json={
        "amount": "500", "reference": "TRANSFER-7", "payer_name": "Luis Pérez", "payer_email": payer_email})
    assert paid.status_code == 201, paid.text
    pool = await asyncpg.create_pool(database_url, min_size=0, max_size=1)
    try:
        recorded = await EventStore(pool, schema=settings.schema, topic="payments.events").load(
            invoice["invoice_id"])
    finally:
        await pool.close()
    [received] = [event.payload for event in recorded if isinstance(event.payload, PaymentReceived)]
    return received


async def test_the_payer_gets_one_mail_with_the_receipt_pdf_however_often_the_event_comes(
        notifications, payments, mail_ui_url, database_url):
    http, settings = payments
    payer = f"luis-{os.urandom(4).hex()}@example.test"
    received = await received_payment(http, settings, payer, database_url)

    delivered = await notifications.publish(received, subject=received.invoice_id)
    await notifications.publish(received, subject=received.invoice_id, event_id=delivered.id)  # delivered again
    await notifications.work()
    await notifications.work()

    [mail] = await settled_mails(mail_ui_url, payer, 1)
    assert mail["Subject"] == "Ortega & Lane: we received your payment"
    assert "Hello Luis Pérez," in mail["Text"] and "€500.00" in mail["Text"]
    [attachment] = mail["Attachments"]
    assert attachment["ContentType"] == "application/pdf"
    assert attachment["FileName"] == f"receipt-{received.payment_id}.pdf"
    async with httpx.AsyncClient(base_url=mail_ui_url) as mailpit:
        pdf = (await mailpit.get(f"/api/v1/message/{mail['ID']}/part/{attachment['PartID']}")).content
    text = PdfReader(BytesIO(pdf)).pages[0].extract_text().replace("\xa0", " ")
    for expected in ("Receipt", "Luis Pérez", "€500.00", "bank transfer", "€1,210.00", "€710.00", "TRANSFER-7"):
        assert expected in text, expected
    assert [e["kind"] for e in await notifications.events("NotificationSent")] == ["payment_receipt"]


async def test_a_payment_without_an_address_gets_no_mail_and_a_missing_payments_delays_it(
        notifications, payments, mail_ui_url, database_url):
    http, settings = payments
    silent = await received_payment(http, settings, None, database_url)
    await notifications.publish(silent, subject=silent.invoice_id)

    payer = f"luis-{os.urandom(4).hex()}@example.test"
    received = await received_payment(http, settings, payer, database_url)
    working = notifications.ctx.payments
    notifications.ctx = replace(notifications.ctx, payments=PaymentsClient("http://127.0.0.1:9", INTERNAL_SECRET))
    await notifications.publish(received, subject=received.invoice_id)
    await notifications.work()
    assert await mails_to(mail_ui_url, payer) == []  # payments unreachable: the receipt waits, nothing is sent

    notifications.ctx = replace(notifications.ctx, payments=working)
    await notifications.work()

    [mail] = await settled_mails(mail_ui_url, payer, 1)
    assert len(mail["Attachments"]) == 1
    assert [e["recipient"] for e in await notifications.events("NotificationSent")] == [payer]
