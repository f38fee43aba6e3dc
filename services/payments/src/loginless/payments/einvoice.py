"""The invoice as an EN 16931 e-invoice: its UN/CEFACT Cross Industry Invoice (CII) XML, Factur-X profile EN 16931
(ZUGFeRD 2's "COMFORT"). No I/O; ``pdfs`` embeds it in the invoice's PDF/A-3 with the ``factur-x`` library, which
checks it against the profile's XSD.

Every figure is the decider's, never computed again here: each line's net amount, the VAT breakdown per category
and rate (BG-23), the document discounts (BG-20), the totals (BG-22). How our invoice maps onto the standard where
the choice is ours:

- **A line's discount** (a percentage) is a discount of its price: gross price (BT-148) less the price discount
  (BT-147) is the net price (BT-146), and the line's net amount (BT-131) is the decider's, rounded once.
- **Withholdings (Spain's IRPF)**: EN 16931 has no withholding element, and a document allowance would wrongly
  lower the VAT base. The amount withheld is the *paid amount* (BT-113): the payer pays it to the tax authority
  on the seller's behalf, so it is not due to the seller, and the amount due (BT-115) is the decider's payable
  total (BR-CO-16: grand total less paid amount). A note (BT-22) and the payment terms (BT-20) name the withholding,
  its rate and amount.
- **Payment means** (BG-16): a SEPA credit transfer (58) to the firm's IBAN (BT-84) with the RF creditor reference
  as remittance information (BT-83) when the invoice has bank details; and card through the pay link ("ZZZ",
  mutually defined) always.

An invoice is an e-invoice only when the standard can say it exactly (``why_not``): the seller's and the buyer's
legal details are given, and the currency has at most two decimals -- EN 16931 allows no more than two on an
amount (BR-DEC rules), so a KWD or BHD invoice's PDF is a plain PDF, never an e-invoice with rounded figures.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from lxml import etree
from lxml.builder import ElementMaker

from loginless.events.payloads.payments import InvoiceLine, Party
from loginless.payments import money
from loginless.payments.domain import Invoice

EN16931 = "urn:cen.eu:en16931:2017"
NAMESPACES = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
RSM = ElementMaker(namespace=NAMESPACES["rsm"], nsmap=NAMESPACES)
RAM = ElementMaker(namespace=NAMESPACES["ram"], nsmap=NAMESPACES)
UDT = ElementMaker(namespace=NAMESPACES["udt"], nsmap=NAMESPACES)
COMMERCIAL_INVOICE = "380"  # UNTDID 1001
SEPA_CREDIT_TRANSFER = "58"  # UNTDID 4461
MUTUALLY_DEFINED = "ZZZ"
ONE = "C62"  # UN/ECE Recommendation 20: "one", a unit without a name
NO_RATE_CATEGORIES = frozenset({"O"})  # "not subject to VAT": no rate at all (BR-O-05, BR-O-09)


def why_not(invoice: Invoice) -> str | None:
    """Why the invoice's PDF cannot carry an EN 16931 e-invoice; None when it can."""
    created = invoice.created
    if created.seller is None or created.buyer is None:
        return "the seller's and the buyer's details (name, address, VAT identifier) are not on the invoice"
    if money.exponent(created.currency) > 2:
        return f"EN 16931 allows at most two decimals on an amount; {created.currency} has three"
    return None


