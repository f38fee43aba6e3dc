"""Pay to unlock on real PostgreSQL, S3 and Kafka: a share locked until an invoice is paid shows its guest what
unlocks it and refuses every route to its bytes; InvoicePaid published on ``payments.events`` unlocks it,
PaymentReversed locks it again, a duplicate delivery changes nothing, and an event of another tenant's invoice
touches no share of this one. Every change is an event on the share's stream."""

from __future__ import annotations

import json
import secrets
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from loginless.documents.consumers import payments_events_consumer
from loginless.events import CloudEvent, IntegrationEvent
from loginless.events.payloads.payments import InvoiceIssued, InvoicePaid, PaymentReversed
from loginless.shared.messaging import build_broker
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.7\n" + b"0" * 2000


async def a_share(client, tenant, **body) -> dict:  # noqa: ANN001
    account = (await client.post("/v1/accounts", json={"name": "Ana"}, headers=tenant.headers)).json()
    document = (await client.post("/v1/documents", content=PDF, headers=tenant.headers,
                                  params={"account_id": account["account_id"], "name": "tax-return.pdf"})).json()
    response = await client.post(f"/v1/documents/{document['document_id']}/shares", headers=tenant.headers,
                                 json={"recipients": [{"email": "client@example.test"}], "expires_in_seconds": 7200,
                                       **body})
    assert response.status_code == 201, response.text
    return response.json()


async def lock_history(harness, share_id: str) -> list[str]:  # noqa: ANN001
    """The share's lock events, as ``Type:reason``."""
    rows = await harness.pool.fetch(f'SELECT type, data FROM "{harness.settings.schema}".events'
                                    " WHERE stream_id = $1 ORDER BY version", share_id)
    return [f"{row['type'].split('.')[2]}:{json.loads(row['data'])['reason']}" for row in rows
            if row["type"].split(".")[2] in ("ShareLocked", "ShareUnlocked")]


async def lock_of(client, tenant, share_id: str) -> dict | None:  # noqa: ANN001
    return (await client.get(f"/v1/shares/{share_id}", headers=tenant.headers)).json()["lock"]


def message(payload: IntegrationEvent) -> tuple[bytes, bytes, list]:
    event = CloudEvent(source=payload.source(), type=payload.type_name(), subject=payload.invoice_id,
                       data=payload.model_dump(mode="json"), tenantid=payload.tenant_id, correlationid="test")
    return event.to_message()


