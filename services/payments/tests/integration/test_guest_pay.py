"""The pay page through the gateway's assertion, on real PostgreSQL: the invoice and what is due, a card payment
on the built-in test provider (approve, decline, a 3-D Secure step), partial payments decided on the server, a
bank transfer with its reference and EPC QR code, and the provider's webhooks -- forged, replayed, delivered twice
-- judged so that the invoice is paid exactly once."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from loginless.payments.ports import ProviderReport
from loginless.payments.testprovider import new_event_id

from .test_invoices import issue

pytestmark = pytest.mark.integration


def pay_form(page: str, **values: str) -> dict[str, str]:
    attempt = re.search(r'name="attempt" value="(pay_[0-9a-f]+)"', page).group(1)
    return {"attempt": attempt, "name": "Luis Pérez (asesor)", "email": "luis@example.test", **values}


async def card_payment(client, headers, choice: str = "approve", **values: str):  # noqa: ANN001, ANN201
    """Open the page, submit the form, and answer on the test provider's page; returns the page landed on."""
    page = (await client.get("/guest/", headers=headers)).text
    handed = await client.post("/guest/pay", data=pay_form(page, **values), headers=headers, follow_redirects=False)
    assert handed.status_code == 303, handed.text
    provider_url = handed.headers["location"]
    assert re.fullmatch(r"/g/[^/]+/test-provider/pay_[0-9a-f]+", provider_url)  # token-free
    path = provider_url.split("/", 3)[3]
    card = await client.get(f"/{path}".replace("/test-provider", "/guest/test-provider"), headers=headers)
    assert "data-approve" in card.text
    answered = await client.post(f"/guest/{path}", data={"choice": choice}, headers=headers,
                                 follow_redirects=False)
    assert answered.status_code == 303
    return await client.get(f"/guest/{answered.headers['location'].split('/', 3)[3]}", headers=headers)


async def test_a_guest_pays_the_whole_invoice_by_card_and_the_page_then_says_paid(client, harness, tenant):
    issued = await issue(client, tenant)
    headers = harness.guest_headers(issued["link_ids"][0])

    page = await client.get("/guest/", headers=headers)
    assert page.status_code == 200 and "Invoice 2026-" in page.text and "Demo Firm" in page.text
    assert "€990.49" in page.text and "VAT 21%" in page.text and "IRPF withheld (15%)" in page.text
    assert "<script" not in page.text  # nothing of a third party, nothing of ours either

    landed = await card_payment(client, headers)

    assert "data-received" in landed.text or "data-paid" in landed.text
    assert "data-pay-form" not in landed.text and "data-pay" not in landed.text.replace("data-paid", "")
    events = await harness.events(issued["invoice_id"])
    assert events[-3:] == ["PaymentStarted", "PaymentReceived", "InvoicePaid"]


async def test_the_page_is_in_spanish_with_money_as_spain_writes_it(client, harness, tenant):
    issued = await issue(client, tenant)
    page = await client.get("/guest/", headers=harness.guest_headers(issued["link_ids"][0],
                                                                     **{"accept-language": "es-ES"}))
    assert "Importe pendiente" in page.text and "990,49\xa0€" in page.text and "Vence el 31 de diciembre de 2026" \
        in page.text


async def test_a_declined_card_leaves_it_due_and_a_3ds_approval_then_pays_it(client, harness, tenant):
    issued = await issue(client, tenant)
    headers = harness.guest_headers(issued["link_ids"][0])

    declined = await card_payment(client, headers, "decline")
    assert "data-failed" in declined.text and "data-pay-form" in declined.text

    page = (await client.get("/guest/", headers=headers)).text
    handed = await client.post("/guest/pay", data=pay_form(page), headers=headers, follow_redirects=False)
    path = handed.headers["location"].split("/", 3)[3]
    challenge = await client.post(f"/guest/{path}", data={"choice": "3ds"}, headers=headers, follow_redirects=False)
    step = await client.get(f"/guest/{challenge.headers['location'].split('/', 3)[3]}", headers=headers)
    assert "data-authenticate" in step.text
    await client.post(f"/guest/{path}", data={"choice": "approve"}, headers=headers)

    assert (await harness.events(issued["invoice_id"])).count("InvoicePaid") == 1


