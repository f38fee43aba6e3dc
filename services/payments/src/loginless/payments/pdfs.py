"""The invoice's PDF -- also its EN 16931 e-invoice (Factur-X, PDF/A-3 with the CII XML embedded) -- and a
payment's receipt. No I/O beyond the fonts and the ICC profile read once.

The page is drawn with ReportLab (already signing's renderer), made ready for PDF/A-3: every font is an embedded
TrueType font (the Bitstream Vera faces ReportLab ships; the canvas's initial font too, so no standard-14 font is
ever referenced), nothing is transparent, and the document gets an sRGB output intent whose ICC profile LittleCMS
(Pillow's ImageCms) writes. The ``factur-x`` library then embeds ``factur-x.xml`` (AFRelationship ``Data``), checks
it against the EN 16931 XSD, and writes the PDF/A-3B and Factur-X XMP metadata. Every amount is written as the
reader's locale writes it (``money.formatted``, Babel), in the language asked for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

import facturx
import reportlab
from lxml import etree
from PIL import ImageCms
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject, TextStringObject
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from segno import helpers as segno_helpers

from loginless.events.payloads.payments import Party
from loginless.payments import einvoice, money
from loginless.payments.domain import Invoice, Payment
from loginless.payments.i18n import CATALOGS
from loginless.shared.guest.i18n import N_, format_date, translations

FONT, BOLD = "LoginlessVera", "LoginlessVera-Bold"
RDF, PDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "http://ns.adobe.com/pdf/1.3/"
XPACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'.encode()
XPACKET_END = b'\n<?xpacket end="w"?>'
PRODUCER = "loginless payments"
INK, MUTED, RULE = colors.HexColor("#1a1a1a"), colors.HexColor("#555555"), colors.HexColor("#cccccc")


@dataclass(frozen=True)
class RenderedPdf:
    content: bytes
    einvoice: bool  # the Factur-X XML is embedded
    why_not: str | None  # why it is not an e-invoice, when it is not


def invoice_pdf(invoice: Invoice, *, language: str, firm: str, now: datetime) -> RenderedPdf:
    """The invoice's PDF in ``language``; an EN 16931 e-invoice (Factur-X) whenever the standard can say it."""
    _fonts()  # before any paragraph is made: its bold text is looked up in the registered family
    text = _Text(language)
    base = _with_output_intent(_render(_invoice_story(invoice, text, firm), title=text("Invoice %(number)s",
                                       number=invoice.created.number), author=_seller_name(invoice, firm)))
    reason = einvoice.why_not(invoice)
    if reason is not None:
        return RenderedPdf(base, einvoice=False, why_not=reason)
    c = invoice.created
    metadata = {"author": _seller_name(invoice, firm), "keywords": "Factur-X, EN 16931, invoice",
                "title": f"{_seller_name(invoice, firm)}: {text('Invoice %(number)s', number=c.number)}",
                "subject": f"Factur-X EN 16931 invoice {c.number} of {c.issue_date.isoformat()}"}
    content = facturx.generate_from_binary(base, einvoice.cii_xml(invoice), flavor="factur-x", level="en16931",
                                           check_xsd=True, pdf_metadata=metadata, lang=language,
                                           xmp_compression=False)
    return RenderedPdf(_with_readable_xmp(content, keywords=metadata["keywords"]), einvoice=True, why_not=None)


def receipt_pdf(invoice: Invoice, payment: Payment, *, language: str, firm: str) -> bytes:
    """A successful payment's receipt: who paid, how much, how and when, for which invoice, and what is left."""
    _fonts()
    text = _Text(language)
    return _render(_receipt_story(invoice, payment, text, firm),
                   title=text("Receipt of a payment of invoice %(number)s", number=invoice.created.number),
                   author=_seller_name(invoice, firm))


# ---- what the pages say -------------------------------------------------------------------------------------


