"""The pay page in Debian's Chromium, through the gateway of the running stack: a guest on a 375-px phone
downloads the invoice (its Factur-X e-invoice) and pays it in full on the built-in test provider, downloads the
receipt, and gets it by mail too; another pays a part, then the rest, with the keyboard alone; a
third sees the bank transfer's IBAN, reference and EPC QR code, and the page says paid once staff record it.
axe-core finds no serious or critical violation, and the page's CSP blocks nothing it needs."""

from __future__ import annotations

import uuid
from urllib.parse import urljoin

import facturx
import httpx
import pytest

from loginless.testkit.browser import assert_accessible, chromium, guest_page
from loginless.testkit.mailpit import mails_to
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.e2e

SELLER = {"name": "Demo Firm SL", "vat_id": "ESB12345678",
          "address": {"lines": ["Calle Mayor 1"], "city": "Madrid", "postcode": "28013", "country": "ES"}}
BUYER = {"name": "Pérez Asesores SL", "vat_id": "ESB87654321", "address": {"lines": ["Gran Vía 2"], "country": "ES"}}


@pytest.fixture(scope="module")
async def browser():
    async with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def desk(stack_env) -> httpx.Client:
    with httpx.Client(base_url=stack_env["PAYMENTS_URL"], timeout=30,
                      headers={"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"}) as client:
        yield client


def issued_invoice(desk: httpx.Client, **body) -> dict:  # noqa: ANN003
    """An invoice issued with its pay link; the link's URL comes back this once (and links e-mails it)."""
    created = desk.post("/v1/invoices", json={
        "account_id": "e2e", "number": f"E2E-{uuid.uuid4().hex[:10]}", "currency": "EUR",
        "issue_date": "2026-12-01", "due_date": "2026-12-31",
        "lines": [{"description": "Annual accounts", "unit_price": "500", "tax_rate": "21"},
                  {"description": "Tax guide", "quantity": "2", "unit_price": "20.50", "tax_rate": "4"}],
        "withholdings": [{"description": "IRPF", "rate": "15"}],
        "bank": {"iban": "ES9121000418450200051332", "holder": "Demo Firm SL"},
        "payer": {"name": "Luis Pérez", "email": f"luis-{uuid.uuid4().hex[:8]}@example.com"}, **body})
    assert created.status_code == 201, created.text
    issued = desk.post(f"/v1/invoices/{created.json()['invoice_id']}/issue")
    assert issued.status_code == 200 and issued.json()["link_url"], issued.text
    return issued.json()


async def open_link(page, url: str) -> str:  # noqa: ANN001
    assert (await page.goto(url)).status == 200
    await page.wait_for_url("**/g/*/")
    return page.url


async def test_a_guest_on_a_phone_pays_an_invoice_in_full_on_the_test_provider(desk, browser, stack_env):
    invoice = issued_invoice(desk, seller=SELLER, buyer=BUYER)
    payer = f"luis-{uuid.uuid4().hex[:8]}@example.com"
    async with guest_page(browser) as page:
        landed = await open_link(page, invoice["link_url"])
        main = await page.locator("main").inner_text()
        assert invoice["number"] in main and "€566.49" in main and "IRPF withheld (15%)" in main
        await assert_accessible(browser, landed, cookies=await page.context.cookies())
        await page.get_by_label("Your name").fill("Luis Pérez")
        await page.get_by_label("Your e-mail address").fill(payer)
        pdf = await page.request.get(urljoin(page.url, await page.locator("[data-invoice-pdf]").get_attribute("href")))
        assert pdf.headers["content-type"] == "application/pdf"  # the e-invoice, through the gateway
        assert facturx.get_facturx_xml_from_pdf(await pdf.body())[0] == "factur-x.xml"
        await page.get_by_role("button", name="Pay €566.49").click()
        await page.locator("[data-test-provider]").wait_for()
        assert "/l/" not in page.url and "€566.49" in await page.locator("[data-charged]").inner_text()
        await assert_accessible(browser, page.url, cookies=await page.context.cookies())
        await page.get_by_role("button", name="Approve the payment").click()
        await page.locator("[data-paid]").wait_for()
        assert await page.locator("[data-pay-form]").count() == 0
        receipt = await page.request.get(urljoin(page.url, await page.locator("[data-receipt]").get_attribute("href")))
        assert receipt.headers["content-type"] == "application/pdf"
        assert page.csp_errors == []
    assert desk.get(f"/v1/invoices/{invoice['invoice_id']}").json()["status"] == "paid"

    async def receipt_mail() -> dict | None:  # notifications mails the payer, the receipt attached
        mails = [m for m in await mails_to(stack_env["MAIL_UI_URL"], payer) if m["Attachments"]]
        return mails[0] if mails else None

    mail = await eventually(receipt_mail, timeout=60, message=f"the receipt mailed to {payer}")
    assert mail["Subject"] == "Demo Firm: we received your payment" and "€566.49" in mail["Text"]
    assert [a["ContentType"] for a in mail["Attachments"]] == ["application/pdf"]


async def test_a_part_then_the_rest_with_the_keyboard_alone_after_a_3ds_step(desk, browser):
    invoice = issued_invoice(desk, partial_payments=True, minimum_partial="100")
    async with guest_page(browser) as page:
        await open_link(page, invoice["link_url"])
        for amount, rest in (("200", "€366.49"), ("366.49", None)):
            await page.get_by_label("Your name").focus()
            await page.keyboard.type("Ana Ortiz")
            await page.keyboard.press("Tab")
            await page.keyboard.type("ana@example.com")
            await page.keyboard.press("Tab")
            await page.keyboard.press("Control+A")
            await page.keyboard.type(amount)
            await page.keyboard.press("Enter")
            await page.locator("[data-test-provider]").wait_for()
            await page.get_by_role("button", name="Approve after a 3-D Secure step").focus()
            await page.keyboard.press("Enter")
            await page.get_by_role("button", name="Confirm the payment").focus()
            await page.keyboard.press("Enter")
            if rest:
                await page.locator("[data-received]").wait_for()
                assert await page.locator("[data-due]").inner_text() == rest
        await page.locator("[data-paid]").wait_for()
    detail = desk.get(f"/v1/invoices/{invoice['invoice_id']}").json()
    assert [p["amount_minor"] for p in detail["payments"]] == [20000, 36649] and detail["status"] == "paid"


async def test_a_bank_transfer_is_shown_with_its_qr_code_and_is_paid_once_staff_record_it(desk, browser):
    invoice = issued_invoice(desk)
    async with guest_page(browser) as page:
        landed = await open_link(page, invoice["link_url"]) + "?lang=es"
        await page.goto(landed)
        transfer = page.locator("[data-transfer]")
        assert "ES9121000418450200051332" in await transfer.inner_text()
        assert invoice["creditor_reference"] in await transfer.inner_text()
        assert await page.locator("[data-epc-qr] svg").count() == 1
        assert "566,49\xa0€" in await page.locator("[data-due]").inner_text()
        await assert_accessible(browser, landed, cookies=await page.context.cookies())
        recorded = desk.post(f"/v1/invoices/{invoice['invoice_id']}/payments", json={"reference": "TR-1"})
        assert recorded.status_code == 201
        await page.reload()
        await page.locator("[data-paid]").wait_for()
        assert await page.locator("[data-transfer]").count() == 0
