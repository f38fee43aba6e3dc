"""The firm's colour on guest pages and in e-mails, with a text colour that stays readable on it.

Pages take it as a stylesheet of CSS custom properties (``--brand``, ``--brand-text``), because the gateway's
Content-Security-Policy allows no inline style. Its URL names the colour, so it holds nothing about a guest and
any service can serve it without asking anyone for the firm's branding.
"""

from __future__ import annotations

import re

from loginless.shared.branding import Branding

DEFAULT_BRAND_COLOUR = "#1f5f8b"
BLACK, WHITE = "#000000", "#ffffff"
_HEX_COLOUR = re.compile(r"^#?([0-9a-fA-F]{6})$")


def brand_colour(branding: Branding | None) -> str | None:
    """The firm's colour as ``#rrggbb`` (lower case), or None when it has none we can use."""
    match = _HEX_COLOUR.match(branding.color or "") if branding is not None else None
    return f"#{match.group(1).lower()}" if match else None


def relative_luminance(colour: str) -> float:
    """WCAG 2.2's relative luminance of ``#rrggbb``."""
    channels = [int(colour[index:index + 2], 16) / 255 for index in (1, 3, 5)]
    red, green, blue = (value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
                        for value in channels)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable_text_colour(background: str) -> str:
    """Black or white, whichever contrasts more with ``background``: at least 4.58:1 whatever the colour, so
    text of any size on the firm's colour meets WCAG AA."""
    return BLACK if contrast_ratio(background, BLACK) >= contrast_ratio(background, WHITE) else WHITE


def brand_stylesheet(colour: str) -> str:
    """The stylesheet of the firm's colour; ``colour`` must be ``#rrggbb`` (see :func:`brand_colour`)."""
    return f":root {{ --brand: {colour}; --brand-text: {readable_text_colour(colour)}; }}\n"


def brand_stylesheet_name(branding: Branding | None) -> str | None:
    """The file name under the kit's ``brand/`` route, e.g. ``1f5f8b.css``; None without a usable colour."""
    colour = brand_colour(branding)
    return f"{colour[1:]}.css" if colour else None