class _Text:
    """The catalogs' words in one language, and its way of writing dates and money."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._gettext = translations(language, CATALOGS).gettext

    def __call__(self, message: str, **values: object) -> str:
        return self._gettext(message) % values if values else self._gettext(message)

    def money(self, minor: int, currency: str) -> str:
        return money.formatted(minor, currency, self.language)

    def date(self, day: object) -> str:
        return format_date(day, self.language)  # type: ignore[arg-type]


N_("Invoice %(number)s")
N_("Receipt of a payment of invoice %(number)s")


def _invoice_story(invoice: Invoice, text: _Text, firm: str) -> list[Flowable]:
    c = invoice.created

    def amount(minor: int) -> str:
        return text.money(minor, c.currency)

    story: list[Flowable] = [Paragraph(escape(text("Invoice %(number)s", number=c.number)), STYLES["title"])]
    story.append(_parties(c.seller, c.buyer, firm, c.payer_name, text))
    story.append(Paragraph(escape(text(N_("Issued on %(issued)s. Due by %(due)s."), issued=text.date(c.issue_date),
                                       due=text.date(c.due_date))), STYLES["body"]))
    story.append(Spacer(1, 4 * mm))
    rows: list[list[str]] = [[text(N_("Description")), text(N_("Quantity")), text(N_("Unit price")),
                              text(N_("Discount")), text(N_("VAT")), text(N_("Amount"))]]
    digits = money.exponent(c.currency)
    for line in c.lines:
        rows.append([line.description, _number(line.quantity), _price(line.unit_price, c.currency, text, digits),
                     f"{_number(line.discount_percent)}%" if line.discount_percent else "",
                     _tax_label(line.tax_category, line.tax_rate), amount(line.net_minor)])
    for discount in c.discounts:
        rows.append([discount.description, "", "", "", _tax_label(discount.tax_category, discount.tax_rate),
                     f"−{amount(discount.amount_minor)}"])
    story.append(_table(rows, [70 * mm, 18 * mm, 25 * mm, 18 * mm, 17 * mm, 28 * mm], numeric_from=1))
    story.append(Spacer(1, 4 * mm))
    totals: list[list[str]] = [[text(N_("Total before tax")), amount(c.totals.taxable_minor)]]
    for tax in c.taxes:
        label = text(N_("VAT %(rate)s%% on %(base)s"), rate=_number(tax.tax_rate), base=amount(tax.taxable_minor))
        if not tax.tax_minor and tax.exemption_reason:
            label = f"{label} ({tax.exemption_reason})"
        totals.append([label, amount(tax.tax_minor)])
    totals.append([text(N_("Total")), amount(c.totals.gross_minor)])
    for withholding in c.withholdings:
        totals.append([text(N_("%(name)s withheld (%(rate)s%% of %(base)s)"), name=withholding.description,
                            rate=_number(withholding.rate), base=amount(withholding.base_minor)),
                       f"−{amount(withholding.amount_minor)}"])
    totals.append([text(N_("Amount payable")), amount(c.totals.payable_minor)])
    story.append(_table(totals, [128 * mm, 48 * mm], numeric_from=1, header=False, bold_last=True))
    if c.bank is not None:
        story.append(Spacer(1, 6 * mm))
        story.append(Paragraph(escape(text(N_("Pay by bank transfer"))), STYLES["heading"]))
        facts = [[text(N_("Account holder")), c.bank.holder], ["IBAN", _grouped(c.bank.iban)]]
        if c.bank.bic:
            facts.append(["BIC", c.bank.bic])
        if c.creditor_reference:
            facts.append([text(N_("Reference")), _grouped(c.creditor_reference)])
        facts.append([text(N_("Amount")), amount(c.totals.payable_minor)])
        qr = _epc_qr(invoice)
        story.append(Table([[_table(facts, [40 * mm, 80 * mm], header=False), qr or ""]],
                           colWidths=[125 * mm, 50 * mm], style=LAYOUT))
    if c.notes:
        story += [Spacer(1, 4 * mm), Paragraph(escape(c.notes), STYLES["body"])]
    story.append(Spacer(1, 6 * mm))
    footer = text(N_("This PDF is also an electronic invoice (Factur-X, EN 16931): its data is embedded as "
                     "factur-x.xml.")) if einvoice.why_not(invoice) is None else ""
    if footer:
        story.append(Paragraph(escape(footer), STYLES["muted"]))
    return story


def _receipt_story(invoice: Invoice, payment: Payment, text: _Text, firm: str) -> list[Flowable]:
    c = invoice.created

    def amount(minor: int) -> str:
        return text.money(minor, c.currency)

    methods = {"card": text(N_("card")), "transfer": text(N_("bank transfer")), "cash": text(N_("cash")),
               "other": text(N_("other"))}
    story: list[Flowable] = [Paragraph(escape(text(N_("Receipt"))), STYLES["title"]),
                             Paragraph(escape(_seller_name(invoice, firm)), STYLES["body"]), Spacer(1, 4 * mm)]
    received_at = payment.ended_at or payment.started_at
    facts = [[text(N_("Received from")), payment.payer_name or payment.payer_email or "—"],
             [text(N_("Amount received")), amount(payment.amount_minor)],
             [text(N_("Payment method")), methods.get(payment.method, payment.method)],
             [text(N_("Date")), text.date(received_at.date())],
             [text(N_("Invoice")), c.number],
             [text(N_("Invoice total")), amount(invoice.payable_minor)],
             [text(N_("Paid so far")), amount(invoice.paid_minor)],
             [text(N_("Remaining due")), amount(invoice.due_minor)],
             [text(N_("Payment reference")), payment.reference or payment.provider_payment_id or payment.payment_id]]
    story.append(_table(facts, [55 * mm, 115 * mm], header=False))
    story += [Spacer(1, 6 * mm), Paragraph(escape(text(N_("Thank you for your payment."))), STYLES["body"])]
    return story


# ---- drawing ---------------------------------------------------------------------------------------------------


@functools.cache
def _fonts() -> None:
    directory = Path(reportlab.__file__).parent / "fonts"
    pdfmetrics.registerFont(TTFont(FONT, str(directory / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(directory / "VeraBd.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


STYLES = {
    "title": ParagraphStyle("title", fontName=BOLD, fontSize=18, leading=22, spaceAfter=6, textColor=INK),
    "heading": ParagraphStyle("heading", fontName=BOLD, fontSize=11, leading=14, spaceAfter=3, textColor=INK),
    "body": ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12.5, textColor=INK),
    "muted": ParagraphStyle("muted", fontName=FONT, fontSize=8, leading=10, textColor=MUTED),
}

# A table that only lays flowables out: its default font (Helvetica, never embedded) must not be referenced either.
LAYOUT = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), FONT)]


def _render(story: list[Flowable], *, title: str, author: str) -> bytes:
    buffer = BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=17 * mm, rightMargin=17 * mm, topMargin=18 * mm,
                                 bottomMargin=18 * mm, title=title, author=author, creator=PRODUCER,
                                 producer=PRODUCER, initialFontName=FONT, initialFontSize=9.5)
    # The canvas's initial font is ours too: no standard-14 (never embedded) font is referenced anywhere (PDF/A).
    document.build(story)
    return buffer.getvalue()


def _with_output_intent(pdf: bytes) -> bytes:
    """The PDF with an sRGB output intent (PDF/A: device colours need one)."""
    writer = PdfWriter(clone_from=BytesIO(pdf))
    profile = DecodedStreamObject()
    profile.set_data(_srgb_profile())
    profile[NameObject("/N")] = NumberObject(3)
    intent = DictionaryObject({
        NameObject("/Type"): NameObject("/OutputIntent"), NameObject("/S"): NameObject("/GTS_PDFA1"),
        NameObject("/OutputConditionIdentifier"): TextStringObject("sRGB"),
        NameObject("/Info"): TextStringObject("sRGB IEC61966-2.1"),
        NameObject("/DestOutputProfile"): writer._add_object(profile)})
    writer._root_object[NameObject("/OutputIntents")] = ArrayObject([writer._add_object(intent)])
    output = BytesIO()
    writer.write(output)
    return output.getvalue()


def _with_readable_xmp(pdf: bytes, *, keywords: str) -> bytes:
    """factur-x's XMP made what PDF/A readers parse: its namespaces declared on ``rdf:RDF`` (XMP parsers such as
    veraPDF's refuse an ``rdf:RDF`` without them), ``rdf:about`` on each description, and the producer and
    keywords the document information dictionary has (PDF/A wants the two to agree)."""
    writer = PdfWriter(clone_from=BytesIO(pdf))
    stream = writer._root_object["/Metadata"].get_object()
    packet = etree.fromstring(stream.get_data())
    namespaces = {prefix: uri for prefix, uri in packet.nsmap.items() if prefix != "x"}
    meta = etree.Element(packet.tag, nsmap={"x": packet.nsmap["x"]})
    rdf = etree.SubElement(meta, f"{{{RDF}}}RDF", nsmap={**namespaces, "pdf": PDF_NS})
    for description in packet.find(f"{{{RDF}}}RDF"):
        description.set(f"{{{RDF}}}about", "")
        rdf.append(description)
        producer = description.find(f"{{{PDF_NS}}}Producer")
        if producer is not None:
            producer.text = PRODUCER
            etree.SubElement(description, f"{{{PDF_NS}}}Keywords").text = keywords
    stream.set_data(XPACKET_BEGIN + etree.tostring(meta, encoding="UTF-8", xml_declaration=False) + XPACKET_END)
    output = BytesIO()
    writer.write(output)
    return output.getvalue()


@functools.cache
def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _table(rows: list[list[str]], widths: list[float], *, numeric_from: int | None = None, header: bool = True,
           bold_last: bool = False) -> Table:
    cells = [[Paragraph(escape(str(cell)), STYLES["body"]) if isinstance(cell, str) else cell for cell in row]
             for row in rows]
    style: list[tuple] = [("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 9.5),
                          ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE)]
    if numeric_from is not None:
        for row in cells:
            for cell in row[numeric_from:]:
                if isinstance(cell, Paragraph):
                    cell.style = ParagraphStyle("number", parent=STYLES["body"], alignment=2)
    if header:
        for cell in cells[0]:
            cell.style = ParagraphStyle("head", parent=cell.style, fontName=BOLD)
    if bold_last:
        for cell in cells[-1]:
            cell.style = ParagraphStyle("last", parent=cell.style, fontName=BOLD)
    return Table(cells, colWidths=widths, style=TableStyle(style), hAlign="LEFT")


def _parties(seller: Party | None, buyer: Party | None, firm: str, payer_name: str | None, text: _Text) -> Table:
    def block(heading: str, party: Party | None, fallback: str | None) -> Paragraph:
        lines = [f"<b>{escape(heading)}</b>"]
        if party is not None:
            address = party.address
            lines += [escape(party.name), *map(escape, address.lines),
                      escape(" ".join(filter(None, [address.postcode, address.city, address.country])))]
            if party.vat_id:
                lines.append(escape(text(N_("VAT ID %(id)s"), id=party.vat_id)))
        elif fallback:
            lines.append(escape(fallback))
        return Paragraph("<br/>".join(lines), STYLES["body"])

    return Table([[block(text(N_("From")), seller, firm), block(text(N_("To")), buyer, payer_name)]],
                 colWidths=[88 * mm, 88 * mm], style=LAYOUT, hAlign="LEFT")


class _Modules(Flowable):
    """A QR code drawn as filled squares: vector, no image, nothing transparent."""

    def __init__(self, matrix: tuple[bytearray, ...], size: float) -> None:
        super().__init__()
        self.matrix, self.size = matrix, size
        self.width = self.height = size

    def draw(self) -> None:
        module = self.size / len(self.matrix)
        self.canv.setFillColor(colors.black)
        for y, row in enumerate(self.matrix):
            for x, dark in enumerate(row):
                if dark:
                    self.canv.rect(x * module, self.size - (y + 1) * module, module, module, stroke=0, fill=1)


def _epc_qr(invoice: Invoice) -> Flowable | None:
    """The EPC069-12 QR code of a SEPA transfer of the amount payable (euros only), as on the pay page."""
    c = invoice.created
    if c.bank is None or c.currency != "EUR" or not 0 < c.totals.payable_minor <= 99_999_999_999:
        return None
    qr = segno_helpers.make_epc_qr(name=c.bank.holder[:70], iban=c.bank.iban, bic=c.bank.bic or None,
                                   amount=money.from_minor(c.totals.payable_minor, 2), reference=c.creditor_reference)
    return _Modules(qr.matrix, 40 * mm)


# ---- small words -------------------------------------------------------------------------------------------


def _seller_name(invoice: Invoice, firm: str) -> str:
    return invoice.created.seller.name if invoice.created.seller else firm


def _number(value: object) -> str:
    return einvoice.decimal_text(value)  # type: ignore[arg-type]


def _price(price: object, currency: str, text: _Text, digits: int) -> str:
    """A unit price: in the locale's money format when it has no more digits than the currency, as given else."""
    exact = money.to_minor(price, digits)  # type: ignore[arg-type]
    if money.from_minor(exact, digits) == price:
        return text.money(exact, currency)
    return f"{_number(price)} {currency}"


def _tax_label(category: str, rate: object) -> str:
    return f"{_number(rate)}%" if category in ("S", "L", "M") else category


def _grouped(code: str) -> str:
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4))