def cii_xml(invoice: Invoice) -> bytes:
    """The invoice's CII XML (Factur-X, profile EN 16931). ``why_not`` must be None."""
    reason = why_not(invoice)
    if reason is not None:
        raise ValueError(f"not an e-invoice: {reason}")
    c = invoice.created
    digits = money.exponent(c.currency)

    def amount(minor: int) -> str:
        return decimal_text(money.from_minor(minor, digits))

    notes = [c.notes] if c.notes else []
    notes += [f"{w.description} {decimal_text(w.rate)}% withheld: {amount(w.amount_minor)} {c.currency}, paid by the "
              f"payer to the tax authority (shown as the paid amount)" for w in c.withholdings]
    document = RSM.CrossIndustryInvoice(
        RSM.ExchangedDocumentContext(RAM.GuidelineSpecifiedDocumentContextParameter(RAM.ID(EN16931))),
        RSM.ExchangedDocument(
            RAM.ID(c.number), RAM.TypeCode(COMMERCIAL_INVOICE), RAM.IssueDateTime(_date(c.issue_date)),
            *[RAM.IncludedNote(RAM.Content(note)) for note in notes]),
        RSM.SupplyChainTradeTransaction(
            *[_line(n, line, amount) for n, line in enumerate(c.lines, start=1)],
            RAM.ApplicableHeaderTradeAgreement(
                _party("SellerTradeParty", c.seller, legal_id_only=_not_subject_to_vat(invoice)),  # type: ignore[arg-type]
                _party("BuyerTradeParty", c.buyer)),  # type: ignore[arg-type]
            RAM.ApplicableHeaderTradeDelivery(),
            _settlement(invoice, amount)))
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _line(number: int, line: InvoiceLine, amount: Callable[[int], str]) -> etree._Element:
    price = line.unit_price
    net_price = price * (1 - (line.discount_percent or 0) / Decimal(100))
    agreement = [RAM.NetPriceProductTradePrice(RAM.ChargeAmount(decimal_text(net_price)))]
    if line.discount_percent:
        agreement.insert(0, RAM.GrossPriceProductTradePrice(
            RAM.ChargeAmount(decimal_text(price)),
            RAM.AppliedTradeAllowanceCharge(RAM.ChargeIndicator(UDT.Indicator("false")),
                                            RAM.ActualAmount(decimal_text(price - net_price)))))
    return RAM.IncludedSupplyChainTradeLineItem(
        RAM.AssociatedDocumentLineDocument(RAM.LineID(str(number))),
        RAM.SpecifiedTradeProduct(RAM.Name(line.description)),
        RAM.SpecifiedLineTradeAgreement(*agreement),
        RAM.SpecifiedLineTradeDelivery(RAM.BilledQuantity(decimal_text(line.quantity), unitCode=ONE)),
        RAM.SpecifiedLineTradeSettlement(
            _tax(line.tax_category, line.tax_rate),
            RAM.SpecifiedTradeSettlementLineMonetarySummation(RAM.LineTotalAmount(amount(line.net_minor)))))


def _tax(category: str, rate: Decimal) -> etree._Element:
    parts = [RAM.TypeCode("VAT"), RAM.CategoryCode(category)]
    if category not in NO_RATE_CATEGORIES:
        parts.append(RAM.RateApplicablePercent(decimal_text(rate)))
    return RAM.ApplicableTradeTax(*parts)


def _party(tag: str, party: Party, *, legal_id_only: bool = False) -> etree._Element:
    address = party.address
    children = [RAM.Name(party.name)]
    if party.vat_id and legal_id_only:
        # A seller not subject to VAT names no VAT identifier (BR-O-02); its tax number identifies it (BT-30).
        children.append(RAM.SpecifiedLegalOrganization(RAM.ID(party.vat_id)))
    postal = ([RAM.PostcodeCode(address.postcode)] if address.postcode else []) + \
        [getattr(RAM, name)(text) for name, text in zip(("LineOne", "LineTwo", "LineThree"), address.lines,
                                                         strict=False)] + \
        ([RAM.CityName(address.city)] if address.city else []) + [RAM.CountryID(address.country)]
    children.append(RAM.PostalTradeAddress(*postal))
    if party.vat_id and not legal_id_only:
        children.append(RAM.SpecifiedTaxRegistration(RAM.ID(party.vat_id, schemeID="VA")))
    return getattr(RAM, tag)(*children)


