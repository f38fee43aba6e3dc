"""Field values drawn onto pages: every kind shows, the result is flat, and the same inputs give the same bytes."""

import hashlib
import io

import pikepdf
import pypdfium2
import pytest
from PIL import Image, ImageDraw, ImageStat

from loginless.signing.pdf import InvalidStamp, StampedField, find_anchors, stamp_fields

from ..conftest import text_pdf

pytestmark = pytest.mark.unit


def drawn_signature() -> bytes:
    """What a signature pad sends: a transparent PNG with a stroke."""
    picture = Image.new("RGBA", (400, 120), (0, 0, 0, 0))
    ImageDraw.Draw(picture).line([(10, 90), (120, 20), (200, 100), (390, 30)], fill=(0, 0, 80, 255), width=6)
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


SIGNER_1 = (
    StampedField("signature", 1, 72, 600, 200, 50, "Ana García Núñez"),
    StampedField("date_signed", 1, 300, 600, 120, 20, "2026-12-06"),
    StampedField("email", 1, 72, 560, 200, 16, "ana@example.com"),
    StampedField("checkbox", 1, 72, 520, 14, 14, True),
)
SIGNER_2 = (
    StampedField("signature", 2, 72, 600, 200, 60, drawn_signature()),
    StampedField("initials", 2, 300, 600, 60, 30, "BT"),
    StampedField("name", 2, 72, 560, 200, 16, "Bruno Torres"),
    StampedField("number", 2, 300, 560, 80, 16, "1,250.00"),
    StampedField("radio", 2, 72, 520, 14, 14, True),
    StampedField("dropdown", 2, 300, 520, 120, 16, "Madrid"),
    StampedField("text", 2, 72, 480, 300, 16, "Paid in two instalments"),
)


@pytest.fixture(scope="module")
def original() -> bytes:
    return text_pdf([[(72, 700, "Signed by the tenant:")], [(72, 700, "Signed by the landlord:")]])


def page_text(data: bytes, page: int) -> str:
    document = pypdfium2.PdfDocument(data)
    try:
        return document[page - 1].get_textpage().get_text_range()
    finally:
        document.close()


def darkness(data: bytes, page: int, box: tuple[float, float, float, float]) -> float:
    """The mean darkness (0 white, 1 black) of a box of a page, rendered at 1 px per point."""
    document = pypdfium2.PdfDocument(data)
    try:
        rendered = document[page - 1].render(scale=1).to_pil().convert("L")
        x, y, width, height = box
        top = rendered.height - (y + height)
        area = rendered.crop((round(x), round(top), round(x + width), round(top + height)))
        return 1 - ImageStat.Stat(area).mean[0] / 255
    finally:
        document.close()


def test_stamping_the_same_values_twice_gives_byte_identical_pdfs(original):
    first = stamp_fields(original, SIGNER_1 + SIGNER_2)
    second = stamp_fields(original, SIGNER_1 + SIGNER_2)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    assert b"/CreationDate" not in first and b"/ModDate" not in first


def test_different_values_give_a_different_pdf(original):
    assert stamp_fields(original, SIGNER_1) != stamp_fields(original, SIGNER_1[:-1])


def test_typed_values_are_drawn_as_text_on_their_page(original):
    stamped = stamp_fields(original, SIGNER_1 + SIGNER_2)
    first, second = page_text(stamped, 1), page_text(stamped, 2)
    for value in ("Ana García Núñez", "2026-12-06", "ana@example.com", "Signed by the tenant:"):
        assert value in first
    for value in ("BT", "Bruno Torres", "1,250.00", "Madrid", "Paid in two instalments"):
        assert value in second
    assert "Bruno" not in first


def test_a_typed_value_lands_inside_its_box(original):
    stamped = stamp_fields(original, SIGNER_1)
    (anchor,) = find_anchors(stamped, "2026-12-06")
    assert anchor.page == 1
    assert 300 <= anchor.x and anchor.x + anchor.width <= 420
    assert 600 <= anchor.y and anchor.y + anchor.height <= 620


def test_a_long_value_is_shrunk_to_fit_its_box(original):
    long_name = "María de los Ángeles Fernández-Villaverde y Castellanos"
    stamped = stamp_fields(original, [StampedField("name", 1, 72, 400, 120, 16, long_name)])
    (anchor,) = find_anchors(stamped, long_name)
    assert anchor.x + anchor.width <= 72 + 120


def test_free_text_wraps_inside_a_tall_box(original):
    note = "The tenant may keep one cat and two goldfish, provided the landlord is told in writing first."
    stamped = stamp_fields(original, [StampedField("text", 1, 72, 300, 200, 60, note)])
    (first,), (last,) = find_anchors(stamped, "The tenant"), find_anchors(stamped, "writing first.")
    assert last.y < first.y  # a later line, lower down
    for anchor in (first, last):
        assert 72 <= anchor.x and anchor.x + anchor.width <= 272 and 300 <= anchor.y and anchor.y + anchor.height <= 360


