"""Field values drawn onto the pages: the "interim PDF" each signer is shown and the final document before its seal.

Stamping always starts from the original upload and draws every value given so far (signer 1's, then signers 1 and
2's, ...), so the result depends on the inputs alone. It is **deterministic**: the same original and values give
the same bytes, because reportlab runs in invariant mode (no dates, a fixed ``/ID``), qpdf writes objects in a fixed
order and derives the file's ``/ID`` from its content, and nothing reads the clock or a random source. The server
records the interim PDF's SHA-256 when a signer sees it and can render it again later to the same hash, provided
the same versions of pikepdf (qpdf, zlib) and reportlab are installed.

The output is flat: existing form fields are drawn into the page (their appearances) and the form removed, so no
interactive field is left for anyone to change after signing.

Text is set in the standard PDF fonts (Helvetica; Times Italic for a typed signature), which every viewer has
without embedding: they cover Western European scripts (Windows-1252); other characters show as a box.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pikepdf

from loginless.signing.pdf.errors import InvalidStamp
from loginless.signing.pdf.geometry import PageGeometry, page_geometry
from loginless.signing.pdf.inspection import open_untrusted

FieldKind = Literal["signature", "initials", "date_signed", "name", "email", "text", "number", "checkbox", "radio",
                    "dropdown"]
TEXT_KINDS = frozenset({"date_signed", "name", "email", "text", "number", "dropdown"})
MARK_KINDS = frozenset({"checkbox", "radio"})
SIGNATURE_KINDS = frozenset({"signature", "initials"})

TEXT_FONT = "Helvetica"
SIGNATURE_FONT = "Times-Italic"  # the closest a standard font comes to handwriting
INK = (0.05, 0.1, 0.35)  # dark blue: filled-in values stand apart from the printed document
PADDING = 2.0  # points between a box's edge and what is drawn in it
LEADING = 1.2  # line spacing of wrapped text, in font sizes
MAX_SIGNATURE_PIXELS = 4_000_000  # a signature pad draws well under 1 MP; beyond this it is not a signature
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class StampedField:
    """One value at a box of a page (from 1), in points on the page as displayed, origin bottom-left.

    ``value`` is text for text-like kinds and for a typed signature or initials, the PNG a signer drew for a drawn
    one, and whether it is ticked for a checkbox or chosen for a radio option (each option has its own box)."""

    kind: FieldKind
    page: int
    x: float
    y: float
    width: float
    height: float
    value: str | bytes | bool


def stamp_fields(original: bytes, values: Sequence[StampedField]) -> bytes:
    """A flattened copy of ``original`` with ``values`` drawn on it; the same inputs always give the same bytes."""
    by_page: dict[int, list[StampedField]] = defaultdict(list)
    for field in values:
        by_page[field.page].append(field)
    with open_untrusted(original) as pdf:
        for number in by_page:
            if not 1 <= number <= len(pdf.pages):
                raise InvalidStamp(f"the document has no page {number}")
        geometries = {number: page_geometry(pdf.pages[number - 1]) for number in sorted(by_page)}
        with pikepdf.open(io.BytesIO(_draw_overlays(geometries, by_page))) if by_page else pikepdf.new() as overlay:
            for overlay_page, number in zip(overlay.pages, sorted(by_page), strict=True):
                _place(pdf, pdf.pages[number - 1], overlay_page, geometries[number])
            _flatten_form(pdf)
            out = io.BytesIO()
            pdf.save(out, deterministic_id=True, fix_metadata_version=False)
    return out.getvalue()


# ---- drawing the values (reportlab) ---------------------------------------------------------------------------


def _draw_overlays(geometries: dict[int, PageGeometry], by_page: dict[int, list[StampedField]]) -> bytes:
    """One overlay page per stamped page, the size of the page as displayed."""
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out, invariant=1, pageCompression=1)
    for number in sorted(by_page):
        geometry = geometries[number]
        canvas.setPageSize((geometry.width, geometry.height))
        for field in by_page[number]:
            _check_box(field, geometry)
            canvas.saveState()
            canvas.setFillColorRGB(*INK)
            canvas.setStrokeColorRGB(*INK)
            _draw(canvas, field)
            canvas.restoreState()
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _check_box(field: StampedField, geometry: PageGeometry) -> None:
    tolerance = 0.5  # points: rounding in a browser's coordinates must not refuse a box drawn to the edge
    inside = (field.width > 0 and field.height > 0 and field.x >= -tolerance and field.y >= -tolerance
              and field.x + field.width <= geometry.width + tolerance
              and field.y + field.height <= geometry.height + tolerance)
    if not inside:
        raise InvalidStamp(f"a {field.kind} field's box is outside page {field.page} "
                           f"({geometry.width:g} x {geometry.height:g} points)")


def _draw(canvas, field: StampedField) -> None:  # noqa: ANN001 -- a reportlab canvas
    if field.kind in SIGNATURE_KINDS and isinstance(field.value, bytes):
        _draw_image(canvas, field, field.value)
    elif field.kind in SIGNATURE_KINDS and isinstance(field.value, str):
        _draw_text(canvas, field, field.value, SIGNATURE_FONT, max_size=field.height * 0.8)
    elif field.kind == "text" and isinstance(field.value, str):
        _draw_paragraph(canvas, field, field.value)
    elif field.kind in TEXT_KINDS and isinstance(field.value, str):
        _draw_text(canvas, field, field.value, TEXT_FONT, max_size=min(field.height * 0.75, 12))
    elif field.kind == "checkbox" and isinstance(field.value, bool):
        _draw_checkbox(canvas, field, field.value)
    elif field.kind == "radio" and isinstance(field.value, bool):
        _draw_radio(canvas, field, field.value)
    else:
        raise InvalidStamp(f"a {field.kind} field cannot hold a value of type {type(field.value).__name__}")


def _draw_text(canvas, field: StampedField, text: str, font: str, *, max_size: float) -> None:  # noqa: ANN001
    from reportlab.pdfbase.pdfmetrics import stringWidth

    text = " ".join(text.split())  # one line: line breaks and tabs would escape the box
    if not text:
        return
    room = max(field.width - 2 * PADDING, 1.0)
    size = min(max_size, room / stringWidth(text, font, 1)) if stringWidth(text, font, 1) else max_size
    canvas.setFont(font, size)
    baseline = field.y + (field.height - size * 0.7) / 2  # cap height of these fonts is about 0.7 em
    canvas.drawString(field.x + PADDING, baseline, text)


def _draw_paragraph(canvas, field: StampedField, text: str) -> None:  # noqa: ANN001
    """Free text wraps onto as many lines as the box holds, at the largest size (up to 12 pt) that fits; text that
    fits no other way is shrunk onto one line."""
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfbase.pdfmetrics import stringWidth

    text = " ".join(text.split())
    room_x, room_y = field.width - 2 * PADDING, field.height - 2 * PADDING
    size = min(12.0, room_y)
    while size >= 6:
        lines = simpleSplit(text, TEXT_FONT, size, room_x)
        fits = len(lines) * size * LEADING <= room_y and all(stringWidth(line, TEXT_FONT, size) <= room_x
                                                             for line in lines)
        if fits and len(lines) > 1:
            canvas.setFont(TEXT_FONT, size)
            baseline = field.y + field.height - PADDING - size * 0.8
            for line in lines:
                canvas.drawString(field.x + PADDING, baseline, line)
                baseline -= size * LEADING
            return
        if fits:
            break
        size *= 0.9
    _draw_text(canvas, field, text, TEXT_FONT, max_size=min(field.height * 0.75, 12))


def _draw_image(canvas, field: StampedField, png: bytes) -> None:  # noqa: ANN001
    from PIL import Image
    from reportlab.lib.utils import ImageReader

    if not png.startswith(PNG_MAGIC):
        raise InvalidStamp("a drawn signature must be a PNG image")
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            if image.width * image.height > MAX_SIGNATURE_PIXELS:
                raise InvalidStamp(f"a drawn signature may have at most {MAX_SIGNATURE_PIXELS} pixels")
            image.load()
            picture = image.convert("RGBA")
    except (OSError, Image.DecompressionBombError, SyntaxError) as error:
        raise InvalidStamp(f"the drawn signature cannot be read: {error}") from None
    canvas.drawImage(ImageReader(picture), field.x + PADDING, field.y + PADDING,
                     max(field.width - 2 * PADDING, 1), max(field.height - 2 * PADDING, 1),
                     mask="auto", preserveAspectRatio=True, anchor="sw")


def _draw_checkbox(canvas, field: StampedField, checked: bool) -> None:  # noqa: ANN001
    side = min(field.width, field.height)
    x, y = field.x + (field.width - side) / 2, field.y + (field.height - side) / 2
    canvas.setLineWidth(max(side / 16, 0.5))
    canvas.rect(x, y, side, side, stroke=1, fill=0)
    if checked:  # a tick drawn as two strokes: no font needed
        canvas.setLineWidth(max(side / 8, 0.8))
        path = canvas.beginPath()
        path.moveTo(x + side * 0.2, y + side * 0.5)
        path.lineTo(x + side * 0.42, y + side * 0.25)
        path.lineTo(x + side * 0.8, y + side * 0.78)
        canvas.drawPath(path, stroke=1, fill=0)


def _draw_radio(canvas, field: StampedField, chosen: bool) -> None:  # noqa: ANN001
    radius = min(field.width, field.height) / 2
    centre_x, centre_y = field.x + field.width / 2, field.y + field.height / 2
    canvas.setLineWidth(max(radius / 8, 0.5))
    canvas.circle(centre_x, centre_y, radius * 0.9, stroke=1, fill=0)
    if chosen:
        canvas.circle(centre_x, centre_y, radius * 0.45, stroke=0, fill=1)


# ---- putting them on the pages (pikepdf) ----------------------------------------------------------------------


def _place(pdf: pikepdf.Pdf, page: pikepdf.Page, overlay_page: pikepdf.Page, geometry: PageGeometry) -> None:
    """Draws the overlay over the page as a form XObject, turned and shifted from displayed to user space; the
    page's own content is wrapped in q/Q so a transformation it leaves behind cannot move the stamp."""
    if "/Resources" not in page.obj:
        page.obj.Resources = _inherited_resources(page.obj)
    form = pdf.copy_foreign(overlay_page.as_form_xobject())
    name = _unused_name(page, "/Stamp")  # pikepdf's own naming adds random characters, which would vary the bytes
    page.add_resource(form, pikepdf.Name.XObject, name)
    matrix = " ".join(_number(value) for value in geometry.displayed_to_user())
    page.contents_add(b"q\n", prepend=True)
    page.contents_add(f"\nQ\nq {matrix} cm {name} Do Q\n".encode(), prepend=False)


