"""Anchor texts: where a text is, in points on the page as displayed, origin bottom-left."""

import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth

from loginless.signing.pdf import find_anchors

from ..conftest import text_pdf

pytestmark = pytest.mark.unit


def test_an_anchor_is_found_at_its_position_in_points_from_the_bottom_left():
    data = text_pdf([[(72, 700, "Please sign here: ________")]])
    (anchor,) = find_anchors(data, "sign here:")
    assert anchor.page == 1
    assert anchor.x == pytest.approx(72 + stringWidth("Please ", "Helvetica", 12), abs=1)
    assert anchor.width == pytest.approx(stringWidth("sign here:", "Helvetica", 12), abs=1)
    assert anchor.y == pytest.approx(700 - 0.21 * 12, abs=1.5)  # the font's descent below the baseline
    assert 10 < anchor.height < 16


def test_every_occurrence_is_found_page_by_page():
    data = text_pdf([[(72, 700, "Initials:"), (72, 100, "Initials:")], [], [(300, 400, "Initials:")]])
    anchors = find_anchors(data, "Initials:")
    assert [(a.page, round(a.x)) for a in anchors] == [(1, 72), (1, 72), (3, 300)]
    assert anchors[0].y > anchors[1].y


def test_matching_is_case_sensitive_unless_asked_otherwise():
    data = text_pdf([[(72, 700, "SIGNATURE")]])
    assert find_anchors(data, "Signature") == []
    assert len(find_anchors(data, "Signature", match_case=False)) == 1


def test_a_text_that_is_not_there_gives_no_anchor():
    assert find_anchors(text_pdf(), "Nowhere to be found") == []


def test_on_a_turned_page_the_anchor_is_where_a_reader_sees_it():
    # user space (72, 100) on a page turned 90 degrees clockwise is shown 100 from the left, 72 from the top
    data = text_pdf([[(72, 100, "Sign")]], size=(595, 842), rotate=90)
    (anchor,) = find_anchors(data, "Sign")
    assert anchor.x == pytest.approx(100 - 0.21 * 12, abs=1.5)
    assert anchor.y + anchor.height == pytest.approx(595 - 72, abs=1)
    assert anchor.height > anchor.width  # the text runs down the page as shown


def test_a_blank_anchor_text_is_a_programming_error():
    with pytest.raises(ValueError):
        find_anchors(text_pdf(), "  ")