async def test_invoice_paid_unlocks_a_reversal_locks_again_and_duplicates_or_other_tenants_change_nothing(
        client, harness, tenant, kafka_bootstrap_servers):
    other = harness.new_tenant()
    invoice_id = f"inv_{secrets.token_hex(12)}"
    share = await a_share(client, tenant, locked_until_paid=invoice_id)
    assert share["lock"] == {"invoice_id": invoice_id, "status": "locked", "changed_at": None}
    # Another tenant's share locked on an invoice with the same id: their events must never reach ours.
    theirs = await a_share(client, other, locked_until_paid=invoice_id)
    guest = harness.guest_headers_for(share["links"][0]["link_id"])

    page = await client.get("/guest/", headers=guest)
    assert page.status_code == 200 and "data-locked" in page.text
    assert "unlocks once the invoice from Demo Firm for it is paid" in page.text  # its number not seen yet
    assert "/download" not in page.text and "/preview" not in page.text
    for path in ("/guest/download", "/guest/preview", "/guest/download?x=/guest/", "/guest/pages/1",
                 "/guest/picture"):
        refused = await client.get(path, headers=guest, follow_redirects=False)
        assert refused.status_code in (403, 404), (path, refused.status_code)
        assert PDF[:9] not in refused.content and "location" not in refused.headers
    assert (await client.get("/guest/download", headers=guest)).status_code == 403  # its own page, "locked"

    now = harness.clock()
    settings = harness.settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."})
    broker = build_broker(kafka_bootstrap_servers, client_id="documents-test")
    payments_events_consumer(harness.context(settings=settings)).subscribe(broker)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    topic = settings.topic_of("payments")

    async def publish(*messages: tuple[bytes, bytes, list]) -> None:
        for key, value, headers in messages:
            await producer.send_and_wait(topic, value, key=key, headers=headers)

    def paid(tenant_id: str) -> tuple[bytes, bytes, list]:
        return message(InvoicePaid(invoice_id=invoice_id, tenant_id=tenant_id, amount_minor=12_100, currency="EUR",
                                   paid_at=now, provider="test", provider_payment_id="test_pay_1",
                                   number="2026-017"))

    def reversed_(tenant_id: str) -> tuple[bytes, bytes, list]:
        return message(PaymentReversed(invoice_id=invoice_id, tenant_id=tenant_id, payment_id="pay_1",
                                       amount_minor=12_100, reason="chargeback", reversed_at=now))

    try:
        # The number comes with InvoiceIssued; the other tenant's invoice is paid (same id, their tenant).
        await publish(message(InvoiceIssued(invoice_id=invoice_id, tenant_id=tenant.tenant_id, account_id="act",
                                            number="2026-017", currency="EUR", payable_minor=12_100,
                                            due_date=now.date(), issued_at=now)), paid(other.tenant_id))
        await broker.start()  # after the topic exists; the consumer reads it from the start
        await eventually(lambda: _status(client, other, theirs["share_id"], "unlocked"), timeout=60,
                         message="the other tenant's share unlocked")
        assert (await lock_of(client, tenant, share["share_id"]))["status"] == "locked"
        page = await client.get("/guest/", headers=guest)
        assert "unlocks once invoice 2026-017 from Demo Firm is paid" in page.text
        assert (await client.get("/guest/download", headers=guest)).status_code == 403

        first_payment = paid(tenant.tenant_id)
        await publish(first_payment)
        await eventually(lambda: _status(client, tenant, share["share_id"], "unlocked"), timeout=60,
                         message="the share unlocked by InvoicePaid")
        download = await client.get("/guest/download", headers=guest, follow_redirects=False)
        assert download.status_code == 303
        assert "data-download" in (await client.get("/guest/", headers=guest)).text
        # A share locked on the invoice now, when documents has seen it paid, is unlocked from the start.
        late = await a_share(client, tenant, locked_until_paid=invoice_id)
        assert late["lock"]["status"] == "unlocked"

        reversal = reversed_(tenant.tenant_id)
        # The reversal, then both events delivered again (same ids), then the other tenant's reversal: one
        # partition (the invoice id is the key), so once theirs is locked again everything before it was handled.
        await publish(reversal, first_payment, reversal, reversed_(other.tenant_id))
        await eventually(lambda: _status(client, other, theirs["share_id"], "locked", after_unlock=True),
                         timeout=60, message="the other tenant's share locked again")
    finally:
        await producer.stop()
        await broker.stop()

    assert (await lock_of(client, tenant, share["share_id"]))["status"] == "locked"
    assert (await lock_of(client, tenant, late["share_id"]))["status"] == "locked"
    assert await lock_history(harness, share["share_id"]) == [
        "ShareLocked:staff", "ShareUnlocked:invoice_paid", "ShareLocked:payment_reversed"]
    assert await lock_history(harness, late["share_id"]) == [
        "ShareLocked:staff", "ShareUnlocked:invoice_paid", "ShareLocked:payment_reversed"]
    assert await lock_history(harness, theirs["share_id"]) == [
        "ShareLocked:staff", "ShareUnlocked:invoice_paid", "ShareLocked:payment_reversed"]
    assert (await client.get("/guest/download", headers=guest, follow_redirects=False)).status_code == 403


async def _status(client, tenant, share_id: str, status: str, *, after_unlock: bool = False) -> bool:  # noqa: ANN001
    lock = await lock_of(client, tenant, share_id)
    return lock is not None and lock["status"] == status and (not after_unlock or lock["changed_at"] is not None)


async def test_staff_lock_an_existing_share_see_the_lock_and_release_it(client, harness, tenant):
    share = await a_share(client, tenant)
    assert share["lock"] is None
    invoice_id = f"inv_{secrets.token_hex(12)}"
    for bad in ("inv_123", "INV_" + "a" * 24, "inv_" + "z" * 24, "", "inv_" + "a" * 24 + "\u0000"):
        refused = await client.post(f"/v1/shares/{share['share_id']}/lock", json={"invoice_id": bad},
                                    headers=tenant.headers)
        assert refused.status_code in (400, 422), bad
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await lock_of(client, tenant, share["share_id"])) is None  # nothing half-written

    locked = await client.post(f"/v1/shares/{share['share_id']}/lock", json={"invoice_id": invoice_id},
                               headers=tenant.headers)
    assert locked.status_code == 200 and locked.json()["lock"]["status"] == "locked"
    again = await client.post(f"/v1/shares/{share['share_id']}/lock", json={"invoice_id": f"inv_{'b' * 24}"},
                              headers=tenant.headers)
    assert again.status_code == 409
    guest = harness.guest_headers_for(share["links"][0]["link_id"], **{"accept-language": "es"})
    page = await client.get("/guest/", headers=guest)
    assert "Este documento se desbloquea cuando se pague la factura de Demo Firm correspondiente" in page.text

    someone_else = harness.new_tenant()
    assert (await client.post(f"/v1/shares/{share['share_id']}/unlock",
                              headers=someone_else.headers)).status_code == 404
    released = await client.post(f"/v1/shares/{share['share_id']}/unlock", headers=tenant.headers)
    assert released.status_code == 200 and released.json()["lock"] is None
    assert (await client.get("/guest/download", headers=guest, follow_redirects=False)).status_code == 303
    assert await lock_history(harness, share["share_id"]) == ["ShareLocked:staff", "ShareUnlocked:released"]
