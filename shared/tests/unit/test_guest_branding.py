"""The firm's colour as a stylesheet, with text on it that meets WCAG AA whatever the colour."""

import itertools

import pytest

from loginless.shared.branding import Branding
from loginless.shared.guest.branding import (
    BLACK,
    WHITE,
    brand_colour,
    brand_stylesheet,
    brand_stylesheet_name,
    contrast_ratio,
    readable_text_colour,
)

pytestmark = pytest.mark.unit


def test_contrast_ratios_match_the_wcag_reference_values():
    assert contrast_ratio(BLACK, WHITE) == pytest.approx(21.0)
    assert contrast_ratio("#777777", WHITE) == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#1f5f8b", "#1f5f8b") == pytest.approx(1.0)


@pytest.mark.parametrize(("background", "text"), [
    ("#1f5f8b", WHITE), ("#0b6e4f", WHITE), ("#000000", WHITE), ("#a4000f", WHITE),
    ("#ffee00", BLACK), ("#ffe066", BLACK), ("#ffffff", BLACK), ("#4fd1c5", BLACK),
])
def test_the_text_colour_is_the_readable_one(background, text):
    assert readable_text_colour(background) == text


def test_text_on_any_colour_reaches_aa_contrast():
    steps = ("00", "33", "66", "77", "88", "99", "aa", "cc", "ff")
    for red, green, blue in itertools.product(steps, repeat=3):
        colour = f"#{red}{green}{blue}"
        assert contrast_ratio(colour, readable_text_colour(colour)) >= 4.5, colour


def test_only_a_six_digit_hex_colour_is_used():
    assert brand_colour(Branding(name="A", color="#1F5F8B")) == "#1f5f8b"
    assert brand_colour(Branding(name="A", color="0b6e4f")) == "#0b6e4f"
    for unusable in ("red", "#fff", "#1f5f8b; background: url(x)", "", None):
        assert brand_colour(Branding(name="A", color=unusable)) is None
    assert brand_colour(None) is None


def test_the_stylesheet_sets_the_colour_and_its_text_colour():
    assert brand_stylesheet("#ffee00") == ":root { --brand: #ffee00; --brand-text: #000000; }\n"
    assert brand_stylesheet_name(Branding(name="A", color="#0B6E4F")) == "0b6e4f.css"
    assert brand_stylesheet_name(Branding(name="A")) is None
