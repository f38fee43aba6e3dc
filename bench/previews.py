"""Benchmark: view-only previews -- what they cost the documents process, the child that renders them, and a guest.

    uv run python bench/previews.py   (from the repo root; needs no running service)

It writes a 50-page text PDF (60 lines of 9 pt per page, no two lines alike), a 50-page PDF of scanned pages (one
JPEG per page) and a 12 MP photo, then measures, each memory figure in a fresh interpreter with the environment the
service runs with (``MALLOC_ARENA_MAX=2``):

- resident memory (VmRSS) of a fresh interpreter that has what the API process has anyway (asyncio, structlog, the
  error hierarchy); after importing ``loginless.documents.previews`` (target: +0, the renderers are lazy); after
  importing pypdfium2 and Pillow as rendering would; after rendering page 1, then 10 pages, in a worker thread
  (``isolated=False``); and of an API-like process that rendered 10 pages through child processes (the default);
- the child's peak resident memory (``ru_maxrss`` of the children) for a text page, a scanned page and the photo;
- seconds per page, median over pages 2-11: wall clock and CPU (the process's own, plus its children's), for
  - bare rendering: pypdfium2 render + WebP encode in-process as the renderer encodes that kind of page (text
    lossless, scans lossy), no watermark -- the baseline;
  - in a worker thread: the same plus the watermark;
  - in a child process: the same plus a fresh interpreter and imports per page (the default);
  - in child processes asked for 5 pages a call (``render_pdf_pages``): the mean per page;
  the ratio bare / ours says what the watermark and the isolation cost (CPU is less moved by neighbours than wall
  clock on a shared machine, though not unmoved);
- bytes per page, median, for the text and the scanned PDF, and for the photo.

Results print as a table; copy them into docs/view-only.md with the date and machine.
"""

from __future__ import annotations

import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAGES = 50
MEASURED_PAGES = 10
BATCH = 5
WATERMARK = "ana.garcia@cliente-ejemplo.es · 2025-03-04 10:15 UTC"
ENVIRONMENT = {**os.environ, "MALLOC_ARENA_MAX": "2"}
WORDS = ("the parties agree that any notice under this agreement shall be given in writing and delivered by hand or "
         "sent by registered post to the address of the receiving party set out above or such other address as may "
         "be notified from time to time payment invoice tenant landlord premises rent deposit term renewal schedule "
         "clause liability indemnity breach remedy court jurisdiction").split()


def write_pdf(path: Path, contents: list[bytes], scan: bytes | None = None) -> None:
    """A PDF of A4 pages with Helvetica as /F1 and, when given, one shared JPEG as /Scan."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    resources = b"/Font << /F1 3 0 R >>"
    if scan is not None:
        from PIL import Image

        width, height = Image.open(io.BytesIO(scan)).size
        objects.append(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                       b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream"
                       % (width, height, len(scan), scan))
        resources += b" /XObject << /Scan %d 0 R >>" % len(objects)
    kids = []
    for content in contents:
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << %s >> /Contents %d 0 R >>"
                       % (resources, len(objects)))
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    path.write_bytes(out.getvalue())


def text_page(number: int) -> bytes:
    rnd = random.Random(number)
    lines = [b"BT /F1 20 Tf 50 790 Td (Page %d of the contract) Tj ET" % number]
    for line in range(60):
        words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(12, 16)))
        lines.append(b"BT /F1 9 Tf 50 %.1f Td (%d.%d %s) Tj ET" % (750 - 11.5 * line, number, line, words.encode()))
    return b"\n".join(lines)


def scanned_page() -> bytes:
    """A 150 dpi A4 scan: grey text lines, paper noise, JPEG."""
    from PIL import Image, ImageDraw

    page = Image.effect_noise((1240, 1754), 12).point(lambda value: 235 + value // 12).convert("RGB")
    draw = ImageDraw.Draw(page)
    rnd = random.Random(0)
    for y in range(120, 1650, 26):
        draw.text((90, y), " ".join(rnd.choice(WORDS) for _ in range(14)), fill=(40, 40, 40))
    out = io.BytesIO()
    page.save(out, "JPEG", quality=75)
    return out.getvalue()


def photo() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    base = Image.effect_mandelbrot((4000, 3000), (-2.2, -1.2, 1.0, 1.2), 60)
    noise = Image.effect_noise((4000, 3000), 30)
    Image.merge("RGB", (base, noise, base.point(lambda value: 255 - value))).save(out, "JPEG", quality=88)
    return out.getvalue()


def in_fresh_interpreter(code: str) -> dict:
    """Runs ``code`` in a new interpreter; it prints one JSON object."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENVIRONMENT, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


