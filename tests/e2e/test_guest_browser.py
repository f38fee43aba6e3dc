"""Guests in Chromium on the running stack: the e-mailed URL opened in a browser, through the real gateway (token
swapped for a cookie, the token-free landing, the proxy lane) to the documents pages, and the gateway's own 410 page.

The documents service's browser tests (services/documents/tests/browser) cover its pages in depth behind a
stand-in of the gateway; these take the same journeys through every real part.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from loginless.testkit.browser import (
    CuttableProxy,
    assert_accessible,
    chromium,
    drop_files,
    guest_page,
    patterned_pdf,
)
from loginless.testkit.guests import DocumentsDesk, IssuedLink
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" \
      b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
FIRM = "Demo Firm"  # the development tenant `make run` and the test stack create



@pytest.fixture(scope="module")
async def browser():
    async with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def desk(stack_env, firm):
    return DocumentsDesk(stack_env, firm)


@pytest.fixture
async def page(browser):
    async with guest_page(browser) as opened:
        yield opened


async def enter(page, link: IssuedLink, *, origin: str | None = None) -> str:
    """Open the link's URL as a guest's browser would; return the token-free URL it lands on."""
    url = link.url if origin is None else origin + urlsplit(link.url).path
    opened = await page.goto(url)
    assert opened.status == 200
    await page.wait_for_url(f"**/g/{link.link_id}/")
    assert link.token not in page.url
    return page.url


def staff_documents(stack_env, **filters) -> list[dict]:
    response = httpx.get(f"{stack_env['DOCUMENTS_URL']}/v1/documents", params=filters, timeout=15,
                         headers={"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"})
    assert response.status_code == 200, response.text
    return response.json()["documents"]


async def test_a_shared_pdf_opened_from_its_link_is_previewed_and_downloads_byte_for_byte(
        desk, stack_env, page, browser):
    link = desk.share(PDF, name="Declaración de la renta.pdf")
    landed = await enter(page, link)
    await page.locator("[data-pdf-preview][data-rendered]").wait_for(timeout=30_000)
    await page.get_by_role("heading", name="Declaración de la renta.pdf").wait_for()
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download").click()
    download = await download_info.value
    # The gateway passed the documents service's 303 on unchanged: the bytes came from a presigned S3 URL, with the
    # name S3 was told to send (the signed response-content-disposition).
    assert download.url.startswith(stack_env["S3_ENDPOINT"] + "/") and "X-Amz-Signature=" in download.url
    assert download.suggested_filename == "Declaración de la renta.pdf"
    assert open(await download.path(), "rb").read() == PDF
    assert page.csp_errors == []  # pdf.js and the page run under the gateway's strict policy
    await assert_accessible(browser, landed, cookies=await page.context.cookies())


async def test_a_view_only_share_offers_no_download_and_refuses_one(desk, page):
    link = desk.share(PDF, name="solo-ver.pdf", view_only=True)
    landed = await enter(page, link)
    await page.locator("[data-view-only]").wait_for()
    assert await page.get_by_role("link", name="Download").count() == 0
    refused = await page.goto(landed + "download")
    assert refused.status == 403


async def test_a_revoked_link_shows_the_gateway_410_page_naming_the_firm_even_to_a_guest_inside(
        desk, firm, page, browser):
    link = desk.share(PDF, name="revocado.pdf")
    landed = await enter(page, link)
    firm.revoke(link.link_id)

    async def turned_away() -> bool:  # the revocation reaches the gateway through links.events
        return (await page.goto(landed)).status == 410

    await eventually(turned_away, timeout=10, interval=0.1, message="the 410 page for the guest inside")
    text = await page.locator("main").inner_text()
    assert f"{FIRM} has withdrawn this link" in text
    reopened = await page.goto(link.url)
    assert reopened.status == 410
    await assert_accessible(browser, link.url)


async def test_an_expired_link_shows_the_gateway_410_page_with_the_date_and_the_firm_even_to_a_guest_inside(
        desk, page, browser):
    expires_at = datetime.now(UTC) + timedelta(seconds=8)  # long enough to open it first, under a loaded CI
    link = desk.share(PDF, name="caducado.pdf", expires_at=expires_at.isoformat())
    landed = await enter(page, link)

    async def turned_away() -> bool:
        # No event announces an expiry: the gateway judges it on each request. Right at the boundary documents may
        # judge it first (its own page says the link expired, without the date); a moment later it is the gateway's.
        if (await page.goto(landed)).status != 410:
            return False
        return "This link expired on" in await page.locator("main").inner_text()

    await eventually(turned_away, timeout=30, interval=0.25, message="the gateway's 410 page once the link expired")
    text = await page.locator("main").inner_text()
    assert "This link expired on" in text and FIRM in text
    reopened = await page.goto(link.url)
    assert reopened.status == 410
    await assert_accessible(browser, link.url)


async def test_a_one_time_link_waits_for_the_guests_click_and_is_used_up_by_it(firm, page, browser):
    [link] = firm.issue("request", max_uses=1)
    opened = await page.goto(link.url)  # what a mail scanner also does: it must not use the link up
    assert opened.status == 200
    await page.get_by_role("heading", name="Open your link").wait_for()
    assert "1 more time" in await page.locator("main").inner_text()
    assert firm.status(link.link_id)["uses"] == 0
    await assert_accessible(browser, link.url)
    await page.get_by_role("button", name="Continue").click()
    await page.wait_for_url(f"**/g/{link.link_id}/")
    assert link.token not in page.url
    assert firm.status(link.link_id)["status"] == "used_up"
    assert (await page.goto(link.url)).status == 410


async def test_three_files_dropped_on_the_upload_page_arrive_whole_through_the_gateway(
        desk, stack_env, page, browser):
    link = desk.request_upload(max_file_size=60 * MIB, max_files=3)
    landed = await enter(page, link)
    await page.locator("form[data-ready]").wait_for()
    files = [("small.pdf", 3000), ("medium.pdf", 6 * MIB + 7), ("large.pdf", 50 * MIB)]
    await drop_files(page, files)
    await page.locator("[data-file-row][data-state=done]").nth(2).wait_for(timeout=180_000)
    assert page.csp_errors == []
    arrived = {document["display_name"]: document
               for document in staff_documents(stack_env, upload_request_id=link.resource_id)}
    for name, size in files:
        assert arrived[name]["size"] == size, name
        assert arrived[name]["sha256"] == hashlib.sha256(patterned_pdf(size)).hexdigest(), name
        assert (arrived[name]["source"], arrived[name]["link_id"]) == ("guest", link.link_id)
    await page.get_by_role("link", name=f"See what {FIRM} has received").click()
    assert await page.locator("tr[data-file]").count() == 3
    await assert_accessible(browser, landed, cookies=await page.context.cookies())


async def test_an_upload_cut_off_part_way_through_the_gateway_resumes_where_it_stopped(
        desk, stack_env, page, tmp_path):
    link = desk.request_upload(max_file_size=100 * MIB)
    data = patterned_pdf(40 * MIB)
    path = tmp_path / "escrituras.pdf"
    path.write_bytes(data)
    gateway_port = urlsplit(stack_env["GATEWAY_URL"]).port
    proxy = CuttableProxy(gateway_port).start()  # the guest's flaky connection to the gateway
    try:
        await enter(page, link, origin=proxy.url)
        await page.locator("form[data-ready]").wait_for()
        await page.locator("[data-file-input]").set_input_files(str(path))

        async def two_parts_sent() -> bool:  # 16 MiB sent: at least the first 8 MiB part is stored
            return await page.evaluate("() => document.querySelector('[data-file-row] progress').value >= 40")

        await eventually(two_parts_sent, timeout=120, interval=0.01, message="16 MiB sent")
        proxy.cut()
        await page.locator("[data-status]", has_text="retrying").wait_for(timeout=60_000)
        # What the page asks of the server from now on (bytes on the wire would also count the body of a PATCH
        # answered 423 while the cut one still finishes its last parts).
        tus_requests: list[tuple[str, str | None]] = []
        page.on("request", lambda request: tus_requests.append(
            (request.method, request.headers.get("upload-offset"))) if "/uploads" in request.url else None)
        proxy.restore()
        await page.locator("[data-file-row][data-state=done]").wait_for(timeout=180_000)
        assert "POST" not in [method for method, _ in tus_requests], f"created anew: {tus_requests}"
        patch_offsets = [int(offset) for method, offset in tus_requests if method == "PATCH"]
        assert patch_offsets and min(patch_offsets) > 0, f"restarted, not resumed from what was stored: {tus_requests}"
    finally:
        proxy.stop()
    [document] = staff_documents(stack_env, upload_request_id=link.resource_id)
    assert (document["size"], document["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
