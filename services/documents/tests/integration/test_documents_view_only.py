"""A view-only share never hands the original bytes to the guest: its pages and pictures are rendered on the
server, watermarked with the recipient and the time, and every guest URL of it is checked here."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from PIL import Image

from loginless.testkit.files import pdf, text

pytestmark = pytest.mark.integration

A4 = (595, 842)
THREE_PAGES = pdf(*((A4, text(f"Confidential page {number}")) for number in (1, 2, 3)))


def a_png() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (800, 600), (20, 90, 140)).save(picture, "PNG", pnginfo=None)
    return picture.getvalue()


async def view_only(client, harness, tenant, content: bytes, name: str, email: str = "banker@example.test"):  # noqa: ANN001, ANN201
    account = (await client.post("/v1/accounts", json={"name": "Ana"}, headers=tenant.headers)).json()
    document = (await client.post("/v1/documents", content=content, headers=tenant.headers,
                                  params={"account_id": account["account_id"], "name": name})).json()
    share = (await client.post(f"/v1/documents/{document['document_id']}/shares", headers=tenant.headers,
                               json={"recipients": [{"email": email}], "view_only": True})).json()
    return harness.guest_headers_for(share["links"][0]["link_id"], email=email)


def guest_urls(page: str) -> list[str]:
    """Every URL under the guest's prefix that the page names, and the ones a guest could guess."""
    named = {url.split("/g/", 1)[1].split("/", 1)[1] for url in re.findall(r'(?:src|href)="(/g/[^"?]+)', page)}
    return sorted({f"/guest/{path}" for path in named} | {"/guest/", "/guest/preview", "/guest/download",
                                                          "/guest/picture", "/guest/pages/1", "/guest/pages/4"})


async def test_no_guest_url_of_a_view_only_pdf_hands_out_the_pdf_or_its_bytes(client, harness, tenant):
    guest = await view_only(client, harness, tenant, THREE_PAGES, "contract.pdf")
    landing = await client.get("/guest/", headers=guest)
    assert landing.status_code == 200 and "data-view-only-pages" in landing.text
    assert landing.text.count('/pages/') == 3 and "pdf.worker" not in landing.text and "/download" not in landing.text

    original = hashlib.sha256(THREE_PAGES).digest()
    for url in guest_urls(landing.text):
        response = await client.get(url, headers=guest)
        body = response.content
        assert not body.startswith(b"%PDF") and b"%PDF" not in body[:1024], url
        assert hashlib.sha256(body).digest() != original and THREE_PAGES not in body, url
    assert (await client.get("/guest/preview", headers=guest)).status_code == 403
    assert (await client.get("/guest/download", headers=guest)).status_code == 403
    assert (await client.get("/guest/pages/4", headers=guest)).status_code == 404

    for number in (1, 2, 3):
        page = await client.get(f"/guest/pages/{number}", headers=guest)
        assert page.status_code == 200 and page.headers["content-type"] == "image/webp"
        assert page.headers["cache-control"] == "no-store" and page.headers["x-content-type-options"] == "nosniff"
        assert Image.open(io.BytesIO(page.content)).format == "WEBP"


async def test_each_recipient_sees_pages_watermarked_for_them(client, harness, tenant):
    first = await view_only(client, harness, tenant, THREE_PAGES, "a.pdf", email="banker@example.test")
    second = await view_only(client, harness, tenant, THREE_PAGES, "b.pdf", email="lawyer@example.test")
    one = Image.open(io.BytesIO((await client.get("/guest/pages/1", headers=first)).content)).convert("L")
    other = Image.open(io.BytesIO((await client.get("/guest/pages/1", headers=second)).content)).convert("L")
    assert one.size == other.size
    differing = sum(1 for a, b in zip(one.tobytes(), other.tobytes(), strict=True) if abs(a - b) > 24)
    assert differing > 500  # the same page, two watermarks: the text drawn across it differs


async def test_a_view_only_picture_is_re_encoded_and_never_the_original(client, harness, tenant):
    picture = a_png()
    guest = await view_only(client, harness, tenant, picture, "passport.png")
    landing = await client.get("/guest/", headers=guest)
    assert f'src="/g/{harness_link(guest)}/picture"' in landing.text and "/preview" not in landing.text
    shown = await client.get("/guest/picture", headers=guest)
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/webp"
    assert shown.content != picture and Image.open(io.BytesIO(shown.content)).size == (800, 600)
    for url in ("/guest/preview", "/guest/download"):
        refused = await client.get(url, headers=guest)
        assert refused.status_code == 403 and refused.content != picture


def harness_link(guest: dict[str, str]) -> str:
    return guest["x-forwarded-prefix"].rsplit("/", 1)[1]


async def test_a_share_that_is_not_view_only_keeps_its_original_preview_and_has_no_rendered_pages(
        client, harness, tenant):
    account = (await client.post("/v1/accounts", json={"name": "Ana"}, headers=tenant.headers)).json()
    document = (await client.post("/v1/documents", content=THREE_PAGES, headers=tenant.headers,
                                  params={"account_id": account["account_id"], "name": "open.pdf"})).json()
    share = (await client.post(f"/v1/documents/{document['document_id']}/shares", headers=tenant.headers,
                               json={"recipients": [{"email": "a@example.test"}]})).json()
    guest = harness.guest_headers_for(share["links"][0]["link_id"])
    assert (await client.get("/guest/preview", headers=guest)).content == THREE_PAGES
    assert (await client.get("/guest/pages/1", headers=guest)).status_code == 404