async def test_a_guest_who_goes_back_from_the_test_providers_page_without_paying_can_pay_again_at_once(
        client, harness, tenant):
    issued = await issue(client, tenant)
    headers = harness.guest_headers(issued["link_ids"][0])
    page = (await client.get("/guest/", headers=headers)).text
    handed = await client.post("/guest/pay", data=pay_form(page), headers=headers, follow_redirects=False)
    card = await client.get(f"/guest/{handed.headers['location'].split('/', 3)[3]}", headers=headers)
    leave = re.search(r'<a href="([^"]+)" data-leave>', card.text).group(1).replace("&amp;", "&")

    back = await client.get(f"/guest/{leave.split('/', 3)[3]}", headers=headers)

    assert "data-failed" in back.text and "data-pay-form" in back.text
    assert (await harness.events(issued["invoice_id"]))[-2:] == ["PaymentStarted", "PaymentFailed"]
    assert "data-paid" in (await card_payment(client, headers)).text


async def test_a_part_then_the_rest_pay_it_and_more_than_is_open_is_refused_on_the_server(client, harness, tenant):
    issued = await issue(client, tenant, partial_payments=True, minimum_partial="100")
    headers = harness.guest_headers(issued["link_ids"][0])

    page = (await client.get("/guest/", headers=headers)).text
    too_much = await client.post("/guest/pay", data=pay_form(page, amount="990.50"), headers=headers)
    assert too_much.status_code == 422 and "more than what is still open" in too_much.text
    too_little = await client.post("/guest/pay", data=pay_form(page, amount="99.99"), headers=headers)
    assert too_little.status_code == 422 and "less than the least" in too_little.text

    first = await card_payment(client, headers, amount="400")
    assert "€590.49" in first.text and "data-pay-form" in first.text
    last = await card_payment(client, headers, amount="590.49")
    assert "data-pay-form" not in last.text
    events = await harness.events(issued["invoice_id"])
    assert events.count("PaymentReceived") == 2 and events.count("InvoicePaid") == 1 and events[-1] == "InvoicePaid"


async def test_two_tabs_paying_at_once_start_one_payment_and_a_double_submit_starts_it_once(client, harness, tenant):
    issued = await issue(client, tenant)
    headers = harness.guest_headers(issued["link_ids"][0])
    tab_a = (await client.get("/guest/", headers=headers)).text
    tab_b = (await client.get("/guest/", headers=headers)).text
    form_a = pay_form(tab_a)

    answers = await asyncio.gather(*(client.post("/guest/pay", data=form, headers=headers, follow_redirects=False)
                                     for form in (form_a, form_a, pay_form(tab_b))))

    assert sorted(a.status_code for a in answers) == [303, 303, 409]  # tab B finds the payment under way
    assert "already under way" in next(a for a in answers if a.status_code == 409).text
    assert (await harness.events(issued["invoice_id"])).count("PaymentStarted") == 1


async def test_bank_transfer_details_show_the_iban_the_rf_reference_and_an_epc_qr_code(client, harness, tenant):
    issued = await issue(client, tenant)
    page = (await client.get("/guest/", headers=harness.guest_headers(issued["link_ids"][0]))).text

    assert "ES9121000418450200051332" in page and issued["creditor_reference"] in page
    assert re.search(r"data-epc-qr>.*<svg", page, re.S)
    paid = await client.post(f"/v1/invoices/{issued['invoice_id']}/payments", json={"reference": "TR"},
                             headers=tenant.headers)
    assert paid.status_code == 201
    after = (await client.get("/guest/", headers=harness.guest_headers(issued["link_ids"][0]))).text
    assert "data-paid" in after and "data-transfer" not in after and "data-pay-form" not in after


