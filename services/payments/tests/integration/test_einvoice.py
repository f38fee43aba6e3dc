"""The invoice's PDF and a payment's receipt through the staff API and the pay page, on real PostgreSQL; and the
e-invoice checked as the receiving firm's software would, by Mustang's validator (Java): PDF/A-3 (veraPDF), the
Factur-X XSD and the EN 16931 Schematron -- passing on real invoices of 0 and 2 decimals, failing on one whose
amount due was altered (so the check can fail). Bad inputs tried: another tenant's invoice, a payment that was
never received, an unknown payment on the guest's link, a 3-decimal currency (no e-invoice, a plain PDF)."""

from __future__ import annotations

import re
from decimal import Decimal
from io import BytesIO

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from loginless.payments import einvoice, handlers, pdfs
from loginless.testkit.einvoice import validate_einvoices

from .test_guest_pay import card_payment
from .test_invoices import issue

pytestmark = pytest.mark.integration

SELLER = {"name": "Demo Firm SL", "vat_id": "ESB12345678",
          "address": {"lines": ["Calle Mayor 1"], "city": "Madrid", "postcode": "28013", "country": "ES"}}
BUYER = {"name": "Ortiz Consulting SA", "vat_id": "ESA87654321",
         "address": {"lines": ["Gran Vía 2"], "city": "Madrid", "postcode": "28013", "country": "ES"}}
JAPANESE = {"currency": "JPY", "lines": [{"description": "Translation", "quantity": "3", "unit_price": "12000",
                                          "tax_rate": "10", "discount_percent": "5"}],
            "discounts": [], "withholdings": []}


def text_of(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages).replace("\xa0", " ")


async def test_invoices_pdfs_are_e_invoices_the_validator_accepts_and_an_altered_one_it_refuses(
        client, harness, tenant, tmp_path, monkeypatch):
    spanish = await issue(client, tenant, seller=SELLER, buyer=BUYER)  # IRPF, a discount, two VAT rates, an IBAN
    japanese = await issue(client, tenant, seller=SELLER, buyer=BUYER, **JAPANESE)
    files = []
    for issued in (spanish, japanese):
        response = await client.get(f"/v1/invoices/{issued['invoice_id']}/pdf", headers=tenant.headers)
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        assert response.headers["x-e-invoice"] == "factur-x; profile=en16931"
        assert 'filename="invoice-2026-' in response.headers["content-disposition"]
        _, xml = facturx.get_facturx_xml_from_pdf(response.content)
        due = etree.fromstring(xml).xpath("//ram:DuePayableAmount/text()", namespaces=einvoice.NAMESPACES)
        assert [Decimal(amount) for amount in due] == [
            Decimal(issued["totals"]["payable_minor"]).scaleb(-issued["currency_exponent"])]
        files.append(tmp_path / f"{issued['currency']}.pdf")
        files[-1].write_bytes(response.content)
    # The same invoice with its amount due raised by one: valid XML, but the totals no longer add up (BR-CO-16).
    state = await handlers.invoice(harness.context(), tenant.tenant_id, spanish["invoice_id"])
    honest = einvoice.cii_xml
    monkeypatch.setattr(einvoice, "cii_xml", lambda invoice: re.sub(
        rb"<ram:DuePayableAmount>([0-9.]+)</", lambda m: b"<ram:DuePayableAmount>%.2f</" % (float(m[1]) + 1),
        honest(invoice)))
    files.append(tmp_path / "altered.pdf")
    files[-1].write_bytes(pdfs.invoice_pdf(state, language="en", firm="Demo Firm", now=state.created.created_at)
                          .content)

    verdicts = validate_einvoices(*files)

    assert [verdict.valid for verdict in verdicts] == [True, True, False], [v.report[:3000] for v in verdicts]
    assert "flavour=3b" in verdicts[0].report and "isCompliant=true" in verdicts[0].report  # PDF/A-3B
    assert "BR-CO-16" in verdicts[2].failed_rules


async def test_a_three_decimal_invoice_and_one_without_parties_get_a_plain_pdf(client, tenant):
    kuwaiti = await issue(client, tenant, seller=SELLER, buyer=BUYER, currency="KWD", discounts=[], withholdings=[],
                          bank=None)
    plain = await issue(client, tenant)

    for issued, reason in ((kuwaiti, "two decimals"), (plain, "seller's and the buyer's details")):
        response = await client.get(f"/v1/invoices/{issued['invoice_id']}/pdf", headers=tenant.headers)
        assert response.status_code == 200 and response.headers["x-e-invoice"].startswith("none;")
        assert reason in response.headers["x-e-invoice"] and response.content.startswith(b"%PDF")
    assert "KWD1,041.000" in text_of((await client.get(f"/v1/invoices/{kuwaiti['invoice_id']}/pdf?language=en",
                                                       headers=tenant.headers)).content)


async def test_another_tenants_invoice_and_a_payment_never_received_have_no_pdf(client, harness, tenant):
    issued = await issue(client, tenant)
    stranger = harness.new_tenant()

    other = await client.get(f"/v1/invoices/{issued['invoice_id']}/pdf", headers=stranger.headers)
    never = await client.get(f"/v1/invoices/{issued['invoice_id']}/payments/pay_000/receipt", headers=tenant.headers)

    assert other.status_code == 404 and other.headers["content-type"] == "application/problem+json"
    assert never.status_code == 404 and "no payment" in never.json()["detail"]


async def test_the_guest_downloads_the_invoice_and_after_paying_the_receipt_in_spanish(client, harness, tenant):
    issued = await issue(client, tenant, seller=SELLER, buyer=BUYER, partial_payments=True)
    headers = harness.guest_headers(issued["link_ids"][0], **{"accept-language": "es-ES"})

    page = (await client.get("/guest/", headers=headers)).text
    assert 'href="/g/' in page and "/invoice.pdf\" data-invoice-pdf" in page
    invoice = await client.get("/guest/invoice.pdf", headers=headers)
    assert invoice.status_code == 200 and facturx.get_facturx_xml_from_pdf(invoice.content)[0] == "factur-x.xml"
    assert "Factura 2026-" in text_of(invoice.content) and "990,49 €" in text_of(invoice.content)

    landed = await card_payment(client, headers, amount="400")
    [link] = re.findall(r'href="/g/[^/]+/(receipts/pay_[0-9a-f]+)" data-receipt', landed.text)
    receipt = await client.get(f"/guest/{link}", headers=headers)

    assert receipt.status_code == 200 and receipt.headers["content-type"] == "application/pdf"
    text = text_of(receipt.content)
    for expected in ("Justificante de pago", "Luis Pérez (asesor)", "400,00 €", "tarjeta", "590,49 €",
                     issued["number"]):
        assert expected in text, expected
    unknown = await client.get("/guest/receipts/pay_0123", headers=headers)
    assert unknown.status_code == 404 and "<html" in unknown.text
