"""Money: currencies and their minor units, and an invoice's amounts as EN 16931 computes them. No I/O.

Every amount is an integer of the currency's minor unit; quantities, prices and rates are ``Decimal``. Each
figure is rounded once, half up, where the standard rounds it: a line's net amount, then each VAT category's
tax on the sum of its taxable amounts (EN 16931 BR-CO-17: never the sum of per-line taxes), then each
withholding on the taxable amount. Everything else is a sum of integers, so the totals always add up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel import Locale
from babel.numbers import format_currency

from loginless.events.payloads.payments import (
    DocumentDiscount,
    InvoiceLine,
    InvoiceTotals,
    TaxBreakdown,
    TaxCategory,
    Withholding,
)
from loginless.shared.errors import InvalidRequest

# The currencies invoices may be in: ISO 4217 codes Stripe also charges, with their exponents where not 2 (Stripe's
# zero- and three-decimal lists). Hand-kept: CLDR's digits (Babel's ``get_currency_precision``) are cash-rounding
# digits and differ from ISO 4217 for some of them (COP, HUF, IDR, IQD), and the amounts are kept in ISO's.
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                          "VUV", "XAF", "XOF", "XPF"})
THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
TWO_DECIMAL = frozenset(
    "AED ARS AUD BGN BRL CAD CHF CNY COP CZK DKK DOP EGP EUR GBP GEL HKD HUF IDR ILS INR KES KZT MAD MXN MYR NGN "
    "NOK NZD PEN PHP PKR PLN QAR RON RSD SAR SEK SGD THB TRY TWD UAH USD UYU ZAR".split())
ZERO_RATE_CATEGORIES: frozenset[TaxCategory] = frozenset({"Z", "E", "AE", "K", "G", "O"})
EXEMPTION_REASONS: dict[TaxCategory, str] = {  # the default text of categories that charge no VAT (BR-E-10 and kin)
    "E": "Exempt from VAT", "AE": "Reverse charge", "K": "Intra-community supply", "G": "Export outside the EU",
    "O": "Not subject to VAT"}
MAX_MINOR = 10**13  # no invoice line or total beyond this (a bound, not a business rule)


class InvalidAmount(InvalidRequest):
    problem_type = "invalid-amount"
    title = "An amount of the invoice is not valid"


def exponent(currency: str) -> int:
    """The ISO 4217 exponent of ``currency`` (an upper-case code); a currency not taken is refused."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    if currency in TWO_DECIMAL:
        return 2
    raise InvalidAmount(f"currency: {currency!r} is not an ISO 4217 currency code invoices are taken in")


def decimal_of(text: str, where: str) -> Decimal:
    """A decimal as staff write it ("12.50"); anything else is refused, naming the field."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError) as error:
        raise InvalidAmount(f"{where}: not a decimal number") from error
    if not value.is_finite():
        raise InvalidAmount(f"{where}: not a decimal number")
    return value


def to_minor(amount: Decimal, digits: int) -> int:
    """``amount`` (major units) in minor units, rounded half up."""
    return int((amount * (Decimal(10) ** digits)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor(amount_minor: int, digits: int) -> Decimal:
    return Decimal(amount_minor).scaleb(-digits)


def percent_of(amount_minor: int, rate: Decimal) -> int:
    return int((Decimal(amount_minor) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def formatted(amount_minor: int, currency: str, language: str) -> str:
    """The amount as the guest's locale writes it, by Babel (CLDR): ``€1,234.50`` in English, ``1.234,50\xa0€`` in
    Spanish. Always with the currency's ISO 4217 digits (the locale's pattern with its fraction part set to them),
    never CLDR's cash digits: 2 for HUF, 3 for IQD, none for JPY, whatever the locale would round to."""
    digits = exponent(currency)
    locale = _locale(language)
    return format_currency(from_minor(amount_minor, digits), currency, format=_pattern(locale, digits),
                           locale=locale, currency_digits=False)


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language.replace("-", "_"))


@cache
def _pattern(locale: Locale, digits: int) -> str:
    standard = locale.currency_formats["standard"].pattern  # e.g. "¤#,##0.00" (en), "#,##0.00\xa0¤" (es)
    return re.sub(r"\.0+", "." + "0" * digits if digits else "", standard)


def parsed(text: str, language: str) -> Decimal:
    """An amount as a guest types it in their language ("1.234,50" or "1234,5" in Spanish, "1,234.50" in
    English); a ``ValueError`` when it is not one."""
    cleaned = text.strip().replace(" ", "").replace("\xa0", "")
    if language == "es" and "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    if not re.fullmatch(r"\d{1,13}(\.\d{1,6})?", cleaned):
        raise ValueError(f"not an amount: {text!r}")
    return Decimal(cleaned)


# ---- an invoice's amounts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineIn:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_category: TaxCategory
    tax_rate: Decimal
    discount_percent: Decimal | None = None


@dataclass(frozen=True)
class DiscountIn:
    description: str
    amount: Decimal  # major units
    tax_category: TaxCategory
    tax_rate: Decimal