def _settlement(invoice: Invoice, amount: Callable[[int], str]) -> etree._Element:
    c, totals = invoice.created, invoice.created.totals
    children: list[etree._Element] = []
    if c.creditor_reference:
        children.append(RAM.PaymentReference(c.creditor_reference))
    children.append(RAM.InvoiceCurrencyCode(c.currency))
    children.append(RAM.SpecifiedTradeSettlementPaymentMeans(
        RAM.TypeCode(MUTUALLY_DEFINED), RAM.Information("Card, through the invoice's pay link")))
    if c.bank is not None:
        institution = [RAM.PayeeSpecifiedCreditorFinancialInstitution(RAM.BICID(c.bank.bic))] if c.bank.bic else []
        children.append(RAM.SpecifiedTradeSettlementPaymentMeans(
            RAM.TypeCode(SEPA_CREDIT_TRANSFER), RAM.Information("SEPA credit transfer"),
            RAM.PayeePartyCreditorFinancialAccount(RAM.IBANID(c.bank.iban), RAM.AccountName(c.bank.holder)),
            *institution))
    for tax in c.taxes:
        parts = [RAM.CalculatedAmount(amount(tax.tax_minor)), RAM.TypeCode("VAT")]
        if tax.exemption_reason and tax.tax_category not in ("S", "L", "M"):
            parts.append(RAM.ExemptionReason(tax.exemption_reason))
        parts += [RAM.BasisAmount(amount(tax.taxable_minor)), RAM.CategoryCode(tax.tax_category)]
        if tax.tax_category not in NO_RATE_CATEGORIES:
            parts.append(RAM.RateApplicablePercent(decimal_text(tax.tax_rate)))
        children.append(RAM.ApplicableTradeTax(*parts))
    for discount in c.discounts:
        children.append(RAM.SpecifiedTradeAllowanceCharge(
            RAM.ChargeIndicator(UDT.Indicator("false")), RAM.ActualAmount(amount(discount.amount_minor)),
            RAM.Reason(discount.description),
            _category_tax(discount.tax_category, discount.tax_rate)))
    terms = "; ".join(f"{w.description} {decimal_text(w.rate)}% withheld ({amount(w.amount_minor)} {c.currency})"
                      for w in c.withholdings)
    children.append(RAM.SpecifiedTradePaymentTerms(
        *([RAM.Description(f"Due by {c.due_date.isoformat()}. {terms}")] if terms else []),
        RAM.DueDateDateTime(_date(c.due_date))))
    summation = [RAM.LineTotalAmount(amount(totals.lines_minor))]
    if c.discounts:
        summation.append(RAM.AllowanceTotalAmount(amount(totals.discounts_minor)))
    summation += [RAM.TaxBasisTotalAmount(amount(totals.taxable_minor)),
                  RAM.TaxTotalAmount(amount(totals.tax_minor), currencyID=c.currency),
                  RAM.GrandTotalAmount(amount(totals.gross_minor))]
    if totals.withheld_minor:
        summation.append(RAM.TotalPrepaidAmount(amount(totals.withheld_minor)))
    summation.append(RAM.DuePayableAmount(amount(totals.payable_minor)))
    children.append(RAM.SpecifiedTradeSettlementHeaderMonetarySummation(*summation))
    return RAM.ApplicableHeaderTradeSettlement(*children)


def _category_tax(category: str, rate: Decimal) -> etree._Element:
    parts = [RAM.TypeCode("VAT"), RAM.CategoryCode(category)]
    if category not in NO_RATE_CATEGORIES:
        parts.append(RAM.RateApplicablePercent(decimal_text(rate)))
    return RAM.CategoryTradeTax(*parts)


def _not_subject_to_vat(invoice: Invoice) -> bool:
    return any(tax.tax_category == "O" for tax in invoice.created.taxes)


def _date(day: date) -> etree._Element:
    return UDT.DateTimeString(day.strftime("%Y%m%d"), format="102")


def decimal_text(value: Decimal) -> str:
    """A decimal as XML Schema writes it: no exponent, no trailing zeros after the point."""
    text = format(value.normalize(), "f")
    return text if text not in ("-0", "") else "0"