def test_a_drawn_signature_is_an_image_on_its_page(original):
    stamped = stamp_fields(original, SIGNER_2)
    with pikepdf.open(io.BytesIO(stamped)) as pdf:
        images = [image for page_number in (1, 2)
                  for image in _images(pdf.pages[page_number - 1].obj.get("/Resources"))]
        (image,) = images
        assert "/SMask" in image  # its transparency kept: the page shows through around the stroke
    assert darkness(stamped, 2, (72, 600, 200, 60)) > 0.005
    assert darkness(stamped, 1, (72, 600, 200, 60)) == 0


def _images(resources) -> list:  # noqa: ANN001
    """Image XObjects reachable from a resource dictionary, through form XObjects."""
    found = []
    for xobject in (resources or {}).get("/XObject", {}).values():
        if xobject.get("/Subtype") == "/Image":
            found.append(xobject)
        elif xobject.get("/Subtype") == "/Form":
            found += _images(xobject.get("/Resources"))
    return found


@pytest.mark.parametrize("kind", ["checkbox", "radio"])
def test_a_ticked_box_is_marked_and_an_unticked_one_only_outlined(original, kind):
    box = (100, 300, 20, 20)
    ticked = stamp_fields(original, [StampedField(kind, 1, *box, True)])
    unticked = stamp_fields(original, [StampedField(kind, 1, *box, False)])
    blank = darkness(original, 1, box)
    assert darkness(ticked, 1, box) > darkness(unticked, 1, box) > blank


def test_stamping_is_cumulative_from_the_original(original):
    interim = stamp_fields(original, SIGNER_1)
    final = stamp_fields(original, SIGNER_1 + SIGNER_2)
    assert stamp_fields(original, SIGNER_1) == interim  # what signer 1 was shown can be made again
    assert "Ana García Núñez" in page_text(final, 1) and "Bruno Torres" in page_text(final, 2)
    assert "Bruno Torres" not in page_text(interim, 2)


def test_no_values_give_the_original_flattened_and_rewritten(original):
    copy = stamp_fields(original, [])
    assert page_text(copy, 1) == page_text(original, 1) and copy == stamp_fields(original, [])


def test_form_fields_of_the_original_are_flattened_into_the_page_and_no_field_remains():
    def with_filled_text_field(pdf: pikepdf.Pdf) -> None:
        appearance = pdf.make_stream(b"BT /Helv 10 Tf 2 4 Td (Filled by the sender) Tj ET", Type=pikepdf.Name.XObject,
                                     Subtype=pikepdf.Name.Form, BBox=[0, 0, 200, 20],
                                     Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=pikepdf.Dictionary(
                                         Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                         BaseFont=pikepdf.Name.Helvetica))))
        field = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Tx, T=pikepdf.String("company"),
            V=pikepdf.String("Filled by the sender"), Rect=[72, 400, 272, 420], P=pdf.pages[0].obj,
            AP=pikepdf.Dictionary(N=appearance)))
        pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([field]))
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([field]))

    original = text_pdf(mutate=with_filled_text_field)
    stamped = stamp_fields(original, [StampedField("name", 1, 72, 600, 200, 20, "Ana")])
    with pikepdf.open(io.BytesIO(stamped)) as pdf:
        assert "/AcroForm" not in pdf.Root
        widgets = [a for page in pdf.pages for a in page.obj.get("/Annots", []) if a.get("/Subtype") == "/Widget"]
        assert widgets == []
    assert "Filled by the sender" in page_text(stamped, 1)


def test_a_field_on_a_turned_page_is_upright_where_the_reader_sees_it():
    original = text_pdf([[]], size=(595, 842), rotate=90)  # shown 842 wide, 595 high
    stamped = stamp_fields(original, [StampedField("text", 1, 700, 500, 120, 20, "Upright")])
    (anchor,) = find_anchors(stamped, "Upright")
    assert 700 <= anchor.x < 720 and 500 <= anchor.y < 520
    assert anchor.width > anchor.height  # reads left to right, not top to bottom


@pytest.mark.parametrize(("field", "message"), [
    (StampedField("name", 3, 72, 72, 100, 20, "x"), "no page 3"),
    (StampedField("name", 1, 550, 72, 100, 20, "x"), "outside page 1"),
    (StampedField("name", 1, 72, 72, 0, 20, "x"), "outside page 1"),
    (StampedField("signature", 1, 72, 72, 100, 20, b"GIF89a not a png"), "must be a PNG"),
    (StampedField("signature", 1, 72, 72, 100, 20, b"\x89PNG\r\n\x1a\n broken"), "cannot be read"),
    (StampedField("checkbox", 1, 72, 72, 10, 10, "yes"), "cannot hold a value of type str"),
    (StampedField("name", 1, 72, 72, 100, 20, True), "cannot hold a value of type bool"),
], ids=["no-such-page", "off-the-page", "empty-box", "not-png", "broken-png", "checkbox-text", "name-bool"])
def test_a_value_that_cannot_be_placed_is_refused(original, field, message):
    with pytest.raises(InvalidStamp, match=message):
        stamp_fields(original, [field])


def test_a_huge_signature_image_is_refused_before_it_is_decoded(original):
    out = io.BytesIO()
    Image.new("1", (5000, 1000)).save(out, "PNG")
    with pytest.raises(InvalidStamp, match="at most"):
        stamp_fields(original, [StampedField("signature", 1, 72, 72, 100, 20, out.getvalue())])
