"""View-only previews: a guest gets watermarked pictures of the pages, never the original bytes or a PDF.

Test documents are made here: PDFs by a tiny writer below, pictures with Pillow. Most tests render in a worker
thread (fast); the ones about the child process -- its isolation, limits and error reporting -- render in it.
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from loginless.documents import previews
from loginless.documents.previews import (
    MEDIA_TYPE,
    NoSuchPage,
    NotPreviewable,
    PreviewLimits,
    PreviewRenderer,
    TooLargeToPreview,
    UnreadableDocument,
    page_file,
    watermark_text,
)
from loginless.shared.errors import LoginlessError
from loginless.testkit.files import pdf, text

pytestmark = pytest.mark.unit

A4 = (595, 842)  # points
WATERMARK = watermark_text("ana.garcia@cliente.example", datetime(2025, 3, 4, 10, 15, tzinfo=UTC))
DARK_BOX = b"0 0 0 rg 100 300 200 200 re f"  # a black square, 200 pt wide, lower left of an A4 page




@pytest.fixture
def write(tmp_path: Path):
    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path
    return write


@pytest.fixture
def in_thread() -> PreviewRenderer:
    return PreviewRenderer(isolated=False)


async def page_of(renderer: PreviewRenderer, path: Path, page_index: int, watermark: str = WATERMARK) -> bytes:
    """The page's image, rendered into a folder of its own."""
    into = Path(tempfile.mkdtemp(dir=path.parent))
    return (await renderer.render_pdf_page(path, page_index, watermark=watermark, into=into)).read_bytes()


async def picture_of(renderer: PreviewRenderer, path: Path, watermark: str = WATERMARK) -> bytes:
    into = Path(tempfile.mkdtemp(dir=path.parent))
    return (await renderer.render_image(path, watermark=watermark, into=into)).read_bytes()


