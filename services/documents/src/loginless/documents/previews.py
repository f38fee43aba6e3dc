"""What a view-only guest sees: pages and pictures rendered on the server, watermarked, never the original bytes.

Decisions, and why:

- **PDF pages are rasterised by pypdfium2** (PDFium, the engine in Chrome; Apache-2.0 / BSD-3), not poppler
  (GPL, a system package, driven as ``pdftoppm`` with its output read back from files): pypdfium2 is a binary wheel
  that ``uv sync`` installs everywhere, opens a file by path and reads only what a page needs, runs no document
  JavaScript (we never initialise its form environment), and renders straight into memory we then watermark.
  Pictures are decoded and re-encoded by Pillow, restricted to the formats below.
- **Output is WebP**, which every current browser shows: lossless for text and drawings (a PDF page that is not
  mostly pictures, a PNG or GIF), where it keeps letters exact and is the smallest (a dense page of small print:
  ~220 KB, against ~340 KB lossy, ~580 KB as JPEG, ~1 MB as PNG); lossy (quality 70) for scans and photos, where
  lossless would be 3x larger. A lossless image that still comes out large is re-encoded lossy and the smaller
  kept. A phone's data plan notices. Measured sizes are in ``docs/view-only.md``.
- **1400 px wide at most**: a phone at 3 device pixels per CSS pixel is ~1200 px across, a desktop shows a page at
  ~1000-1400 px; an A4 page at 1400 px is ~170 dpi, sharp enough to read small print.
- **Rendered images are written to files** in a folder the caller owns (a per-share cache) and served from there:
  a batch of pages never sits in the API process's memory.
- **Rendering runs in a child Python process by default**, not in the API process. Importing pypdfium2 and Pillow
  costs a process ~8 MB for good and rendering pages 20-50 MB more, while the documents process has ~1.4 MB of
  headroom under its 100 MB limit during a large upload; a library module can never be unloaded. The child also
  contains a hostile file: it gets an address-space and CPU limit, no core dumps, an empty environment (no S3 or
  database credentials to read), is killed after a deadline, and only WebP images are accepted back from it -- none
  of which a thread can offer. Its start-up costs ~0.2 s of CPU (once bytecode is cached: the child is not run with
  ``-B``, and deployments should ``uv sync --compile-bytecode``), so one child can render several pages.
  In-thread rendering (``isolated=False``) remains for tests and tools; PDFium is not thread-safe, so it is
  serialised there.
- This module imports neither library at import time: it is imported by the API, which must stay small.

Untrusted input is bounded twice: by pixel budgets checked before any pixel is decoded (a page is scaled down to fit
its budget; a picture larger than its budget is refused) and, in the child, by the operating system's limits.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from loginless.documents import filetypes
from loginless.shared.errors import InvalidRequest, LoginlessError, NotFound

# asyncio and structlog are imported where they are used: the API process has them already, and the child process,
# which starts once per preview and runs this module as its main, never needs them (tens of ms of CPU per start).

if TYPE_CHECKING:
    from PIL import Image

MEDIA_TYPE = "image/webp"

PDF_TYPE = "application/pdf"
# Pillow decoders a view-only picture may reach, and their modules. ``Image.open(formats=...)`` tries no other, and
# importing just the one needed spares the child Pillow's ``init()``, which imports every plugin it has.
IMAGE_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP",
                 "image/tiff": "TIFF"}
_PILLOW_PLUGINS = {"PNG": "PngImagePlugin", "JPEG": "JpegImagePlugin", "GIF": "GifImagePlugin",
                   "WEBP": "WebPImagePlugin", "TIFF": "TiffImagePlugin"}

WATERMARK_ANGLE = 30  # degrees: diagonal enough to cross text lines, flat enough to read
WATERMARK_OPACITY = 0.30  # of the dark text; a light halo at the same opacity keeps it visible on dark pictures
WEBP_LOSSY_QUALITY = 70  # scans and photos: small print stays readable; 80 and above mostly buys size
WEBP_LOSSY_EFFORT = 2  # libwebp's "method" (0-6): above 2, ~3 % smaller for about twice the CPU
WEBP_LOSSLESS_EFFORT = 75  # lossless "quality" is effort: 75 is ~20 % smaller than 50 for the same CPU
LOSSLESS_CEILING = 400_000  # bytes: a lossless image larger than this is tried lossy too, and the smaller kept
PICTURE_SHARE_FOR_LOSSY = 0.3  # of a PDF page's area covered by raster images: a scan, or a page of photos
WEBP_MAX_SIDE = 16_383  # pixels: the format cannot say more


@dataclass(frozen=True)
class PreviewLimits:
    """How much work and memory one preview may take. Defaults suit a small service; expose them as settings."""

    max_width: int = 1400  # pixels; see the module docstring
    max_page_pixels: int = 4_000_000  # a rendered page; 1400 x 2857 fits A4, Letter and Legal at full width
    max_image_pixels: int = 40_000_000  # a picture as decoded (after JPEG's cheap reduced-size decoding)
    max_pages: int = 200  # pages of one PDF shown to a guest; the rest are not rendered
    max_pages_per_call: int = 10  # pages one child renders in a row (one start-up shared by all of them)
    timeout_seconds: float = 20.0  # wall clock per page or picture in the child, its start-up included
    child_memory_bytes: int = 1024 * 1024 * 1024  # address space of the child (virtual, not resident)
    concurrency: int = 2  # renders at once per process


# ---- errors a guest can be shown -----------------------------------------------------------------------------


class UnreadableDocument(InvalidRequest):
    """The file is corrupt, protected by a password, or too complex to render in time."""

    problem_type = "unreadable-document"
    title = "This document cannot be previewed"


class TooLargeToPreview(UnreadableDocument):
    """More pixels than a preview may decode: a decompression bomb or simply a gigantic picture."""

    problem_type = "too-large-to-preview"
    title = "This document is too large to preview"


class NoSuchPage(NotFound):
    problem_type = "no-such-page"
    title = "No such page"


class NotPreviewable(LoginlessError):
    status_code = 415
    problem_type = "not-previewable"
    title = "This type of file cannot be previewed"


_ERRORS_BY_NAME: dict[str, type[LoginlessError]] = {
    cls.__name__: cls for cls in (UnreadableDocument, TooLargeToPreview, NoSuchPage, NotPreviewable)}


# ---- the watermark's text -------------------------------------------------------------------------------------


def watermark_text(email: str, moment: datetime) -> str:
    """Who was shown the page, and when: enough to trace a leaked screenshot back to one link.

    The watermark's font (Pillow's built-in one) has ASCII only, so an internationalised domain is written as
    its ASCII form (``xn--...``), which still names the same address; control and format characters (a
    right-to-left override, say) are dropped."""
    if moment.tzinfo is None:
        raise ValueError("the watermark's moment must be timezone-aware")
    printable = "".join(c for c in email if c.isprintable()).strip()[:254]
    local_part, at, domain = printable.rpartition("@")
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii")
    return f"{local_part}{at}{domain} · {moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


# ---- the renderer the service uses ----------------------------------------------------------------------------

_Operation = Literal["count", "pages", "image"]


@dataclass(frozen=True)
class _Job:
    operation: _Operation
    path: str
    limits: PreviewLimits
    into: str = ""
    page_index: int = 0
    page_count: int = 1
    watermark: str = ""

    @property
    def timeout_seconds(self) -> float:
        return self.limits.timeout_seconds * self.page_count


def page_file(into: Path, page_index: int) -> Path:
    """Where page ``page_index`` (from 0) is kept once rendered into the folder ``into``."""
    return into / f"page-{page_index + 1:05d}.webp"


def picture_file(into: Path) -> Path:
    """Where a picture is kept once rendered into the folder ``into``."""
    return into / "picture.webp"


class PreviewRenderer:
    """Renders view-only previews from a local file into files, at most ``limits.concurrency`` at a time.

    The caller downloads the object to a temporary file first (a PDF can be gigabytes and is never held in memory)
    and serves the rendered files from disk: no image passes through the API process's memory either.
    """

    def __init__(self, limits: PreviewLimits | None = None, *, isolated: bool = True) -> None:
        import asyncio

        self.limits = limits or PreviewLimits()
        self.isolated = isolated
        self._slots = asyncio.Semaphore(self.limits.concurrency)

    async def page_count(self, path: Path | str) -> int:
        """All pages of the PDF; only the first ``limits.max_pages`` of them can be rendered."""
        return await self._run(_Job("count", str(path), self.limits))

    async def render_pdf_pages(self, path: Path | str, first_index: int, count: int, *, watermark: str,
                               into: Path) -> list[Path]:
        """Up to ``count`` pages from ``first_index`` (fewer at the end of the document or of ``max_pages``), each a
        watermarked WebP image at :func:`page_file`. A child's start-up costs about as much CPU as a page, so a viewer
        that asks for a few pages at a time (and keeps them) pays it once for all of them."""
        _require_watermark(watermark, into)
        if not 1 <= count <= self.limits.max_pages_per_call:
            raise ValueError(f"between 1 and {self.limits.max_pages_per_call} pages at a time")
        job = _Job("pages", str(path), self.limits, str(into), page_index=first_index, page_count=count,
                   watermark=watermark)
        written = await self._run(job)
        return _checked([page_file(into, first_index + offset) for offset in range(written)], job)

    async def render_pdf_page(self, path: Path | str, page_index: int, *, watermark: str, into: Path) -> Path:
        """Page ``page_index`` (from 0) as a watermarked WebP image at :func:`page_file`."""
        (page,) = await self.render_pdf_pages(path, page_index, 1, watermark=watermark, into=into)
        return page

    async def render_image(self, path: Path | str, *, watermark: str, into: Path) -> Path:
        """The picture (its first frame) re-encoded without metadata as a watermarked WebP image at
        :func:`picture_file`."""
        _require_watermark(watermark, into)
        job = _Job("image", str(path), self.limits, str(into), watermark=watermark)
        await self._run(job)
        (picture,) = _checked([picture_file(into)], job)
        return picture

    async def _run(self, job: _Job) -> int:
        import asyncio

        async with self._slots:
            if self.isolated:
                return await _run_in_child(job)
            return await asyncio.to_thread(_run_job, job)


def _checked(files: list[Path], job: _Job) -> list[Path]:
    """Only WebP images leave the renderer, whatever happened in the child: anything else is deleted."""
    if 1 <= len(files) <= job.page_count and all(_is_webp(file) for file in files):
        return files
    for file in files:
        file.unlink(missing_ok=True)
    _log_render_failure(job, "not-webp", b"")
    raise UnreadableDocument("the document could not be rendered")


def _is_webp(file: Path) -> bool:
    if file.is_symlink() or not file.is_file():
        return False
    with file.open("rb") as opened:
        head = opened.read(12)
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _require_watermark(watermark: str, into: Path) -> None:
    if not watermark.strip():
        raise ValueError("a view-only preview is always watermarked")
    if not into.is_dir():
        raise ValueError(f"{into} is not a folder")


# ---- the child process --------------------------------------------------------------------------------------

_CHILD_ERROR_EXIT = 3


async def _run_in_child(job: _Job) -> int:
    """Runs ``job`` in ``python -m loginless.documents.previews``. The request goes on stdin (an e-mail address
    in the arguments would show in ``ps``); stdout brings back a number (pages, or files written), or a domain error
    as JSON with exit code 3 (stderr stays free for the interpreter's own warnings and tracebacks)."""
    import asyncio

    request = json.dumps({**asdict(job), "limits": asdict(job.limits)}).encode()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-m", __name__,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"LC_ALL": "C.UTF-8"})
    try:
        output, diagnostics = await asyncio.wait_for(child.communicate(request), job.timeout_seconds)
    except TimeoutError:
        _log_render_failure(job, "timeout", b"")
        raise UnreadableDocument("the document took too long to render") from None
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    if child.returncode == 0 and output.isdigit() and len(output) <= 9:
        return int(output)
    if child.returncode == _CHILD_ERROR_EXIT:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            reported = json.loads(output)
            raise _ERRORS_BY_NAME[reported["error"]](str(reported["detail"]))
    # Killed by a resource limit, a crash inside a decoder, or an answer that is not one: the file, not the request,
    # is at fault.
    _log_render_failure(job, child.returncode, diagnostics)
    raise UnreadableDocument("the document could not be rendered")


def _log_render_failure(job: _Job, outcome: int | str | None, diagnostics: bytes) -> None:
    """The last line a child printed (an exception's name and message) tells a crash from a limit; the watermark,
    which holds the guest's e-mail address, is not logged."""
    import structlog

    last_line = diagnostics.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    structlog.get_logger(__name__).warning("preview render failed", operation=job.operation, outcome=outcome,
                                           page_index=job.page_index, last_line=last_line[0][:300])


def _child_main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    limits = PreviewLimits(**request.pop("limits"))
    # Before any decoder is loaded: a hostile file meets these limits, not the machine's.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dump holding a client's document
    resource.setrlimit(resource.RLIMIT_AS, (limits.child_memory_bytes, limits.child_memory_bytes))
    job = _Job(**request, limits=limits)
    cpu_seconds = math.ceil(job.timeout_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    try:
        answer = _run_job(job)
    except MemoryError:
        _report(TooLargeToPreview("rendering needed more memory than a preview may use"))
    except (UnreadableDocument, NoSuchPage, NotPreviewable) as error:
        _report(error)
    else:
        sys.stdout.write(str(answer))
        sys.stdout.flush()


def _report(error: LoginlessError) -> None:
    sys.stdout.write(json.dumps({"error": type(error).__name__, "detail": error.detail}))
    sys.stdout.flush()
    os._exit(_CHILD_ERROR_EXIT)


# ---- rendering, in whichever process or thread runs it --------------------------------------------------------

# PDFium keeps global state and is not thread-safe: one call at a time per process, even on different documents.
_PDFIUM = threading.Lock()


def _run_job(job: _Job) -> int:
    """The page count, or how many files were written."""
    if job.operation == "count":
        return _count_pages(job.path)
    into = Path(job.into)
    if job.operation == "pages":
        return _render_pdf_pages(job.path, job.page_index, job.page_count, job.watermark, job.limits, into)
    _write_atomically(picture_file(into), _render_image(job.path, job.watermark, job.limits))
    return 1


def _write_atomically(file: Path, data: bytes) -> None:
    """Whoever serves the folder sees a whole image or none."""
    partial = file.with_name(f".{file.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.write_bytes(data)
    partial.replace(file)


def _open_pdf(path: str) -> Any:
    import pypdfium2

    try:
        return pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError as error:
        if error.err_code == pypdfium2.raw.FPDF_ERR_PASSWORD:
            raise UnreadableDocument("the PDF is protected by a password") from None
        raise UnreadableDocument("the file is not a readable PDF") from None


def _count_pages(path: str) -> int:
    with _PDFIUM:
        document = _open_pdf(path)
        try:
            return len(document)
        finally:
            document.close()


def _render_pdf_pages(path: str, first_index: int, count: int, watermark: str, limits: PreviewLimits,
                      into: Path) -> int:
    """One page at a time in memory; PDFium's lock is let go while a page is watermarked and encoded."""
    with _PDFIUM:
        document = _open_pdf(path)
    try:
        with _PDFIUM:
            page_total = len(document)
        if not 0 <= first_index < page_total:
            raise NoSuchPage(f"the document has {page_total} pages")
        if first_index >= limits.max_pages:
            raise NoSuchPage(f"only the first {limits.max_pages} pages are previewed")
        wanted = range(first_index, min(first_index + count, page_total, limits.max_pages))
        for page_index in wanted:
            with _PDFIUM:
                page_image, mostly_pictures = _rasterise_pdf_page(document, page_index, limits)
            _draw_watermark(page_image, watermark)
            _write_atomically(page_file(into, page_index), _encode_webp(page_image, lossless=not mostly_pictures))
        return len(wanted)
    finally:
        with _PDFIUM:
            document.close()


def _rasterise_pdf_page(document: Any, page_index: int, limits: PreviewLimits) -> tuple[Image.Image, bool]:
    """The page as an RGB image at most ``max_width`` wide and ``max_page_pixels`` in area (an odd, very tall or very
    large page is scaled down to fit rather than refused), and whether it is mostly raster pictures."""
    import pypdfium2

    try:
        page = document[page_index]
    except pypdfium2.PdfiumError:
        raise UnreadableDocument(f"page {page_index + 1} cannot be read") from None
    try:
        width, height = page.get_size()
        if not (width > 0 and height > 0 and math.isfinite(width * height)):
            raise UnreadableDocument(f"page {page_index + 1} has no size")
        scale = min(limits.max_width / width, WEBP_MAX_SIDE / height,
                    math.sqrt(limits.max_page_pixels / (width * height)))
        bitmap = page.render(scale=scale, rev_byteorder=True)
        try:
            rendered = bitmap.to_pil()
            # An RGB bitmap is copied into Pillow; other layouts would share PDFium's memory, so convert.
            rendered = rendered if rendered.mode == "RGB" else rendered.convert("RGB")
        finally:
            bitmap.close()
        return rendered, _mostly_pictures(page, width * height)
    except pypdfium2.PdfiumError:
        raise UnreadableDocument(f"page {page_index + 1} cannot be rendered") from None
    finally:
        page.close()


def _mostly_pictures(page: Any, page_area: float) -> bool:
    """Whether raster images cover a good part of the page, by their bounds (overlaps counted twice: a guess that
    only picks an encoding)."""
    import pypdfium2

    covered = 0.0
    for image in page.get_objects(filter=[pypdfium2.raw.FPDF_PAGEOBJ_IMAGE], max_depth=4):
        left, bottom, right, top = image.get_bounds()
        covered += min(page_area, max(0.0, right - left) * max(0.0, top - bottom))
        if covered >= PICTURE_SHARE_FOR_LOSSY * page_area:
            return True
    return False


# What an EXIF orientation asks for to stand upright (the table of ``ImageOps.exif_transpose``), applied once the
# picture is shrunk, so its full-size pixels are never copied.
_UPRIGHT = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
            7: "TRANSVERSE", 8: "ROTATE_90"}


def _render_image(path: str, watermark: str, limits: PreviewLimits) -> bytes:
    import importlib

    from PIL import ExifTags, Image

    with open(path, "rb") as file:
        sniffed = filetypes.sniff(file.read(filetypes.SNIFF_BYTES)).mime
    if sniffed not in IMAGE_FORMATS:
        raise NotPreviewable("only PNG, JPEG, GIF, WebP and TIFF pictures can be previewed")
    pillow_format = IMAGE_FORMATS[sniffed]
    importlib.import_module(f"PIL.{_PILLOW_PLUGINS[pillow_format]}")
    try:
        # Only the decoder its first bytes name: a file never reaches Pillow's rarer, less tested plugins.
        with Image.open(path, formats=[pillow_format]) as original:
            # The orientation is not known yet: reading a PNG's EXIF decodes the whole picture, so that waits until
            # its size has been checked. JPEG decodes at 1/2, 1/4 or 1/8 of its size for free when asked for a size
            # (the other formats ignore it): ask for what either orientation could need.
            either = [_upright_bound(original.size, limits, sideways=sideways) for sideways in (False, True)]
            original.draft("RGB", (max(size[0] for size in either), max(size[1] for size in either)))
            if original.width * original.height > limits.max_image_pixels:
                raise TooLargeToPreview(f"the picture has more than {limits.max_image_pixels} pixels")
            orientation = original.getexif().get(ExifTags.Base.Orientation, 1)
            bounded = _upright_bound(original.size, limits, sideways=orientation in {5, 6, 7, 8})
            picture = original
            if picture.mode not in {"RGB", "RGBA", "L", "LA", "CMYK"}:  # palettes, bilevel, 16-bit: resampled badly
                picture = picture.convert("RGBA" if picture.has_transparency_data else "RGB")
            picture.thumbnail(bounded, Image.Resampling.LANCZOS)  # decodes the first frame only
            if orientation in _UPRIGHT:
                picture = picture.transpose(Image.Transpose[_UPRIGHT[orientation]])
            picture = _in_srgb_on_white(picture, original.info.get("icc_profile"))
    except Image.DecompressionBombError:
        raise TooLargeToPreview(f"the picture has more than {limits.max_image_pixels} pixels") from None
    except (LoginlessError, MemoryError):
        raise
    except Exception:  # noqa: BLE001 -- whatever a decoder raises on a hostile file, the file is unreadable
        raise UnreadableDocument("the picture is damaged") from None
    _draw_watermark(picture, watermark)
    return _encode_webp(picture, lossless=pillow_format in {"PNG", "GIF"})  # screenshots, drawings, logos


def _upright_bound(size: tuple[int, int], limits: PreviewLimits, *, sideways: bool) -> tuple[int, int]:
    """The size, as stored, to shrink a picture to so that it fits the bounds once turned upright."""
    return _bounded_size(size[::-1], limits)[::-1] if sideways else _bounded_size(size, limits)


def _bounded_size(size: tuple[int, int], limits: PreviewLimits) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, limits.max_width / width, WEBP_MAX_SIDE / height,
                math.sqrt(limits.max_page_pixels / (width * height)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _in_srgb_on_white(picture: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """An RGB copy holding pixels only: colours converted to sRGB (browsers assume sRGB once the profile is gone),
    transparency flattened onto white, no ``info`` (EXIF, XMP, comments) carried over."""
    import io

    from PIL import Image, ImageCms

    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            target_mode = "RGBA" if picture.mode in {"RGBA", "LA"} else "RGB"
            picture = ImageCms.profileToProfile(picture, source, ImageCms.createProfile("sRGB"),
                                                outputMode=target_mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken or unusual profile: show the pixels as they are
    if picture.mode in {"RGBA", "LA"}:
        white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(white, picture.convert("RGBA"))
    flattened = picture.convert("RGB")  # always a new image
    flattened.info.clear()
    return flattened


# ---- the watermark ----------------------------------------------------------------------------------------------


def _draw_watermark(picture: Image.Image, text: str) -> None:
    """Tiles ``text`` over the whole picture, in place, along parallel diagonal lines: dark letters with a light
    halo, both translucent, so it reads on white pages and dark photos alike and the content stays legible."""
    from PIL import Image, ImageChops, ImageDraw, ImageFont

    font_size = max(12, min(40, round(picture.width / 42)))
    font = ImageFont.load_default(size=font_size)
    left, top, right, bottom = font.getbbox(text)
    halo_width = max(1, font_size // 12)
    margin = 2 * halo_width
    letters = Image.new("L", (right - left + 2 * margin, bottom - top + 2 * margin), 0)
    halo = letters.copy()
    origin = (margin - left, margin - top)
    ImageDraw.Draw(halo).text(origin, text, font=font, fill=255, stroke_width=halo_width, stroke_fill=255)
    ImageDraw.Draw(letters).text(origin, text, font=font, fill=255)
    text_length = letters.width

    # One translucent tile per copy: dark where the letters are, white in the halo around them.
    opacity = ImageChops.lighter(halo, letters).point(lambda value: round(value * WATERMARK_OPACITY))
    colour = Image.composite(Image.new("L", letters.size, 40), Image.new("L", letters.size, 255), letters)
    tile = Image.merge("RGBA", (colour, colour, colour, opacity))
    tile = tile.rotate(WATERMARK_ANGLE, resample=Image.Resampling.BICUBIC, expand=True)
    tile_rgb, tile_alpha = tile.convert("RGB"), tile.getchannel("A")

    # Copies end to end along each line; lines spaced apart across it; every other line shifted by half a copy.
    angle = math.radians(WATERMARK_ANGLE)
    along = (math.cos(angle), -math.sin(angle))  # the text's direction once rotated (y grows downwards)
    across = (math.sin(angle), math.cos(angle))
    step_along, step_across = text_length + 3 * font_size, 6 * font_size
    corners = [(0, 0), (picture.width, 0), (0, picture.height), (picture.width, picture.height)]
    reach_along = [x * along[0] + y * along[1] for x, y in corners]
    reach_across = [x * across[0] + y * across[1] for x, y in corners]
    for line in range(math.floor(min(reach_across) / step_across) - 1, math.ceil(max(reach_across) / step_across) + 2):
        shift = (line % 2) * step_along / 2
        first = math.floor((min(reach_along) - shift) / step_along) - 1
        last = math.ceil((max(reach_along) - shift) / step_along) + 1
        for copy in range(first, last + 1):
            distance_along, distance_across = copy * step_along + shift, line * step_across
            centre_x = distance_along * along[0] + distance_across * across[0]
            centre_y = distance_along * along[1] + distance_across * across[1]
            box = (round(centre_x - tile.width / 2), round(centre_y - tile.height / 2))
            if box[0] < picture.width and box[1] < picture.height and box[0] + tile.width > 0 \
                    and box[1] + tile.height > 0:
                picture.paste(tile_rgb, box, tile_alpha)


def _encode_webp(picture: Image.Image, *, lossless: bool) -> bytes:
    """Pixels only: Pillow's WebP encoder writes EXIF, XMP or an ICC profile only when asked, and we never ask."""
    import io

    from PIL import WebPImagePlugin  # noqa: F401 -- registers the encoder without Pillow's import-everything init()

    def encoded(**options: Any) -> bytes:
        out = io.BytesIO()
        picture.save(out, "WEBP", **options)
        return out.getvalue()

    lossy_options = {"quality": WEBP_LOSSY_QUALITY, "method": WEBP_LOSSY_EFFORT}
    if not lossless:
        return encoded(**lossy_options)
    exact = encoded(lossless=True, quality=WEBP_LOSSLESS_EFFORT, method=4)
    if len(exact) <= LOSSLESS_CEILING:
        return exact
    return min(exact, encoded(**lossy_options), key=len)


if __name__ == "__main__":
    _child_main()


# ---- what a view-only guest is served: the rendered files, kept a few minutes ---------------------------------


class ViewOnlyPreviews:
    """Rendered pages and pictures of view-only shares, one folder per link and document on local disk.

    The first request for a document downloads it to its folder (in chunks, never whole in memory) and renders
    what is asked, a few pages per child process; later requests are served from the files. The watermark names
    the link's recipient and the time the folder was made. A folder untouched for ``keep_seconds`` is deleted;
    every replica keeps its own (nothing here is shared state: any replica can render any page again).
    """

    PAGES_PER_RENDER = 5  # a child's start-up costs about a page's CPU: a viewer scrolling on gets several at once

    def __init__(self, renderer: PreviewRenderer, directory: Path, *, keep_seconds: float) -> None:
        import asyncio
        import weakref

        self.renderer = renderer
        self.directory = directory
        self.keep_seconds = keep_seconds
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._swept_at = 0.0

    async def page_count(self, key: str, fetch: Fetch, watermark: str) -> int:
        """How many pages the guest may see (all of them, up to ``max_pages``), and the total."""
        folder = await self._folder(key, fetch, watermark)
        counted = folder / "pages.json"
        if not counted.exists():
            async with self._lock(key):
                if not counted.exists():
                    _write_atomically(counted, json.dumps(await self.renderer.page_count(folder / "original"))
                                      .encode())
        return json.loads(counted.read_bytes())

    async def page(self, key: str, number: int, fetch: Fetch, watermark: str) -> Path:
        """Page ``number`` (from 1) as a WebP file."""
        total = await self.page_count(key, fetch, watermark)
        if not 1 <= number <= min(total, self.renderer.limits.max_pages):
            raise NoSuchPage(f"the document has no page {number} to show", pages=total)
        folder = self.directory / key
        wanted = page_file(folder, number - 1)
        if not wanted.exists():
            async with self._lock(key):
                if not wanted.exists():
                    first = (number - 1) // self.PAGES_PER_RENDER * self.PAGES_PER_RENDER
                    count = min(self.PAGES_PER_RENDER, self.renderer.limits.max_pages - first, total - first)
                    await self.renderer.render_pdf_pages(folder / "original", first, count,
                                                         watermark=self._watermark_of(folder), into=folder)
        return wanted

    async def picture(self, key: str, fetch: Fetch, watermark: str) -> Path:
        folder = await self._folder(key, fetch, watermark)
        wanted = picture_file(folder)
        if not wanted.exists():
            async with self._lock(key):
                if not wanted.exists():
                    await self.renderer.render_image(folder / "original", watermark=self._watermark_of(folder),
                                                     into=folder)
        return wanted

    async def _folder(self, key: str, fetch: Fetch, watermark: str) -> Path:
        self._sweep()
        folder = self.directory / key
        original = folder / "original"
        if not original.exists():
            async with self._lock(key):
                if not original.exists():
                    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                    _write_atomically(folder / "watermark.txt", watermark.encode())
                    partial = folder / "original.partial"
                    await fetch(partial)
                    partial.rename(original)
        os.utime(folder)  # in use: the sweep keeps it
        return folder

    @staticmethod
    def _watermark_of(folder: Path) -> str:
        return (folder / "watermark.txt").read_text()

    def _lock(self, key: str):  # noqa: ANN202
        import asyncio

        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _sweep(self) -> None:
        """Delete folders untouched for ``keep_seconds`` (at most once a minute: it lists the directory)."""
        import shutil
        import time

        now = time.time()
        if now - self._swept_at < 60 or not self.directory.exists():
            return
        self._swept_at = now
        for folder in self.directory.glob("*/*"):
            in_use = self._locks.get(f"{folder.parent.name}/{folder.name}") is not None
            if not in_use and now - folder.stat().st_mtime > self.keep_seconds:
                shutil.rmtree(folder, ignore_errors=True)


Fetch = Callable[[Path], Awaitable[None]]  # writes the document's original bytes to the path it is given