RSS = """
import json, resource, sys, tempfile, time
from pathlib import Path
INTO = Path(tempfile.mkdtemp())
def rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS"))
"""


def memory(text_pdf: Path) -> dict:
    thread = in_fresh_interpreter(RSS + f"""
import asyncio, structlog, loginless.shared.errors
seen = {{"fresh (asyncio, structlog, errors)": rss()}}
from loginless.documents.previews import PreviewRenderer
seen["+ import loginless.documents.previews"] = rss()
import pypdfium2, PIL.Image, PIL.ImageDraw, PIL.ImageFont, PIL.ImageCms, PIL.ImageChops
seen["+ import pypdfium2 and Pillow"] = rss()
renderer = PreviewRenderer(isolated=False)
async def render(pages):
    for page in pages:
        await renderer.render_pdf_page({str(text_pdf)!r}, page, watermark={WATERMARK!r}, into=INTO)
asyncio.run(render([0]))
seen["+ 1 page rendered in a thread"] = rss()
asyncio.run(render(range(1, {MEASURED_PAGES})))
seen["+ {MEASURED_PAGES} pages rendered in a thread"] = rss()
print(json.dumps(seen))
""")
    isolated = in_fresh_interpreter(RSS + f"""
import asyncio, structlog, loginless.shared.errors
from loginless.documents.previews import PreviewRenderer
before = rss()
renderer = PreviewRenderer()
async def render(pages):
    for page in pages:
        await renderer.render_pdf_page({str(text_pdf)!r}, page, watermark={WATERMARK!r}, into=INTO)
asyncio.run(render(range({MEASURED_PAGES})))
loaded = sorted(name for name in ("PIL", "pypdfium2") if name in sys.modules)
print(json.dumps({{"before": before, "after": rss(), "loaded": loaded,
                  "child_peak": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}}))
""")
    return {"thread": thread, "isolated": isolated}


