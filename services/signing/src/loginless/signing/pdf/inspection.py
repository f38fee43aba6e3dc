"""What an uploaded PDF is, and whether the engine will take it.

Active or hidden content is **refused, never neutralised**: JavaScript (document, page, annotation or form-field
actions, the ``/JavaScript`` name tree), embedded files and file attachments, launch, submit-form and import-data
actions, XFA forms, and any encryption (an empty user password included). Removing such parts would change the
document a sender chose and signers are asked to agree to, without either knowing; a refusal with its reason lets
the sender export a clean file instead, and nothing is stored.

The scan walks every object of the file once, wherever it hangs (a page, an annotation, an unreferenced object), and
reads dictionaries only: no stream is decompressed, so a 2,000-page file is checked in well under a second and in
memory proportional to its object count. qpdf repairs a damaged cross-reference table as any viewer would; a file
it cannot read at all is ``malformed``.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pikepdf

from loginless.signing.pdf.errors import HostilePdf, HostileReason
from loginless.signing.pdf.geometry import page_geometry

PDF_MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024  # viewers accept a header preceded by up to 1 KiB of junk; so does qpdf

# Keys whose mere presence means active or hidden content, wherever they appear.
_FORBIDDEN_KEYS: dict[str, HostileReason] = {
    "/JS": "javascript",
    "/JavaScript": "javascript",
    "/EmbeddedFiles": "embedded-files",
    "/EF": "embedded-files",
    "/XFA": "xfa-form",
}
# Action types (``/S``) and annotation subtypes that run, send or carry something.
_FORBIDDEN_ACTIONS: dict[str, HostileReason] = {
    "/JavaScript": "javascript",
    "/Rendition": "javascript",  # may carry a /JS script of its own
    "/Launch": "launch-action",
    "/SubmitForm": "submit-form",
    "/ImportData": "submit-form",
    "/GoToE": "embedded-files",
}
_FORBIDDEN_SUBTYPES: dict[str, HostileReason] = {
    "/FileAttachment": "embedded-files",
    "/RichMedia": "embedded-files",
    "/Movie": "embedded-files",
    "/Sound": "embedded-files",
    "/Screen": "javascript",
}
_MAX_DEPTH = 32  # nesting of direct objects; deeper is not a document anyone wrote


@dataclass(frozen=True)
class PageBox:
    """A page as displayed, in PDF points (1/72 inch)."""

    width: float
    height: float


@dataclass(frozen=True)
class PdfFacts:
    page_count: int
    pages: tuple[PageBox, ...]
    sha256: str  # hex, of the bytes as uploaded


def inspect_pdf(data: bytes, *, max_pages: int, max_size: int) -> PdfFacts:
    """The facts of an acceptable PDF, or :class:`HostilePdf` naming the first rule it breaks."""
    if not data:
        raise HostilePdf("empty", "the file is empty")
    if len(data) > max_size:
        raise HostilePdf("too-large", f"the file has {len(data)} bytes; at most {max_size} are accepted")
    if PDF_MAGIC not in data[:MAGIC_WINDOW]:
        raise HostilePdf("not-a-pdf", "the file is not a PDF")
    with open_untrusted(data) as pdf:
        if pdf.is_encrypted:
            raise HostilePdf("encrypted", "the PDF is encrypted; upload a copy without a password or restrictions")
        page_count = len(pdf.pages)
        if page_count == 0:
            raise HostilePdf("malformed", "the PDF has no pages")
        if page_count > max_pages:
            raise HostilePdf("too-many-pages", f"the PDF has {page_count} pages; at most {max_pages} are accepted")
        if (found := find_active_content(pdf)) is not None:
            reason, where = found
            raise HostilePdf(reason, f"the PDF contains {_DESCRIPTIONS[reason]} ({where}); export a copy without it")
        try:
            pages = tuple(PageBox(round(g.width, 3), round(g.height, 3))
                          for g in (page_geometry(page) for page in pdf.pages))
        except (ValueError, TypeError, pikepdf.PdfError) as error:
            raise HostilePdf("malformed", f"a page of the PDF cannot be read: {error}") from None
    return PdfFacts(page_count=page_count, pages=pages, sha256=hashlib.sha256(data).hexdigest())


_DESCRIPTIONS: dict[HostileReason, str] = {
    "javascript": "JavaScript",
    "embedded-files": "embedded files or attachments",
    "launch-action": "an action that launches a program",
    "submit-form": "an action that sends or imports form data",
    "xfa-form": "an XFA form",
}


@contextmanager
def open_untrusted(data: bytes) -> Iterator[pikepdf.Pdf]:
    """Opens bytes with qpdf, turning every way it can fail into ``HostilePdf``."""
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise HostilePdf("encrypted", "the PDF is protected by a password") from None
    except (pikepdf.PdfError, ValueError, RuntimeError) as error:
        raise HostilePdf("malformed", f"the PDF cannot be read: {_first_line(error)}") from None
    with pdf:
        yield pdf


def find_active_content(pdf: pikepdf.Pdf) -> tuple[HostileReason, str] | None:
    """The first forbidden construct found in the file and the object it is in, or None."""
    try:
        roots: list[tuple[str, pikepdf.Object]] = [("trailer", pdf.trailer)]
        roots += [(f"object {obj.objgen[0]}", obj) for obj in pdf.objects if obj.objgen != (0, 0)]
        for where, root in roots:
            if not _may_hold_active_content(root):
                continue
            for node in _direct_dictionaries(root):
                if (reason := _forbidden(node)) is not None:
                    return reason, where
    except (pikepdf.PdfError, RuntimeError) as error:
        raise HostilePdf("malformed", f"the PDF cannot be read: {_first_line(error)}") from None
    return None


# Every name the rules below look for. qpdf writes an object out (``unparse``) in C++ with names in one canonical
# spelling, so a search of that text for these finds every object worth walking in Python -- and a few more, whose
# walk then finds nothing. Walking only those makes the check about five times faster on an ordinary file.
_SUSPECT_NAMES = re.compile(rb"/(?:JS|JavaScript|EmbeddedFiles|EF|XFA|Rendition|Launch|SubmitForm|ImportData|GoToE|"
                            rb"FileAttachment|RichMedia|Movie|Sound|Screen)")


def _may_hold_active_content(root: pikepdf.Object) -> bool:
    dictionary = root.stream_dict if isinstance(root, pikepdf.Stream) else root
    return _SUSPECT_NAMES.search(dictionary.unparse(resolved=True)) is not None


def _forbidden(node: pikepdf.Object) -> HostileReason | None:
    for key in node.keys():
        if key in _FORBIDDEN_KEYS:
            return _FORBIDDEN_KEYS[key]
    action = node.get("/S")
    if isinstance(action, pikepdf.Name) and str(action) in _FORBIDDEN_ACTIONS:
        return _FORBIDDEN_ACTIONS[str(action)]
    subtype = node.get("/Subtype")
    if isinstance(subtype, pikepdf.Name) and str(subtype) in _FORBIDDEN_SUBTYPES:
        return _FORBIDDEN_SUBTYPES[str(subtype)]
    return None


def _direct_dictionaries(root: pikepdf.Object) -> Iterator[pikepdf.Object]:
    """``root`` (when a dictionary or stream) and every dictionary nested in it directly, not through references:
    each indirect object is visited as a root of its own, so nothing is walked twice and loops cannot form."""
    stack: list[tuple[pikepdf.Object, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            continue
        if isinstance(node, pikepdf.Dictionary | pikepdf.Stream):
            yield node
            children = node.values()
        elif isinstance(node, pikepdf.Array):
            children = list(node)
        else:
            continue
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, pikepdf.Dictionary | pikepdf.Stream | pikepdf.Array)
                     and not child.is_indirect)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
