"""Where a text appears in a PDF, for fields placed "at the word *Signature:*" rather than at coordinates.

PDFium (pypdfium2) extracts the text and its character boxes as Chrome's viewer does. Positions are in PDF points on
the page as displayed, origin bottom-left (see :mod:`loginless.signing.pdf.geometry`), the same space fields are
stamped in. A text split across lines is found when the page's text flows that way, and its box then spans both.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from loginless.signing.pdf.geometry import PageGeometry

# PDFium keeps global state and is not thread-safe; the caller runs the engine in worker threads.
_pdfium = threading.Lock()


@dataclass(frozen=True)
class Anchor:
    page: int  # from 1
    x: float  # left edge, points from the displayed page's left
    y: float  # bottom edge, points from the displayed page's bottom
    width: float
    height: float


def find_anchors(data: bytes, text: str, *, match_case: bool = True) -> list[Anchor]:
    """Every occurrence of ``text``, page by page in reading order."""
    if not text.strip():
        raise ValueError("an anchor text cannot be blank")
    import pypdfium2

    found: list[Anchor] = []
    with _pdfium:
        document = pypdfium2.PdfDocument(data)
        try:
            for index in range(len(document)):
                page = document[index]
                geometry = _geometry(page)
                text_page = page.get_textpage()
                searcher = text_page.search(text, match_case=match_case)
                while (hit := searcher.get_next()) is not None:
                    first, count = hit
                    if (box := _union(text_page, first, count, geometry)) is not None:
                        found.append(Anchor(index + 1, *box))
        finally:
            document.close()
    return found


def _geometry(page) -> PageGeometry:  # noqa: ANN001 -- a pypdfium2 page
    left, bottom, right, top = page.get_cropbox()
    return PageGeometry(min(left, right), min(bottom, top), max(left, right), max(bottom, top),
                        page.get_rotation() % 360)


def _union(text_page, first: int, count: int, geometry: PageGeometry) -> tuple[float, ...] | None:  # noqa: ANN001
    """The displayed box around the characters of one match (spaces and line breaks PDFium made up have none)."""
    xs: list[float] = []
    ys: list[float] = []
    for index in range(first, first + count):
        # loose: the font's full height, not the glyph's ink, so an "x" and an "h" give boxes of one height
        left, bottom, right, top = text_page.get_charbox(index, loose=True)
        if right <= left or top <= bottom:
            continue
        for u, v in ((left, bottom), (right, top)):
            x, y = geometry.user_to_displayed(u, v)
            xs.append(x)
            ys.append(y)
    if not xs:
        return None
    return (round(min(xs), 2), round(min(ys), 2), round(max(xs) - min(xs), 2), round(max(ys) - min(ys), 2))