def _unused_name(page: pikepdf.Page, prefix: str) -> str:
    taken = page.obj.Resources.get("/XObject", pikepdf.Dictionary()).keys()
    return next(f"{prefix}{n}" for n in range(len(taken) + 1) if f"{prefix}{n}" not in taken)


def _inherited_resources(node: pikepdf.Object) -> pikepdf.Object:
    parent = node.get("/Parent")
    for _ in range(64):
        if parent is None:
            break
        if "/Resources" in parent:
            return parent.Resources
        parent = parent.get("/Parent")
    return pikepdf.Dictionary()


def _flatten_form(pdf: pikepdf.Pdf) -> None:
    """Form fields become part of the page they are on; no widget or form dictionary remains."""
    if "/AcroForm" in pdf.Root:
        pdf.generate_appearance_streams()
        pdf.flatten_annotations(mode="all")  # also drops /AcroForm, once every field is drawn
        if "/AcroForm" in pdf.Root:
            del pdf.Root["/AcroForm"]
    for page in pdf.pages:
        annotations = page.obj.get("/Annots")
        if isinstance(annotations, pikepdf.Array):
            kept = [a for a in annotations if a.get("/Subtype") != pikepdf.Name.Widget]
            if len(kept) != len(annotations):
                page.obj.Annots = pdf.make_indirect(pikepdf.Array(kept))


def _number(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") or "0"
