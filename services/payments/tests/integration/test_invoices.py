"""Invoices through the staff API on real PostgreSQL: created with their amounts computed, issued with their pay
link, corrected by credit notes, paid offline, refunded and reversed; each tenant sees only its own; bad input is
refused naming the field with nothing written; and concurrent payments record InvoicePaid exactly once."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from loginless.payments import handlers
from loginless.shared.eventstore import Cause

from .conftest import invoice_body

pytestmark = pytest.mark.integration


async def create(client, tenant, **body):  # noqa: ANN001, ANN003, ANN201
    response = await client.post("/v1/invoices", json=invoice_body(**body), headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def issue(client, tenant, **body):  # noqa: ANN001, ANN003, ANN201
    invoice = await create(client, tenant, **body)
    response = await client.post(f"/v1/invoices/{invoice['invoice_id']}/issue", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_invoice_is_created_with_vat_per_category_withholding_and_a_checked_iban(client, harness, tenant):
    invoice = await create(client, tenant)

    assert invoice["status"] == "draft" and invoice["currency_exponent"] == 2
    assert [(t["tax_category"], t["tax_rate"], t["taxable_minor"], t["tax_minor"]) for t in invoice["taxes"]] == [
        ("S", "4", 4100, 164), ("S", "21", 90000, 18900)]
    assert invoice["totals"] == {"lines_minor": 104100, "discounts_minor": 10000, "taxable_minor": 94100,
                                 "tax_minor": 19064, "gross_minor": 113164, "withheld_minor": 14115,
                                 "payable_minor": 99049}
    assert invoice["bank"] == {"iban": "ES9121000418450200051332", "bic": "CAIXESBB", "holder": "Demo Firm SL"}
    assert invoice["creditor_reference"].startswith("RF")
    assert await harness.events(invoice["invoice_id"]) == ["InvoiceCreated"]


async def test_issuing_makes_it_payable_and_issues_one_pay_link_e_mailed_to_the_payer(client, harness, tenant):
    issued = await issue(client, tenant)

    assert issued["status"] == "open" and issued["due_minor"] == 99049
    [link] = harness.links.links_for(issued["invoice_id"])
    assert (link.action, link.tenant_id, link.recipient.email) == ("pay", tenant.tenant_id, "ana@example.test")
    assert issued["link_ids"] == [link.link_id] and issued["link_url"].startswith("http://gateway.test/l/")
    again = await client.post(f"/v1/invoices/{issued['invoice_id']}/issue", headers=tenant.headers)
    assert again.json()["link_url"] is None and again.json()["link_ids"] == [link.link_id]  # nothing new
    assert await harness.events(issued["invoice_id"]) == ["InvoiceCreated", "InvoiceIssued", "InvoiceLinkIssued"]


async def test_a_pay_link_links_could_not_issue_is_issued_by_the_worker_later(client, harness, tenant):
    invoice = await create(client, tenant)
    harness.links.fail_issuing_after(0)
    try:
        issued = (await client.post(f"/v1/invoices/{invoice['invoice_id']}/issue", headers=tenant.headers)).json()
    finally:
        harness.links.fail_issuing_after(None)
    assert issued["status"] == "open" and issued["link_ids"] == [] and issued["link_url"] is None

    await handlers.work_through_jobs(harness.context())

    assert len(harness.links.links_for(invoice["invoice_id"])) == 1
    assert await harness.events(invoice["invoice_id"]) == ["InvoiceCreated", "InvoiceIssued", "InvoiceLinkIssued"]


@pytest.mark.parametrize(("change", "field"), [
    ({"bank": {"iban": "ES9121000418450200051333", "holder": "Demo Firm SL"}}, "bank.iban"),
    ({"currency": "XYZ"}, "currency"),
    ({"lines": [{"description": "Advice", "unit_price": "10", "tax_category": "E", "tax_rate": "21"}]},
     "lines[0].tax_rate"),
    ({"due_date": "2026-12-01"}, "due_date"),
    ({"partial_payments": True, "minimum_partial": "5000"}, "minimum_partial"),
])
async def test_bad_input_is_a_422_naming_the_field_and_nothing_is_written(client, harness, tenant, change, field):
    response = await client.post("/v1/invoices", json=invoice_body(**change), headers=tenant.headers)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text
    assert await harness.count("invoices", tenant.tenant_id) == 0


async def test_money_as_a_json_float_is_refused_naming_the_field(client, harness, tenant):
    body = invoice_body(lines=[{"description": "Advice", "unit_price": 10.1, "tax_rate": "21"}])
    response = await client.post("/v1/invoices", json=body, headers=tenant.headers)

    assert response.status_code == 400 and "lines.0.unit_price" in response.text  # the kit's shape check, as everywhere
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await harness.count("invoices", tenant.tenant_id) == 0


async def test_an_invoice_number_is_taken_once_per_tenant(client, harness, tenant):
    await create(client, tenant, number="2026-001")
    second = await client.post("/v1/invoices", json=invoice_body(number="2026-001"), headers=tenant.headers)
    assert second.status_code == 409 and second.json()["type"].endswith("invoice-number-taken")
    await create(client, harness.new_tenant(), number="2026-001")  # another firm's numbering is its own


async def test_a_retried_create_with_the_same_idempotency_key_creates_one_invoice(client, harness, tenant):
    body, headers = invoice_body(), {**tenant.headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/v1/invoices", json=body, headers=headers)
    second = await client.post("/v1/invoices", json=body, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true" and first.json() == second.json()
    assert await harness.count("invoices", tenant.tenant_id) == 1


async def test_another_tenants_invoice_is_not_found_and_never_listed(client, harness, tenant):
    issued = await issue(client, tenant)
    other = harness.new_tenant()

    assert (await client.get(f"/v1/invoices/{issued['invoice_id']}", headers=other.headers)).status_code == 404
    paying = await client.post(f"/v1/invoices/{issued['invoice_id']}/payments", json={}, headers=other.headers)
    assert paying.status_code == 404
    assert (await client.get("/v1/invoices", headers=other.headers)).json()["invoices"] == []
    assert (await client.get("/v1/invoices", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_partial_transfers_then_the_rest_pay_it_and_listing_filters_by_status(client, harness, tenant):
    issued = await issue(client, tenant, partial_payments=True, minimum_partial="100")
    draft = await create(client, tenant)
    invoice_id = issued["invoice_id"]

    part = await client.post(f"/v1/invoices/{invoice_id}/payments", json={"amount": "400.00", "reference": "TR-1"},
                             headers=tenant.headers)
    assert part.status_code == 201 and part.json()["invoice"]["status"] == "partially_paid"
    too_much = await client.post(f"/v1/invoices/{invoice_id}/payments", json={"amount": "591.00"},
                                 headers=tenant.headers)
    assert too_much.status_code == 422 and "at most 59049" in too_much.text
    rest = await client.post(f"/v1/invoices/{invoice_id}/payments", json={}, headers=tenant.headers)
    assert rest.json()["invoice"]["status"] == "paid" and rest.json()["invoice"]["due_minor"] == 0
    assert await harness.events(invoice_id) == ["InvoiceCreated", "InvoiceIssued", "InvoiceLinkIssued",
                                                "PaymentReceived", "PaymentReceived", "InvoicePaid"]

    paid = (await client.get("/v1/invoices?status=paid", headers=tenant.headers)).json()["invoices"]
    assert [(i["invoice_id"], i["paid_minor"]) for i in paid] == [(invoice_id, 99049)]
    drafts = (await client.get("/v1/invoices?status=draft", headers=tenant.headers)).json()["invoices"]
    assert [i["invoice_id"] for i in drafts] == [draft["invoice_id"]]


async def test_overdue_lists_only_invoices_still_due_after_their_due_date(client, tenant):
    late = await issue(client, tenant, issue_date="2026-01-01", due_date="2026-01-31")
    await issue(client, tenant)  # due later
    paid_late = await issue(client, tenant, issue_date="2026-01-01", due_date="2026-01-31")
    await client.post(f"/v1/invoices/{paid_late['invoice_id']}/payments", json={}, headers=tenant.headers)

    overdue = (await client.get("/v1/invoices?overdue=true", headers=tenant.headers)).json()["invoices"]
    assert [i["invoice_id"] for i in overdue] == [late["invoice_id"]]


async def test_a_credit_note_corrects_an_issued_invoice_and_a_full_one_credits_it(client, harness, tenant):
    issued = await issue(client, tenant, withholdings=[])
    url = f"/v1/invoices/{issued['invoice_id']}/credit-notes"
    part = await client.post(url, json={"number": "R-1", "reason": "Book not delivered", "lines": [
        {"description": "Tax guide (book)", "quantity": "2", "unit_price": "20.50", "tax_rate": "4"}]},
        headers=tenant.headers)
    assert part.status_code == 201, part.text
    assert part.json()["credited_minor"] == 4264 and part.json()["payable_minor"] == 113164 - 4264

    rest = await client.post(url, json={"number": "R-2", "reason": "Cancelled", "lines": [
        {"description": "Tax return 2025", "unit_price": "900", "tax_rate": "21"}]}, headers=tenant.headers)
    assert rest.json()["status"] == "credited" and rest.json()["payable_minor"] == 0
    beyond = await client.post(url, json={"number": "R-3", "reason": "x", "lines": [
        {"description": "x", "unit_price": "1", "tax_rate": "21"}]}, headers=tenant.headers)
    assert beyond.status_code == 422
    paying = await client.post(f"/v1/invoices/{issued['invoice_id']}/payments", json={}, headers=tenant.headers)
    assert paying.status_code == 409 and paying.json()["type"].endswith("invoice-not-payable")


async def test_a_refund_and_a_reversal_reopen_a_paid_invoice(client, harness, tenant):
    issued = await issue(client, tenant)
    invoice_id = issued["invoice_id"]
    paid = (await client.post(f"/v1/invoices/{invoice_id}/payments", json={}, headers=tenant.headers)).json()
    payment_id = paid["payment_id"]

    refund = await client.post(f"/v1/invoices/{invoice_id}/payments/{payment_id}/refunds",
                               json={"amount": "90.49", "reason": "Goodwill"}, headers=tenant.headers)
    assert refund.status_code == 201 and refund.json()["invoice"]["status"] == "partially_paid"
    assert refund.json()["invoice"]["due_minor"] == 9049
    reversal = await client.post(f"/v1/invoices/{invoice_id}/payments/{payment_id}/reversal",
                                 json={"reason": "failed_debit"}, headers=tenant.headers)
    assert reversal.json()["status"] == "open" and reversal.json()["due_minor"] == 99049
    assert (await harness.events(invoice_id))[-3:] == ["InvoicePaid", "PaymentRefunded", "PaymentReversed"]


async def test_two_transfers_recorded_at_once_for_all_that_is_due_record_one_payment_and_one_invoice_paid(
        client, harness, tenant):
    issued = await issue(client, tenant)
    url = f"/v1/invoices/{issued['invoice_id']}/payments"

    answers = await asyncio.gather(*(client.post(url, json={"amount": "990.49"}, headers=tenant.headers)
                                     for _ in range(4)))

    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]  # the losers find it paid
    assert (await harness.events(issued["invoice_id"])).count("InvoicePaid") == 1


async def test_a_double_submit_two_tabs_and_webhooks_twice_or_out_of_order_pay_once(client, harness, tenant):
    issued = await issue(client, tenant)
    ctx, invoice_id, cause = harness.context(), issued["invoice_id"], Cause("test")

    async def start(payment_id: str):  # noqa: ANN202
        try:
            return await handlers.start_payment(ctx, tenant.tenant_id, invoice_id, payment_id=payment_id,
                                                amount_minor=None, method="card", provider="test", payer_name="Ana",
                                                payer_email=None, link_id=None, cause=cause)
        except Exception as error:  # noqa: BLE001
            return error

    # a double submit (the same attempt twice) and a second tab (another attempt), all at once
    results = await asyncio.gather(start("pay_a"), start("pay_a"), start("pay_b"))
    started = [e for e in await harness.events(invoice_id) if e == "PaymentStarted"]
    assert len(started) == 1 and sum(isinstance(r, Exception) for r in results) <= 1

    invoice = await handlers.invoice(ctx, tenant.tenant_id, invoice_id)
    [payment] = invoice.payments

    async def report(succeeded: bool):  # noqa: ANN202, FBT001
        return await handlers.settle_payment(ctx, invoice_id, payment.payment_id, succeeded=succeeded,
                                             provider_payment_id="pi_1", amount_minor=99049, currency="EUR",
                                             reason=None if succeeded else "late failure", cause=cause)

    await asyncio.gather(report(True), report(True), report(False))  # twice, and a failure out of order

    events = await harness.events(invoice_id)
    assert events.count("PaymentReceived") == 1 and events.count("InvoicePaid") == 1
    assert "PaymentFailed" not in events[events.index("PaymentReceived"):]


async def test_a_provider_confirming_another_amount_is_flagged_and_not_counted(client, harness, tenant):
    issued = await issue(client, tenant)
    ctx, cause = harness.context(), Cause("test")
    await handlers.start_payment(ctx, tenant.tenant_id, issued["invoice_id"], payment_id="pay_x", amount_minor=None,
                                 method="card", provider="test", payer_name=None, payer_email=None, link_id=None,
                                 cause=cause)

    await handlers.settle_payment(ctx, issued["invoice_id"], "pay_x", succeeded=True, provider_payment_id="pi_x",
                                  amount_minor=100, currency="EUR", reason=None, cause=cause)

    detail = (await client.get(f"/v1/invoices/{issued['invoice_id']}", headers=tenant.headers)).json()
    assert detail["paid_minor"] == 0 and detail["payments"][0]["flagged"] is True
    assert (await harness.events(issued["invoice_id"]))[-1] == "PaymentFlagged"


async def test_a_rebuild_reproduces_the_read_model(client, harness, tenant):
    issued = await issue(client, tenant, partial_payments=True)
    await client.post(f"/v1/invoices/{issued['invoice_id']}/payments", json={"amount": "10"}, headers=tenant.headers)
    query = f'SELECT * FROM "{harness.settings.schema}".invoices ORDER BY invoice_id'
    before = [dict(r) for r in await harness.pool.fetch(query)]

    await harness.context().projections.rebuild()

    assert [dict(r) for r in await harness.pool.fetch(query)] == before