def child_peak(operation: str, path: Path) -> float:
    call = (f"renderer.render_pdf_page({str(path)!r}, 0, watermark={WATERMARK!r}, into=INTO)" if operation == "page"
            else f"renderer.render_image({str(path)!r}, watermark={WATERMARK!r}, into=INTO)")
    return in_fresh_interpreter(RSS + f"""
import asyncio
from loginless.documents.previews import PreviewRenderer
renderer = PreviewRenderer()
asyncio.run({call})
print(json.dumps({{"peak": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}}))
""")["peak"]


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bare_render(path: Path, page_index: int, *, lossless: bool) -> bytes:
    """The baseline: the page rendered and encoded as the renderer encodes it, with nothing else."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(path))
    try:
        page = document[page_index]
        bitmap = page.render(scale=1400 / page.get_width(), rev_byteorder=True)
        out = io.BytesIO()
        options = {"lossless": True, "quality": 75, "method": 4} if lossless else {"quality": 70, "method": 2}
        bitmap.to_pil().save(out, "WEBP", **options)
        return out.getvalue()
    finally:
        document.close()


def timings(path: Path, into: Path, *, lossless: bool) -> dict[str, tuple[float, float, int]]:
    """Median wall seconds, CPU seconds and bytes per page, per way of rendering; the ways alternate page by page."""
    import asyncio

    from loginless.documents.previews import PreviewRenderer

    in_thread, in_child = PreviewRenderer(isolated=False), PreviewRenderer()
    ways = {
        "bare (no watermark, in-process)": lambda page: len(bare_render(path, page, lossless=lossless)),
        "in a worker thread": lambda page: asyncio.run(
            in_thread.render_pdf_page(path, page, watermark=WATERMARK, into=into)).stat().st_size,
        "in a child process (default)": lambda page: asyncio.run(
            in_child.render_pdf_page(path, page, watermark=WATERMARK, into=into)).stat().st_size,
    }
    samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name in ways}
    bare_render(path, 0, lossless=lossless)  # imports and warm-up outside the measurement
    for page in range(1, MEASURED_PAGES + 1):
        for name, render in ways.items():
            wall, cpu = time.perf_counter(), cpu_seconds()
            size = render(page)
            samples[name].append((time.perf_counter() - wall, cpu_seconds() - cpu, size))
    results = {name: tuple(statistics.median(sample[i] for sample in taken) for i in range(3))
               for name, taken in samples.items()}
    wall, cpu, sizes = time.perf_counter(), cpu_seconds(), []
    for first in range(1, MEASURED_PAGES + 1, BATCH):
        rendered = asyncio.run(in_child.render_pdf_pages(path, first, BATCH, watermark=WATERMARK, into=into))
        sizes += [page.stat().st_size for page in rendered]
    pages = len(sizes)
    results[f"in a child process, {BATCH} pages a call"] = (
        (time.perf_counter() - wall) / pages, (cpu_seconds() - cpu) / pages, statistics.median(sizes))
    return results


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        text_pdf, scan_pdf, photo_jpg = Path(folder, "text.pdf"), Path(folder, "scan.pdf"), Path(folder, "photo.jpg")
        write_pdf(text_pdf, [text_page(number) for number in range(1, PAGES + 1)])
        write_pdf(scan_pdf, [b"q 595 0 0 842 0 0 cm /Scan Do Q"] * PAGES, scan=scanned_page())
        photo_jpg.write_bytes(photo())
        print(f"inputs: text PDF {text_pdf.stat().st_size // 1024} KB, scanned PDF {scan_pdf.stat().st_size // 1024}"
              f" KB, {PAGES} pages each; photo 4000x3000 JPEG {photo_jpg.stat().st_size // 1024} KB")

        measured = memory(text_pdf)
        print("\nresident memory, MB (fresh interpreter each column)")
        for step, value in measured["thread"].items():
            print(f"  {step:42} {value:7.1f}")
        isolated = measured["isolated"]
        print(f"  API-like process, {MEASURED_PAGES} pages in child processes: {isolated['before']:.1f} -> "
              f"{isolated['after']:.1f} (renderers loaded in it: {isolated['loaded']}); child peak "
              f"{isolated['child_peak']:.1f}")
        for label, operation, path in (("text page", "page", text_pdf), ("scanned page", "page", scan_pdf),
                                       ("12 MP photo", "image", photo_jpg)):
            print(f"  child peak, {label:14} {child_peak(operation, path):7.1f}")

        for label, path, lossless in (("text PDF", text_pdf, True), ("scanned PDF", scan_pdf, False)):
            results = timings(path, Path(folder), lossless=lossless)
            bare_wall, bare_cpu, _ = results["bare (no watermark, in-process)"]
            print(f"\n{label}: per page, median of pages 2-{MEASURED_PAGES + 1}")
            print(f"  {'':34} {'wall s':>7} {'CPU s':>7} {'bytes':>8} {'ratio wall':>11} {'ratio CPU':>10}")
            for name, (wall, cpu, size) in results.items():
                ratios = f"{bare_wall / wall:11.2f} {bare_cpu / cpu:10.2f}"
                print(f"  {name:34} {wall:7.3f} {cpu:7.3f} {round(size):8d} {ratios}")

        import asyncio

        from loginless.documents.previews import PreviewRenderer

        started, cpu = time.perf_counter(), cpu_seconds()
        image = asyncio.run(PreviewRenderer().render_image(photo_jpg, watermark=WATERMARK, into=Path(folder)))
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        print(f"\nphoto: {image.stat().st_size} bytes, {wall:.3f} s wall, {cpu:.3f} s CPU (child process)")
        print(f"\nload average: {os.getloadavg()[0]:.1f}, CPUs: {os.cpu_count()}, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