async def test_a_credited_invoice_says_so_and_has_no_pay_button(client, harness, tenant):
    issued = await issue(client, tenant, withholdings=[], discounts=[], lines=[
        {"description": "Advice", "unit_price": "100", "tax_rate": "21"}])
    await client.post(f"/v1/invoices/{issued['invoice_id']}/credit-notes", json={
        "number": "R-1", "reason": "Cancelled", "lines": [{"description": "Advice", "unit_price": "100",
                                                            "tax_rate": "21"}]}, headers=tenant.headers)
    page = (await client.get("/guest/", headers=harness.guest_headers(issued["link_ids"][0]))).text
    assert "data-credited" in page and "data-pay-form" not in page and "data-transfer" not in page


async def test_a_link_reaches_only_its_own_invoice_whatever_the_path_says(client, harness, tenant):
    mine = await issue(client, tenant)
    other = harness.new_tenant()
    _, link = harness.links.add_link(other.tenant_id, action="pay", resource_id=mine["invoice_id"])
    page = await client.get("/guest/", headers=harness.guest_headers(link.link_id))
    assert page.status_code == 404 and mine["number"] not in page.text


def signed(harness, report: ProviderReport, timestamp: int | None = None) -> tuple[bytes, dict]:  # noqa: ANN001
    payload = json.dumps(report.__dict__, sort_keys=True).encode()
    return payload, {"test-signature": harness.provider.signature(payload, timestamp or int(time.time())),
                     "content-type": "application/json"}


async def test_webhooks_forged_or_replayed_are_refused_and_one_delivered_twice_counts_once(client, harness, tenant):
    issued = await issue(client, tenant)
    headers = harness.guest_headers(issued["link_ids"][0])
    page = (await client.get("/guest/", headers=headers)).text
    form = pay_form(page)
    await client.post("/guest/pay", data=form, headers=headers, follow_redirects=False)
    report = ProviderReport(event_id=new_event_id(), payment_id=form["attempt"], invoice_id=issued["invoice_id"],
                            outcome="succeeded", provider_payment_id="test_1", amount_minor=99049, currency="EUR")
    payload, good = signed(harness, report)

    forged = await client.post("/webhooks/test", content=payload, headers={
        **good, "test-signature": good["test-signature"][:-4] + "0000"})
    assert forged.status_code == 400 and forged.headers["content-type"] == "application/problem+json"
    stale_payload, stale = signed(harness, report, int(time.time()) - 3600)
    assert (await client.post("/webhooks/test", content=stale_payload, headers=stale)).status_code == 400
    assert "PaymentReceived" not in await harness.events(issued["invoice_id"])

    answers = await asyncio.gather(*(client.post("/webhooks/test", content=payload, headers=good) for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True, True]
    events = await harness.events(issued["invoice_id"])
    assert events.count("PaymentReceived") == 1 and events.count("InvoicePaid") == 1


async def test_a_webhook_racing_the_return_page_shows_processing_or_received_never_an_error(client, harness, tenant):
    issued = await issue(client, tenant)
    headers = harness.guest_headers(issued["link_ids"][0])
    form = pay_form((await client.get("/guest/", headers=headers)).text)
    await client.post("/guest/pay", data=form, headers=headers, follow_redirects=False)
    payload, good = signed(harness, ProviderReport(
        event_id=new_event_id(), payment_id=form["attempt"], invoice_id=issued["invoice_id"], outcome="succeeded",
        provider_payment_id="test_2", amount_minor=99049, currency="EUR"))

    returned, hook = await asyncio.gather(client.get(f"/guest/?payment={form['attempt']}", headers=headers),
                                          client.post("/webhooks/test", content=payload, headers=good))

    assert returned.status_code == 200 and hook.status_code == 200
    assert "data-processing" in returned.text or "data-paid" in returned.text
    final = await client.get(f"/guest/?payment={form['attempt']}", headers=headers)
    assert "data-paid" in final.text
