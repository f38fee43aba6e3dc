"""An invoice's amounts, property-tested: each figure rounded once where EN 16931 rounds it, VAT per category and
rate, withholdings and discounts, in currencies of 0, 2 and 3 decimals; and the totals always add up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loginless.payments import money
from loginless.payments.money import DiscountIn, InvalidAmount, LineIn, WithholdingIn

pytestmark = pytest.mark.unit

CURRENCIES = st.sampled_from(["JPY", "EUR", "USD", "KWD", "BHD", "CLP"])
RATES = {"S": [Decimal("21"), Decimal("10"), Decimal("4"), Decimal("7.5")], "Z": [Decimal(0)], "E": [Decimal(0)],
         "AE": [Decimal(0)]}


@st.composite
def lines(draw: st.DrawFn) -> LineIn:
    category = draw(st.sampled_from(sorted(RATES)))
    return LineIn(description="Advice", quantity=draw(st.decimals("0.001", "1000", places=3)),
                  unit_price=draw(st.decimals("0", "100000", places=4)), tax_category=category,  # type: ignore[arg-type]
                  tax_rate=draw(st.sampled_from(RATES[category])),
                  discount_percent=draw(st.none() | st.decimals("0", "100", places=2)))


def exact(line: LineIn, digits: int) -> Decimal:
    return line.quantity * line.unit_price * (1 - (line.discount_percent or Decimal(0)) / 100) * 10**digits


@given(CURRENCIES, st.lists(lines(), min_size=1, max_size=12), st.sampled_from([None, Decimal(15), Decimal(7)]))
def test_the_totals_add_up_and_each_rounding_is_within_half_a_minor_unit(currency, drawn, irpf) -> None:  # noqa: ANN001
    withholdings = [WithholdingIn("IRPF", irpf)] if irpf else []
    try:
        amounts = money.compute(currency, drawn, (), withholdings)
    except InvalidAmount as error:
        assert "more than 0" in error.detail  # only an invoice of nothing at all is refused here
        return
    digits = money.exponent(currency)
    for line, placed in zip(drawn, amounts.lines, strict=True):
        assert abs(placed.net_minor - exact(line, digits)) <= Decimal("0.5")
    totals = amounts.totals
    assert sum(t.taxable_minor for t in amounts.taxes) == totals.taxable_minor == totals.lines_minor
    for tax in amounts.taxes:  # one tax per category and rate, on the category's sum (never a sum of line taxes)
        assert abs(tax.tax_minor - Decimal(tax.taxable_minor) * tax.tax_rate / 100) <= Decimal("0.5")
        assert sum(1 for t in amounts.taxes if (t.tax_category, t.tax_rate) == (tax.tax_category, tax.tax_rate)) == 1
    assert totals.gross_minor == totals.taxable_minor + totals.tax_minor
    assert totals.payable_minor == totals.gross_minor - totals.withheld_minor
    if irpf:
        assert abs(totals.withheld_minor - Decimal(totals.taxable_minor) * irpf / 100) <= Decimal("0.5")


def test_vat_is_rounded_once_per_category_not_per_line() -> None:
    # Three lines of 0.10 at 21%: each line's tax would round to 0.02 (0.06); the category's is 0.063 -> 0.06 too,
    # but at 0.05 x 3 the per-line sum (0.03) and the category's (0.0315 -> 0.03) agree; 0.07 x 3 shows it: lines
    # 0.0147 -> 0.01 each (0.03), the category 0.0441 -> 0.04.
    amounts = money.compute("EUR", [LineIn("Copy", Decimal(1), Decimal("0.07"), "S", Decimal(21))] * 3)
    assert [(t.taxable_minor, t.tax_minor) for t in amounts.taxes] == [(21, 4)]


def test_a_spanish_invoice_with_two_vat_rates_a_discount_and_irpf() -> None:
    amounts = money.compute(
        "EUR", [LineIn("Tax return", Decimal(1), Decimal("1000"), "S", Decimal(21)),
                LineIn("Book", Decimal(2), Decimal("20.50"), "S", Decimal(4)),
                LineIn("Court fee", Decimal(1), Decimal("60"), "O", Decimal(0))],
        [DiscountIn("Loyal client", Decimal("100"), "S", Decimal(21))], [WithholdingIn("IRPF", Decimal(15))])
    assert [(t.tax_category, str(t.tax_rate), t.taxable_minor, t.tax_minor) for t in amounts.taxes] == [
        ("O", "0", 6000, 0), ("S", "4", 4100, 164), ("S", "21", 90000, 18900)]
    totals = amounts.totals
    assert (totals.lines_minor, totals.discounts_minor, totals.taxable_minor) == (110100, 10000, 100100)
    assert (totals.tax_minor, totals.gross_minor, totals.withheld_minor) == (19064, 119164, 15015)
    assert totals.payable_minor == 104149


@pytest.mark.parametrize(("currency", "digits", "minor"), [("JPY", 0, 1235), ("EUR", 2, 123457), ("KWD", 3, 1234568)])
def test_minor_units_follow_the_currency_exponent(currency: str, digits: int, minor: int) -> None:
    assert money.exponent(currency) == digits
    assert money.to_minor(Decimal("1234.5675"), digits) == minor


@pytest.mark.parametrize(("line", "field"), [
    (LineIn("x", Decimal(1), Decimal(10), "S", Decimal(0)), "lines[0].tax_rate"),
    (LineIn("x", Decimal(1), Decimal(10), "E", Decimal(21)), "lines[0].tax_rate"),
    (LineIn("x", Decimal(0), Decimal(10), "S", Decimal(21)), "lines[0].quantity"),
    (LineIn("x", Decimal(1), Decimal(-10), "S", Decimal(21)), "lines[0].unit_price"),
])
def test_a_figure_the_standard_does_not_allow_is_refused_naming_it(line: LineIn, field: str) -> None:
    with pytest.raises(InvalidAmount, match=field.replace("[", r"\[").replace("]", r"\]")):
        money.compute("EUR", [line])


def test_a_discount_is_of_a_category_the_lines_have_and_never_more_than_them() -> None:
    line = LineIn("x", Decimal(1), Decimal(10), "S", Decimal(21))
    with pytest.raises(InvalidAmount, match="no line has tax category S at 10"):
        money.compute("EUR", [line], [DiscountIn("d", Decimal(1), "S", Decimal(10))])
    with pytest.raises(InvalidAmount, match="more than the lines"):
        money.compute("EUR", [line], [DiscountIn("d", Decimal("10.01"), "S", Decimal(21))])


def test_an_unknown_currency_is_refused() -> None:
    with pytest.raises(InvalidAmount, match="currency"):
        money.exponent("XYZ")


@pytest.mark.parametrize(("minor", "currency", "language", "written"), [
    (123450, "EUR", "es", "1.234,50\xa0€"), (123450, "EUR", "en", "€1,234.50"),
    (0, "EUR", "es", "0,00\xa0€"), (0, "EUR", "en", "€0.00"), (-1230, "EUR", "es", "-12,30\xa0€"),
    (123456789, "USD", "es", "1.234.567,89\xa0US$"), (123456789, "USD", "en", "$1,234,567.89"),
    (1235, "JPY", "en", "¥1,235"), (1235, "JPY", "es", "1.235\xa0JPY"), (0, "JPY", "en", "¥0"),
    (1234568, "KWD", "en", "KWD1,234.568"), (1234568, "KWD", "es", "1.234,568\xa0KWD"),
    (5, "BHD", "en", "BHD0.005"), (0, "BHD", "es", "0,000\xa0BHD"),
    # CLDR's cash digits differ from ISO 4217 here: the amount keeps ISO's (2 for HUF, 3 for IQD)
    (123450, "HUF", "en", "HUF1,234.50"), (1500, "IQD", "es", "1,500\xa0IQD")])
def test_money_is_written_as_the_guests_locale_writes_it(minor: int, currency: str, language: str,
                                                          written: str) -> None:
    assert money.formatted(minor, currency, language) == written


@pytest.mark.parametrize(("typed", "language", "amount"), [
    ("1.234,50", "es", "1234.50"), ("400", "es", "400"), ("12,5", "es", "12.5"), ("1,234.50", "en", "1234.50"),
    (" 590.49 ", "en", "590.49")])
def test_an_amount_is_read_as_the_guests_language_writes_it(typed: str, language: str, amount: str) -> None:
    assert money.parsed(typed, language) == Decimal(amount)


def test_what_is_not_an_amount_is_refused() -> None:
    for typed in ("", "abc", "-5", "1e3"):
        with pytest.raises(ValueError, match="not an amount"):
            money.parsed(typed, "en")
