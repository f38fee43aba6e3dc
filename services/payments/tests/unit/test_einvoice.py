"""The invoice's e-invoice, without I/O: the CII XML says exactly what the decider decided -- every line, the VAT
breakdown per category and rate, discounts, the IRPF withholding as the paid amount, the totals, the due date and
the payment means -- for invoices drawn at random in currencies of 0 and 2 decimals, and passes the EN 16931 XSD;
the PDF carries it as factur-x.xml (PDF/A-3, AFRelationship Data); an invoice the standard cannot state exactly
(three decimals, no seller or buyer details) gets a plain PDF. Mustang's validator runs in the integration tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import facturx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pypdf import PdfReader

from loginless.events.payloads.payments import BankAccount, Party, PostalAddress
from loginless.payments import domain, einvoice, money, pdfs
from loginless.payments.domain import INVOICE, Invoice
from loginless.payments.money import DiscountIn, LineIn, WithholdingIn

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
NS = einvoice.NAMESPACES
SELLER = Party(name="Demo Firm SL", vat_id="ESB12345678",
               address=PostalAddress(lines=["Calle Mayor 1"], city="Madrid", postcode="28013", country="ES"))
BUYER = Party(name="Ortiz Consulting SA", vat_id="ESA87654321",
              address=PostalAddress(lines=["Gran Vía 2", "3º"], city="Madrid", postcode="28013", country="ES"))
BANK = BankAccount(iban="ES9121000418450200051332", bic="CAIXESBBXXX", holder="Demo Firm SL")


def an_invoice(currency: str, lines: list[LineIn], discounts: list[DiscountIn] = (),  # type: ignore[assignment]
               withholdings: list[WithholdingIn] = (), *, seller: Party | None = SELLER,  # type: ignore[assignment]
               buyer: Party | None = BUYER, bank: BankAccount | None = BANK) -> Invoice:
    amounts = money.compute(currency, lines, discounts, withholdings)
    create = domain.CreateInvoice(
        invoice_id="inv_0123456789abcdef01234567", tenant_id="t1", account_id="acc_1", number="2026-001",
        currency=currency, issue_date=date(2026, 12, 6), due_date=date(2026, 12, 31), lines=amounts.lines,
        discounts=amounts.discounts, withholdings=amounts.withholdings, taxes=amounts.taxes, totals=amounts.totals,
        notes="Thank you", bank=bank, creditor_reference="RF18539007547034" if bank else None,
        partial_payments=False, minimum_partial_minor=None, payer_name="Ana Ortiz", payer_email="ana@example.test",
        payer_language="es", now=NOW, seller=seller, buyer=buyer)
    state = INVOICE.replay(INVOICE.decide(None, create))
    return INVOICE.replay(INVOICE.decide(state, domain.IssueInvoice(NOW)), state)  # type: ignore[return-value]


def spanish_invoice(currency: str = "EUR") -> Invoice:
    return an_invoice(currency, [LineIn("Tax return 2025", Decimal(1), Decimal(1000), "S", Decimal(21)),
                                 LineIn("Tax guide", Decimal(2), Decimal("20.50"), "S", Decimal(4), Decimal(10)),
                                 LineIn("Training (exempt)", Decimal(1), Decimal(60), "E", Decimal(0))],
                      [DiscountIn("Loyal client", Decimal(100), "S", Decimal(21))],
                      [WithholdingIn("IRPF", Decimal(15))])


def minor(text: str, digits: int) -> int:
    return money.to_minor(Decimal(text), digits)


def xml_figures(xml: bytes, digits: int) -> dict:
    """What a receiving system reads from the XML, in minor units."""
    root = etree.fromstring(xml)

    def one(path: str) -> str:
        [found] = root.xpath(path, namespaces=NS)
        return found.text

    summary = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    optional = {name: root.xpath(f"{summary}{name}", namespaces=NS) for name in
                ("AllowanceTotalAmount", "TotalPrepaidAmount")}
    return {
        "lines": [minor(e.text, digits) for e in root.xpath("//ram:LineTotalAmount", namespaces=NS)
                  if e.getparent().tag.endswith("SpecifiedTradeSettlementLineMonetarySummation")],
        "taxes": sorted((t.xpath("ram:CategoryCode", namespaces=NS)[0].text,
                         Decimal(next(iter(t.xpath("ram:RateApplicablePercent", namespaces=NS)), None).text
                                 if t.xpath("ram:RateApplicablePercent", namespaces=NS) else "0"),
                         minor(t.xpath("ram:BasisAmount", namespaces=NS)[0].text, digits),
                         minor(t.xpath("ram:CalculatedAmount", namespaces=NS)[0].text, digits))
                        for t in root.xpath("//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax",
                                            namespaces=NS)),
        "lines_minor": minor(one(f"{summary}LineTotalAmount"), digits),
        "discounts_minor": minor(optional["AllowanceTotalAmount"][0].text, digits)
        if optional["AllowanceTotalAmount"] else 0,
        "taxable_minor": minor(one(f"{summary}TaxBasisTotalAmount"), digits),
        "tax_minor": minor(one(f"{summary}TaxTotalAmount"), digits),
        "gross_minor": minor(one(f"{summary}GrandTotalAmount"), digits),
        "withheld_minor": minor(optional["TotalPrepaidAmount"][0].text, digits)
        if optional["TotalPrepaidAmount"] else 0,
        "payable_minor": minor(one(f"{summary}DuePayableAmount"), digits),
        "due_date": one("//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"),
        "currency": one("//ram:InvoiceCurrencyCode"),
    }


def decider_figures(invoice: Invoice) -> dict:
    c = invoice.created
    return {"lines": [line.net_minor for line in c.lines],
            "taxes": sorted((t.tax_category, t.tax_rate if t.tax_category != "O" else Decimal(0), t.taxable_minor,
                             t.tax_minor) for t in c.taxes),
            **c.totals.model_dump(), "due_date": c.due_date.strftime("%Y%m%d"), "currency": c.currency}


RATES = {"S": [Decimal(21), Decimal(10), Decimal(4)], "Z": [Decimal(0)], "E": [Decimal(0)]}


@st.composite
def drawn_invoices(draw: st.DrawFn) -> Invoice:
    currency = draw(st.sampled_from(["EUR", "USD", "GBP", "JPY", "CLP"]))  # CII allows no third decimal
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        category = draw(st.sampled_from(sorted(RATES)))
        lines.append(LineIn("Advice", draw(st.decimals("1", "50", places=2)),
                            draw(st.decimals("10", "5000", places=2)), category,  # type: ignore[arg-type]
                            draw(st.sampled_from(RATES[category])),
                            draw(st.none() | st.decimals("1", "50", places=0))))
    first = lines[0]
    discounts = [DiscountIn("Loyal client", Decimal(1), first.tax_category, first.tax_rate)] \
        if draw(st.booleans()) else []
    withholdings = [WithholdingIn("IRPF", draw(st.sampled_from([Decimal(7), Decimal(15), Decimal(19)])))] \
        if draw(st.booleans()) else []
    return an_invoice(currency, lines, discounts, withholdings, bank=draw(st.sampled_from([BANK, None])))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn_invoices())
def test_the_xml_states_the_deciders_lines_taxes_and_totals_for_any_invoice(invoice: Invoice) -> None:
    xml = einvoice.cii_xml(invoice)

    assert xml_figures(xml, money.exponent(invoice.currency)) == decider_figures(invoice)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")


@pytest.mark.parametrize("currency", ["EUR", "JPY", "USD"])
def test_a_spanish_invoice_with_irpf_and_a_discount_states_them_as_en16931_says(currency: str) -> None:
    invoice = spanish_invoice(currency)
    digits = money.exponent(currency)
    figures = xml_figures(einvoice.cii_xml(invoice), digits)

    assert figures == decider_figures(invoice)
    totals = invoice.created.totals
    # IRPF is what the payer pays the tax authority: the paid amount (BT-113), so the amount due is the payable
    assert figures["withheld_minor"] == totals.withheld_minor > 0
    assert figures["payable_minor"] == figures["gross_minor"] - figures["withheld_minor"] == totals.payable_minor
    root = etree.fromstring(einvoice.cii_xml(invoice))
    assert root.xpath("//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID/text()", namespaces=NS) == [
        "urn:cen.eu:en16931:2017"]
    assert root.xpath("//ram:PayeePartyCreditorFinancialAccount/ram:IBANID/text()", namespaces=NS) == [BANK.iban]
    assert root.xpath("//ram:PaymentReference/text()", namespaces=NS) == ["RF18539007547034"]
    assert root.xpath("//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode/text()", namespaces=NS) == [
        "ZZZ", "58"]
    assert root.xpath("//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/text()", namespaces=NS) == [
        "ESB12345678"]
    # the book's 10 % discount is a price discount: gross 20.50 less 2.05 is the net price 18.45
    assert root.xpath("//ram:GrossPriceProductTradePrice/ram:ChargeAmount/text()", namespaces=NS) == ["20.5"]
    assert root.xpath("//ram:NetPriceProductTradePrice/ram:ChargeAmount/text()", namespaces=NS)[1] == "18.45"
    assert any("IRPF 15% withheld" in note for note in root.xpath("//ram:IncludedNote/ram:Content/text()",
                                                                   namespaces=NS))


def test_the_pdf_embeds_the_xml_as_factur_x_in_a_pdf_a_3() -> None:
    invoice = spanish_invoice()

    rendered = pdfs.invoice_pdf(invoice, language="es", firm="Demo Firm", now=NOW)

    assert rendered.einvoice and rendered.why_not is None
    filename, xml = facturx.get_facturx_xml_from_pdf(rendered.content, check_xsd=True)
    assert filename == "factur-x.xml" and xml == einvoice.cii_xml(invoice)
    reader = PdfReader(BytesIO(rendered.content))
    catalog = reader.trailer["/Root"]
    [attached] = catalog["/AF"]
    assert attached.get_object()["/AFRelationship"] == "/Data"
    assert catalog["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    metadata = catalog["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in metadata and "EN 16931" in metadata
    fonts = {font.get_object()["/BaseFont"] for page in reader.pages
             for font in page["/Resources"]["/Font"].values()}
    assert fonts and all(page["/Resources"]["/Font"][name].get_object()["/FontDescriptor"].get("/FontFile2")
                         for page in reader.pages for name in page["/Resources"]["/Font"])  # every font embedded
    text = "".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")
    payable = money.formatted(invoice.created.totals.payable_minor, "EUR", "es")
    assert payable == "1.037,84\xa0€"  # as Spain writes it (text extraction reads the no-break space as a space)
    assert "Factura 2026-001" in text and "1.037,84 €" in text and "Importe a pagar" in text


@pytest.mark.parametrize(("invoice", "reason"), [
    (lambda: spanish_invoice("KWD"), "two decimals"),
    (lambda: replace(spanish_invoice(), created=spanish_invoice().created.model_copy(update={"seller": None})),
     "seller's and the buyer's details")])
def test_an_invoice_the_standard_cannot_state_exactly_gets_a_plain_pdf(invoice, reason: str) -> None:  # noqa: ANN001
    rendered = pdfs.invoice_pdf(invoice(), language="en", firm="Demo Firm", now=NOW)

    assert not rendered.einvoice and reason in rendered.why_not
    assert rendered.content.startswith(b"%PDF") and b"factur-x.xml" not in rendered.content
    with pytest.raises(ValueError, match="not an e-invoice"):
        einvoice.cii_xml(invoice())


def test_a_receipt_says_who_paid_how_much_how_when_and_what_remains() -> None:
    invoice = spanish_invoice()
    started = INVOICE.replay(INVOICE.decide(invoice, domain.RecordOfflinePayment(
        payment_id="pay_1", amount_minor=50000, method="transfer", reference="BANK-REF-7", payer_name="Luis Pérez",
        now=NOW, payer_email="luis@example.test")), invoice)

    content = pdfs.receipt_pdf(started, started.payment("pay_1"), language="en", firm="Demo Firm")  # type: ignore[arg-type]

    text = PdfReader(BytesIO(content)).pages[0].extract_text().replace("\xa0", " ")
    for expected in ("Receipt", "Luis Pérez", "€500.00", "bank transfer", "December 6, 2026", "2026-001",
                     "€1,037.84", "€537.84", "BANK-REF-7"):
        assert expected in text, expected