@dataclass(frozen=True)
class WithholdingIn:
    description: str
    rate: Decimal


@dataclass(frozen=True)
class Amounts:
    lines: tuple[InvoiceLine, ...]
    discounts: tuple[DocumentDiscount, ...]
    taxes: tuple[TaxBreakdown, ...]
    withholdings: tuple[Withholding, ...]
    totals: InvoiceTotals


def compute(currency: str, lines: Sequence[LineIn], discounts: Sequence[DiscountIn] = (),
            withholdings: Sequence[WithholdingIn] = (), exemption_reasons: dict[str, str] | None = None) -> Amounts:
    """The invoice's lines, VAT breakdown and totals; a figure the standard does not allow is refused, naming it."""
    digits = exponent(currency)
    if not lines:
        raise InvalidAmount("lines: an invoice has at least one line")
    placed: list[InvoiceLine] = []
    for n, line in enumerate(lines):
        _check_rate(f"lines[{n}]", line.tax_category, line.tax_rate)
        if line.quantity <= 0:
            raise InvalidAmount(f"lines[{n}].quantity: must be more than 0")
        if line.unit_price < 0:
            raise InvalidAmount(f"lines[{n}].unit_price: must not be negative (correct with a credit note)")
        if line.discount_percent is not None and not 0 <= line.discount_percent <= 100:
            raise InvalidAmount(f"lines[{n}].discount_percent: between 0 and 100")
        exact = line.quantity * line.unit_price * (1 - (line.discount_percent or 0) / Decimal(100))
        net = to_minor(exact, digits)
        if net > MAX_MINOR:
            raise InvalidAmount(f"lines[{n}]: the amount is too large")
        placed.append(InvoiceLine(description=line.description, quantity=line.quantity, unit_price=line.unit_price,
                                  discount_percent=line.discount_percent, tax_category=line.tax_category,
                                  tax_rate=line.tax_rate, net_minor=net))
    bases: dict[tuple[str, Decimal], int] = {}
    for line in placed:
        key = (line.tax_category, line.tax_rate.normalize())
        bases[key] = bases.get(key, 0) + line.net_minor
    taken: list[DocumentDiscount] = []
    for n, discount in enumerate(discounts):
        key = (discount.tax_category, discount.tax_rate.normalize())
        amount = to_minor(discount.amount, digits)
        if amount <= 0:
            raise InvalidAmount(f"discounts[{n}].amount: must be more than 0")
        if key not in bases:
            raise InvalidAmount(f"discounts[{n}]: no line has tax category {discount.tax_category} at "
                                f"{discount.tax_rate}%")
        if amount > bases[key]:
            raise InvalidAmount(f"discounts[{n}].amount: more than the lines it discounts")
        bases[key] -= amount
        taken.append(DocumentDiscount(description=discount.description, amount_minor=amount,
                                      tax_category=discount.tax_category, tax_rate=discount.tax_rate))
    reasons = exemption_reasons or {}
    taxes = tuple(TaxBreakdown(tax_category=category, tax_rate=rate, taxable_minor=base,  # type: ignore[arg-type]
                               tax_minor=percent_of(base, rate),
                               exemption_reason=reasons.get(category) or EXEMPTION_REASONS.get(category))  # type: ignore[arg-type]
                  for (category, rate), base in sorted(bases.items()))
    taxable = sum(t.taxable_minor for t in taxes)
    withheld: list[Withholding] = []
    for n, withholding in enumerate(withholdings):
        if not 0 < withholding.rate < 100:
            raise InvalidAmount(f"withholdings[{n}].rate: between 0 and 100")
        withheld.append(Withholding(description=withholding.description, rate=withholding.rate, base_minor=taxable,
                                    amount_minor=percent_of(taxable, withholding.rate)))
    tax = sum(t.tax_minor for t in taxes)
    withheld_minor = sum(w.amount_minor for w in withheld)
    totals = InvoiceTotals(lines_minor=sum(line.net_minor for line in placed),
                           discounts_minor=sum(d.amount_minor for d in taken), taxable_minor=taxable, tax_minor=tax,
                           gross_minor=taxable + tax, withheld_minor=withheld_minor,
                           payable_minor=taxable + tax - withheld_minor)
    if totals.payable_minor <= 0:
        raise InvalidAmount("lines: the invoice's amount payable must be more than 0")
    return Amounts(tuple(placed), tuple(taken), taxes, tuple(withheld), totals)


def _check_rate(where: str, category: TaxCategory, rate: Decimal) -> None:
    if category in ZERO_RATE_CATEGORIES and rate != 0:
        raise InvalidAmount(f"{where}.tax_rate: category {category} charges no VAT (rate 0)")
    if category == "S" and rate <= 0:
        raise InvalidAmount(f"{where}.tax_rate: the standard category's rate is more than 0")
    if not 0 <= rate < 100:
        raise InvalidAmount(f"{where}.tax_rate: between 0 and 100")