def decoded(data: bytes) -> Image.Image:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP" and MEDIA_TYPE == "image/webp"
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def unwatermarked_page(path: Path, size: tuple[int, int]) -> Image.Image:
    """The same page rasterised by pypdfium2 directly, at the preview's size, with no watermark."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(path))
    try:
        page = document[0]
        return page.render(scale=size[0] / page.get_width(), rev_byteorder=True).to_pil().convert("RGB").resize(size)
    finally:
        document.close()


def share_of_changed_pixels(first: Image.Image, second: Image.Image, *, threshold: int = 40) -> float:
    difference = ImageChops.difference(first.convert("L"), second.convert("L")).point(lambda v: 255 * (v > threshold))
    return ImageStat.Stat(difference).mean[0] / 255


def quadrants(picture: Image.Image) -> list[Image.Image]:
    half_width, half_height = picture.width // 2, picture.height // 2
    return [picture.crop((x, y, x + half_width, y + half_height))
            for x in (0, half_width) for y in (0, half_height)]


# ---- what a guest receives ------------------------------------------------------------------------------------


@pytest.mark.parametrize("isolated", [False, True], ids=["thread", "child-process"])
async def test_a_pdf_page_comes_back_as_a_bounded_webp_image_never_as_the_pdf(write, isolated):
    original = pdf((A4, text("Page one")), (A4, text("Page two")), (A4, text("Page three")))
    path = write("contract.pdf", original)
    renderer = PreviewRenderer(isolated=isolated)

    assert await renderer.page_count(path) == 3
    image = await page_of(renderer, path, 1)

    assert image != original and not image.startswith(b"%PDF") and b"%PDF" not in image
    page = decoded(image)
    assert page.width == 1400 and page.height == math.ceil(1400 * 842 / 595)  # A4's proportions


@pytest.mark.parametrize(("mode", "file_format", "options"), [
    ("RGB", "JPEG", {"quality": 90}),
    ("RGBA", "PNG", {}),
    ("P", "GIF", {}),
    ("RGB", "WEBP", {"quality": 90}),
    ("RGB", "TIFF", {}),
    ("CMYK", "JPEG", {}),
    ("L", "PNG", {}),
])
async def test_a_picture_comes_back_as_a_new_webp_image_never_as_the_original(write, in_thread, mode, file_format,
                                                                                options):
    out = io.BytesIO()
    Image.new(mode, (640, 480), "white" if mode != "CMYK" else (0, 0, 0, 0)).save(out, file_format, **options)
    original = out.getvalue()

    image = await picture_of(in_thread, write(f"picture.{file_format.lower()}", original))

    assert image != original and not image.startswith(b"%PDF")
    assert decoded(image).size == (640, 480) and decoded(image).mode == "RGB"


async def test_a_large_picture_is_scaled_down_to_the_bound(write, in_thread):
    out = io.BytesIO()
    Image.new("RGB", (4000, 3000), "white").save(out, "JPEG")

    image = decoded(await picture_of(in_thread, write("big.jpg", out.getvalue())))

    assert image.size == (1400, 1050)


async def test_a_large_sideways_photo_is_bounded_as_it_stands_upright(write, in_thread):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: stored landscape, shown portrait
    out = io.BytesIO()
    Image.new("RGB", (2800, 2100), "white").save(out, "JPEG", exif=exif)

    image = decoded(await picture_of(in_thread, write("portrait.jpg", out.getvalue())))

    assert image.size == (1400, 1867)


async def test_an_animated_gif_shows_its_first_frame(write, in_thread):
    frames = [Image.new("RGB", (200, 200), colour) for colour in ("black", "white")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)

    image = decoded(await picture_of(in_thread, write("animated.gif", out.getvalue())))

    assert ImageStat.Stat(image.convert("L")).mean[0] < 100  # mostly the black first frame


async def test_a_picture_loses_its_metadata_and_stands_upright(write, in_thread):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker-4711"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif.get_ifd(0x8825)[2] = (40.0, 25.0, 1.0)  # GPSLatitude
    photo = Image.new("RGB", (600, 300), "white")
    ImageDraw.Draw(photo).rectangle((0, 0, 99, 299), fill="black")  # the left edge becomes the top once upright
    out = io.BytesIO()
    photo.save(out, "JPEG", exif=exif, icc_profile=_srgb_profile(), comment=b"secret comment 4711")
    original = out.getvalue()
    assert Image.open(io.BytesIO(original)).getexif()[0x010F] == "PhoneMaker-4711"

    image = await picture_of(in_thread, write("photo.jpg", original))

    upright = decoded(image)
    assert b"4711" not in image and b"EXIF" not in image and b"ICCP" not in image
    assert not upright.getexif() and not {"exif", "icc_profile", "xmp", "comment"} & set(upright.info)
    assert upright.size == (300, 600)
    top, bottom = upright.crop((0, 0, 300, 90)), upright.crop((0, 510, 300, 600))
    assert ImageStat.Stat(top.convert("L")).mean[0] < 100 < ImageStat.Stat(bottom.convert("L")).mean[0]


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def webp_kind(data: bytes) -> str:
    """``VP8L`` for a lossless WebP, ``VP8 `` for a lossy one."""
    return data[12:16].decode()


async def test_text_is_encoded_losslessly_and_scans_lossily(write, in_thread):
    out = io.BytesIO()
    # A photo-like page (a smooth gradient, embedded as JPEG), small enough losslessly that only the page's content,
    # not the size of the result, can send it to the lossy encoder.
    Image.radial_gradient("L").resize((1240, 1754)).convert("RGB").save(out, "PDF", resolution=150)
    scan = write("scan.pdf", out.getvalue())
    typed = write("typed.pdf", pdf((A4, DARK_BOX + b"\n" + text("Lease agreement"))))

    assert webp_kind(await page_of(in_thread, typed, 0)) == "VP8L"
    assert webp_kind(await page_of(in_thread, scan, 0)) == "VP8 "


@pytest.mark.parametrize(("file_format", "content", "kind"), [
    ("PNG", "drawing", "VP8L"),  # screenshots, diagrams: exact and small
    ("PNG", "noise", "VP8 "),  # a photo saved as PNG: lossless would be larger than lossy, so lossy
    ("JPEG", "drawing", "VP8 "),
])
async def test_a_picture_is_encoded_the_smaller_sensible_way(write, in_thread, file_format, content, kind):
    picture = Image.new("RGB", (1000, 800), "white")
    if content == "noise":
        picture = Image.effect_noise((1000, 800), 80).convert("RGB")
    ImageDraw.Draw(picture).rectangle((100, 100, 400, 300), fill="navy")
    out = io.BytesIO()
    picture.save(out, file_format)

    assert webp_kind(await picture_of(in_thread, write(f"picture.{file_format.lower()}", out.getvalue()))) == kind


# ---- the watermark --------------------------------------------------------------------------------------------


async def test_the_watermark_is_drawn_over_the_whole_page(write, in_thread):
    path = write("blank.pdf", pdf((A4, b"")))

    page = decoded(await page_of(in_thread, path, 0))

    plain = unwatermarked_page(path, page.size)
    assert ImageStat.Stat(plain.convert("L")).extrema[0] == (255, 255)  # the page itself is blank
    for quarter, plain_quarter in zip(quadrants(page), quadrants(plain), strict=True):
        assert share_of_changed_pixels(quarter, plain_quarter) > 0.01


@pytest.mark.parametrize("colour", ["white", "black"])
async def test_the_watermark_is_drawn_over_the_whole_picture_light_or_dark(write, in_thread, colour):
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), colour).save(out, "PNG")

    picture = decoded(await picture_of(in_thread, write("plain.png", out.getvalue())))

    plain = Image.new("RGB", picture.size, colour)
    for quarter, plain_quarter in zip(quadrants(picture), quadrants(plain), strict=True):
        assert share_of_changed_pixels(quarter, plain_quarter) > 0.01


async def test_the_watermark_is_more_than_compression_noise_and_leaves_the_content_legible(write, in_thread):
    path = write("page.pdf", pdf((A4, DARK_BOX + b"\n" + text("Lease agreement"))))

    page = decoded(await page_of(in_thread, path, 0))

    plain = unwatermarked_page(path, page.size)
    plain_through_the_encoder = decoded(previews._encode_webp(plain, lossless=False))
    assert share_of_changed_pixels(plain_through_the_encoder, plain) < 0.001
    assert share_of_changed_pixels(page, plain) > 0.02
    scale = page.width / A4[0]
    box = (round(110 * scale), page.height - round(490 * scale), round(290 * scale), page.height - round(310 * scale))
    assert ImageStat.Stat(page.crop(box).convert("L")).mean[0] < 90  # the black square is still black-ish


async def test_the_watermark_draws_the_recipients_email_and_the_time(write, in_thread, monkeypatch):
    """No OCR here: Pillow's own text drawing is watched, and a different address must change the pixels."""
    drawn: list[str] = []
    draw_text = ImageDraw.ImageDraw.text

    def watched(self, xy, text, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        drawn.append(text)
        return draw_text(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", watched)
    path = write("blank.pdf", pdf((A4, b"")))

    first = await page_of(in_thread, path, 0)
    again = await page_of(in_thread, path, 0)
    other = watermark_text("bob@other.example", datetime(2025, 3, 4, 10, 15, tzinfo=UTC))
    someone_else = await page_of(in_thread, path, 0, other)

    assert drawn and set(drawn) == {WATERMARK, other}
    assert "ana.garcia@cliente.example" in WATERMARK and "2025-03-04 10:15 UTC" in WATERMARK
    assert first == again and first != someone_else


def test_the_watermark_text_names_the_recipient_and_the_time_in_utc():
    madrid = timezone(timedelta(hours=1))
    assert watermark_text("ana@cliente.example", datetime(2025, 3, 4, 11, 15, 59, tzinfo=madrid)) == \
        "ana@cliente.example · 2025-03-04 10:15 UTC"
    assert watermark_text("ana@cliente.example\n\x1b[31m", datetime(2025, 3, 4, tzinfo=UTC)).startswith(
        "ana@cliente.example[31m · ")
    assert watermark_text("ana@españa.example", datetime(2025, 3, 4, tzinfo=UTC)).startswith(
        "ana@xn--espaa-rta.example · ")  # the font has ASCII only
    assert "\u202e" not in watermark_text("ana@cliente.example\u202e", datetime(2025, 3, 4, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        watermark_text("ana@cliente.example", datetime(2025, 3, 4))


async def test_a_view_only_preview_is_never_rendered_without_a_watermark(write, in_thread):
    path = write("page.pdf", pdf((A4, b"")))
    with pytest.raises(ValueError, match="always watermarked"):
        await page_of(in_thread, path, 0, " ")


# ---- pages and limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_index", [2, 3, -1])
async def test_a_page_beyond_the_document_is_refused(write, in_thread, page_index):
    path = write("two.pdf", pdf((A4, b""), (A4, b"")))
    with pytest.raises(NoSuchPage, match="the document has 2 pages") as refused:
        await page_of(in_thread, path, page_index)
    assert refused.value.status_code == 404


async def test_pages_beyond_the_cap_are_counted_but_not_rendered(write):
    renderer = PreviewRenderer(PreviewLimits(max_pages=2), isolated=False)
    path = write("three.pdf", pdf((A4, b""), (A4, b""), (A4, b"")))

    assert await renderer.page_count(path) == 3
    await page_of(renderer, path, 1)
    with pytest.raises(NoSuchPage, match="only the first 2 pages"):
        await page_of(renderer, path, 2)


async def test_a_few_pages_at_once_come_back_in_order_and_stop_at_the_end(write, tmp_path):
    """One child renders them all, into files the folder only ever holds whole; each image is the one the page on
    its own would get."""
    renderer = PreviewRenderer()
    path = write("three.pdf", pdf(*[(A4, text(f"Page {number}")) for number in (1, 2, 3)]))
    into = tmp_path / "rendered"
    into.mkdir()

    pages = await renderer.render_pdf_pages(path, 1, 5, watermark=WATERMARK, into=into)

    assert pages == [page_file(into, 1), page_file(into, 2)] and sorted(os.listdir(into)) == [
        "page-00002.webp", "page-00003.webp"]
    assert [page.read_bytes() for page in pages] == [await page_of(renderer, path, index) for index in (1, 2)]
    assert pages[0].read_bytes() != pages[1].read_bytes()


async def test_a_few_pages_at_once_stop_at_the_cap_and_are_bounded_in_number(write, tmp_path):
    renderer = PreviewRenderer(PreviewLimits(max_pages=2, max_pages_per_call=4), isolated=False)
    path = write("three.pdf", pdf((A4, b""), (A4, b""), (A4, b"")))

    assert len(await renderer.render_pdf_pages(path, 0, 4, watermark=WATERMARK, into=tmp_path)) == 2
    with pytest.raises(ValueError, match="between 1 and 4 pages"):
        await renderer.render_pdf_pages(path, 0, 5, watermark=WATERMARK, into=tmp_path)
    with pytest.raises(ValueError, match="is not a folder"):
        await renderer.render_pdf_pages(path, 0, 1, watermark=WATERMARK, into=tmp_path / "missing")


async def test_a_rotated_page_is_shown_as_it_is_meant_to_be_read(write, in_thread):
    rotated = pdf((A4, text("Landscape"))).replace(b"/Type /Page /Parent", b"/Type /Page /Rotate 90 /Parent")

    page = decoded(await page_of(in_thread, write("rotated.pdf", rotated), 0))

    assert page.size == (1400, math.ceil(1400 * 595 / 842))


@pytest.mark.parametrize("size", [(14_400, 14_400), (595, 14_400), (14_400, 200), (3, 14_400)],
                         ids=["huge", "tall", "wide", "needle"])
async def test_an_outsized_page_is_scaled_into_the_pixel_budget(write, in_thread, size):
    path = write("poster.pdf", pdf((size, b"")))

    page = decoded(await page_of(in_thread, path, 0))

    assert page.width <= 1400 and page.width * page.height <= PreviewLimits().max_page_pixels * 1.01
    assert page.height <= 16_383  # WebP's largest
    # The page's proportions, give or take the one pixel each side is rounded by.
    assert abs(page.width * size[1] - page.height * size[0]) <= size[0] + size[1]


# ---- hostile and broken files ---------------------------------------------------------------------------------


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG that says it is ``width`` x ``height`` but holds almost no data: what a decompression bomb starts as."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize(("width", "height", "limits"), [
    (100_000, 100_000, PreviewLimits()),  # beyond Pillow's own bomb limit
    (8_000, 6_000, PreviewLimits()),  # under Pillow's, over ours
    (100, 100, PreviewLimits(max_image_pixels=5_000)),
])
async def test_a_decompression_bomb_is_refused_before_it_is_decoded(write, width, height, limits):
    renderer = PreviewRenderer(limits, isolated=False)
    with pytest.raises(TooLargeToPreview) as refused:
        await picture_of(renderer, write("bomb.png", png_header_claiming(width, height)))
    assert refused.value.status_code == 422


@pytest.mark.parametrize("isolated", [False, True], ids=["thread", "child-process"])
@pytest.mark.parametrize("content", [
    b"%PDF-1.7\n" + bytes(range(256)) * 40,
    b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n%%EOF\n",
    b"",
], ids=["noise", "no-pages", "empty"])
async def test_a_corrupt_pdf_is_a_domain_error(write, isolated, content):
    renderer = PreviewRenderer(isolated=isolated)
    path = write("broken.pdf", content)
    with pytest.raises(UnreadableDocument, match="not a readable PDF") as refused:
        await renderer.page_count(path)
    assert refused.value.status_code == 422
    with pytest.raises(UnreadableDocument):
        await page_of(renderer, path, 0)


@pytest.mark.parametrize(("content", "error"), [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, UnreadableDocument),  # a PNG signature, then garbage
    (png_header_claiming(64, 64), UnreadableDocument),  # a valid header, too little data
    (b"\xff\xd8\xff\xe0" + b"\x00" * 50, UnreadableDocument),  # a JPEG signature, then garbage
    (b"just some text, not a picture", NotPreviewable),
    (pdf((A4, b"")), NotPreviewable),  # PDFs go through render_pdf_page
])
async def test_a_broken_or_unknown_picture_is_a_domain_error(write, in_thread, content, error):
    with pytest.raises(error) as refused:
        await picture_of(in_thread, write("picture", content))
    assert isinstance(refused.value, LoginlessError) and refused.value.status_code in {415, 422}


async def test_a_child_that_runs_out_of_memory_is_a_domain_error(write):
    renderer = PreviewRenderer(PreviewLimits(child_memory_bytes=64 * 1024 * 1024), isolated=True)
    path = write("page.pdf", pdf((A4, text("Page one"))))
    with pytest.raises(UnreadableDocument, match="could not be rendered|more memory"):
        await page_of(renderer, path, 0)


async def test_a_child_past_its_deadline_is_killed_and_is_a_domain_error(write):
    renderer = PreviewRenderer(PreviewLimits(timeout_seconds=0.001), isolated=True)
    path = write("page.pdf", pdf((A4, text("Page one"))))
    with pytest.raises(UnreadableDocument, match="took too long"):
        await page_of(renderer, path, 0)
    assert renderer_children() == []  # killed and reaped, not left running


def renderer_children() -> list[int]:
    """This process's children that are preview renderers, from /proc."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"loginless.documents.previews" in command:
            found.append(int(pid))
    return found


async def test_only_webp_images_leave_the_renderer_whatever_the_child_does(write, tmp_path, monkeypatch):
    """A child taken over by a hostile file could write anything; the original bytes must not get through."""
    original = pdf((A4, text("Page one")))
    path = write("page.pdf", original)
    into = tmp_path / "rendered"
    into.mkdir()
    impostor = tmp_path / "impostor"
    impostor.write_text(f"#!{sys.executable}\n"
                        "import json, pathlib, sys\n"
                        "job = json.loads(sys.stdin.read())\n"
                        "data = open(job['path'], 'rb').read()\n"
                        "pathlib.Path(job['into'], 'page-00001.webp').write_bytes(data)\n"
                        "print(1, end='')\n")
    impostor.chmod(0o700)
    monkeypatch.setattr(sys, "executable", str(impostor))

    with pytest.raises(UnreadableDocument, match="could not be rendered"):
        await PreviewRenderer().render_pdf_page(path, 0, watermark=WATERMARK, into=into)
    assert os.listdir(into) == []


# ---- the API process stays small ------------------------------------------------------------------------------


def test_the_api_process_never_loads_the_renderers_even_after_rendering(tmp_path):
    """pypdfium2 and Pillow cost ~20 MB once imported, and a module is never unloaded: they load only in the child."""
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf((A4, text("Page one"))))
    done = subprocess.run([sys.executable, "-c", f"""
import asyncio, sys
from loginless.documents.previews import PreviewRenderer
loaded = lambda: sorted(m for m in ("PIL", "pypdfium2") if m in sys.modules)
print(loaded())
from pathlib import Path
rendered = PreviewRenderer().render_pdf_page({str(path)!r}, 0, watermark="a@b.example", into=Path({str(tmp_path)!r}))
print(asyncio.run(rendered).read_bytes()[8:12].decode(), loaded())
"""], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "WEBP []"]
