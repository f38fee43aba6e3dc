"""Uploaded PDFs: the facts of a good one, and every kind of hostile or unusable file refused with its reason."""

import hashlib
import io
import time

import pikepdf
import pytest

from loginless.shared.errors import InvalidRequest
from loginless.signing.pdf import HostilePdf, PageBox, inspect_pdf

from ..conftest import blank_pdf, text_pdf

pytestmark = pytest.mark.unit

LIMITS = {"max_pages": 500, "max_size": 20 * 1024 * 1024}


def refusal(data: bytes, **limits: int) -> HostilePdf:
    with pytest.raises(HostilePdf) as refused:
        inspect_pdf(data, **{**LIMITS, **limits})
    return refused.value


def saved(pdf: pikepdf.Pdf, **options) -> bytes:  # noqa: ANN003
    out = io.BytesIO()
    pdf.save(out, **options)
    return out.getvalue()


def with_javascript_open_action(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('hi')"))


def with_javascript_name_tree(pdf: pikepdf.Pdf) -> None:
    script = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pdf.make_stream(b"app.alert(1)")))
    pdf.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(Names=pikepdf.Array(["hello", script])))


def with_javascript_in_a_link(pdf: pikepdf.Pdf) -> None:
    # the action is a direct object inside the annotation, itself direct inside the page's array
    pdf.pages[0].obj.Annots = pikepdf.Array([pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 100, 100],
        A=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("this.print()")))])


def with_page_open_script(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.AA = pikepdf.Dictionary(O=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("1")))


def with_embedded_file(pdf: pikepdf.Pdf) -> None:
    pdf.attachments["invoice.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00", mime_type="application/x-msdownload")


def with_file_attachment_annotation(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment, Rect=[0, 0, 20, 20],
        FS=pikepdf.Dictionary(Type=pikepdf.Name.Filespec, F=pikepdf.String("notes.txt"))))]))


def with_launch_action(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe"))


def with_submit_form_action(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.AA = pikepdf.Dictionary(C=pikepdf.Dictionary(
        S=pikepdf.Name.SubmitForm, F=pikepdf.Dictionary(FS=pikepdf.Name.URL, F=pikepdf.String("https://evil.test"))))


def with_xfa_form(pdf: pikepdf.Pdf) -> None:
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=pdf.make_stream(b"<xdp:xdp/>"))


def test_a_plain_pdf_gives_its_page_count_page_sizes_in_points_and_sha256():
    data = text_pdf([[(72, 720, "one")], [(72, 720, "two")]], size=(612, 792))
    facts = inspect_pdf(data, **LIMITS)
    assert facts.page_count == 2
    assert facts.pages == (PageBox(612, 792), PageBox(612, 792))
    assert facts.sha256 == hashlib.sha256(data).hexdigest()


def test_a_turned_page_is_measured_as_displayed_and_a_crop_box_wins_over_the_media_box():
    def crop_second_page(pdf: pikepdf.Pdf) -> None:
        pdf.pages[1].obj.CropBox = [50, 50, 350, 250]

    facts = inspect_pdf(text_pdf([[], []], size=(595, 842), rotate=90, mutate=crop_second_page), **LIMITS)
    assert facts.pages == (PageBox(842, 595), PageBox(200, 300))


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not-a-pdf"),
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ngarbage without pages or trailer\n", "malformed"),
    (b"%PDF-1.4\n%%EOF\n", "malformed"),
], ids=["zero-bytes", "png", "truncated", "header-only"])
def test_files_that_are_not_usable_pdfs_are_refused_with_their_reason(data, reason):
    assert refusal(data).reason_code == reason


@pytest.mark.parametrize("user_password", ["secret", ""], ids=["user-password", "empty-user-password"])
def test_an_encrypted_pdf_is_refused_even_when_it_opens_without_a_password(user_password):
    with pikepdf.open(io.BytesIO(text_pdf())) as pdf:
        data = saved(pdf, encryption=pikepdf.Encryption(user=user_password, owner="owner", R=6))
    assert refusal(data).reason_code == "encrypted"


@pytest.mark.parametrize(("mutate", "reason"), [
    (with_javascript_open_action, "javascript"),
    (with_javascript_name_tree, "javascript"),
    (with_javascript_in_a_link, "javascript"),
    (with_page_open_script, "javascript"),
    (with_embedded_file, "embedded-files"),
    (with_file_attachment_annotation, "embedded-files"),
    (with_launch_action, "launch-action"),
    (with_submit_form_action, "submit-form"),
    (with_xfa_form, "xfa-form"),
], ids=lambda value: getattr(value, "__name__", value))
def test_active_or_hidden_content_is_refused_with_its_reason(mutate, reason):
    assert refusal(text_pdf(mutate=mutate)).reason_code == reason


def test_javascript_hidden_in_a_compressed_object_stream_is_found():
    with pikepdf.open(io.BytesIO(text_pdf(mutate=with_javascript_in_a_link))) as pdf:
        data = saved(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    assert b"/JavaScript" not in data  # not visible to a byte search: only parsing finds it
    assert refusal(data).reason_code == "javascript"


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed():
    assert refusal(b"%PDF-" + b"\x00" * 2000, max_size=1000).reason_code == "too-large"


def test_two_thousand_pages_are_refused_over_the_limit_and_counted_quickly_under_it():
    data = blank_pdf(2000)
    started = time.perf_counter()
    refused = refusal(data, max_pages=500)
    assert refused.reason_code == "too-many-pages" and "2000" in refused.detail
    facts = inspect_pdf(data, max_pages=2000, max_size=LIMITS["max_size"])
    assert facts.page_count == 2000 and len(facts.pages) == 2000
    assert time.perf_counter() - started < 5  # about 0.3 s on a CI machine: every object is visited once


def test_a_refusal_is_a_422_problem_that_names_its_reason():
    refused = refusal(text_pdf(mutate=with_launch_action))
    assert isinstance(refused, InvalidRequest) and refused.status_code == 422
    assert refused.extra == {"reason": "launch-action"}
    assert "launches a program" in refused.detail


def test_ordinary_links_and_annotations_are_accepted():
    def with_web_link_and_note(pdf: pikepdf.Pdf) -> None:
        pdf.pages[0].obj.Annots = pikepdf.Array([
            pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10],
                               A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://example.com"))),
            pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text, Rect=[20, 20, 30, 30],
                               Contents=pikepdf.String("a note"))])

    assert inspect_pdf(text_pdf(mutate=with_web_link_and_note), **LIMITS).page_count == 1


def test_a_name_spelled_with_hex_escapes_is_still_recognised():
    # "/J#53" is "/JS" and "/Java#53cript" is "/JavaScript": PDF lets a name's characters be written as #xx
    body = (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction << /S /Java#53cript /J#53 (app.alert(1)) "
            b">> >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
            b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n")
    data = body + b"trailer << /Root 1 0 R /Size 4 >>\n%%EOF\n"  # no xref table: qpdf rebuilds it, as viewers do
    assert b"/JS" not in data and b"/JavaScript" not in data
    assert refusal(data).reason_code == "javascript"
