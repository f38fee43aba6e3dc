"""The guest pages in Chromium, through the gateway stand-in: preview and download, view-only, the 410 page, drag and
drop with progress, an upload cut off and resumed (connection dropped, page reloaded), keyboard use, a 375-px
phone, and axe-core on every page."""

import hashlib
import json

import httpx
import pytest

from loginless.testkit.browser import assert_accessible, drop_files, guest_page, patterned_pdf
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" \
      b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"



@pytest.fixture
async def staff(stack, harness):
    tenant = harness.new_tenant()
    async with httpx.AsyncClient(base_url=stack.documents.url, headers=tenant.headers, timeout=60) as http:
        http.tenant = tenant
        yield http


async def new_share(staff, body: bytes, *, name: str, view_only: bool = False, **options) -> str:
    account = (await staff.post("/v1/accounts", json={"name": "Ana"})).json()
    document = (await staff.post("/v1/documents", params={"account_id": account["account_id"], "name": name},
                                 content=body)).json()
    share = (await staff.post(f"/v1/documents/{document['document_id']}/shares", json={
        "recipients": [{"email": "banker@example.test"}], "view_only": view_only, **options})).json()
    return share["links"][0]["link_id"]


async def new_upload_request(staff, **limits) -> tuple[dict, str]:
    account = (await staff.post("/v1/accounts", json={"name": "Guests", "kind": "guest"})).json()
    folder = (await staff.post(f"/v1/accounts/{account['account_id']}/folders", json={"name": "In"})).json()
    request = (await staff.post("/v1/upload-requests", json={
        "folder_id": folder["folder_id"], "recipients": [{"email": "banker@example.test"}], **limits})).json()
    return request, request["links"][0]["link_id"]


@pytest.fixture
async def page(browser):
    async with guest_page(browser) as opened:
        yield opened


async def file_uploaded(harness, tenant_id: str, count: int) -> list[dict]:
    async def check():
        events = await harness.events(tenant_id, "FileUploaded")
        return [json.loads(e["data"]) for e in events] if len(events) >= count else None

    return await eventually(check, timeout=120, message=f"{count} FileUploaded event(s)")


async def test_a_pdf_is_previewed_then_downloaded_with_identical_bytes(stack, staff, page, browser):
    link_id = await new_share(staff, PDF, name="Declaración de la renta.pdf")
    async with page.expect_response(lambda r: r.url.endswith("/preview")) as preview_info:
        await page.goto(stack.guest_url(link_id))
    preview = await preview_info.value
    assert preview.status == 200 and preview.headers["content-type"] == "application/pdf"
    assert preview.headers["content-disposition"].startswith("inline;")
    await page.locator("[data-pdf-preview][data-rendered]").wait_for(timeout=30_000)
    assert await page.get_by_role("img", name="Page 1 of 1").count() == 1  # drawn by pdf.js under the strict CSP
    await page.get_by_role("heading", name="Declaración de la renta.pdf").wait_for()
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download").click()
    download = await download_info.value
    assert download.suggested_filename == "Declaración de la renta.pdf"
    assert open(await download.path(), "rb").read() == PDF
    assert page.csp_errors == []
    await assert_accessible(browser, stack.guest_url(link_id))
    await assert_accessible(browser, stack.guest_url(link_id, "/?lang=es"))


async def test_a_share_locked_until_paid_says_so_offers_nothing_and_is_accessible(stack, staff, page, browser):
    link_id = await new_share(staff, PDF, name="Informe anual.pdf", locked_until_paid="inv_" + "c3" * 12)
    await page.goto(stack.guest_url(link_id, "/?lang=es"))
    await page.locator("[data-locked]").wait_for()
    assert "se desbloquea cuando se pague la factura" in await page.locator("main").inner_text()
    assert await page.locator("a[href*='/download'], a[href*='/preview'], [data-pdf-preview], .preview").count() == 0
    assert page.csp_errors == []
    await assert_accessible(browser, stack.guest_url(link_id))
    await assert_accessible(browser, stack.guest_url(link_id, "/?lang=es"))


async def test_a_view_only_share_offers_no_download(stack, staff, page, browser):
    link_id = await new_share(staff, PDF, name="solo-ver.pdf", view_only=True)
    await page.goto(stack.guest_url(link_id))
    await page.locator("[data-view-only]").wait_for()
    assert await page.get_by_role("link", name="Download").count() == 0
    response = await page.goto(stack.guest_url(link_id, "/download"))
    assert response.status == 403
    assert "viewing only" in await page.locator("main").inner_text()
    await assert_accessible(browser, stack.guest_url(link_id))
    await assert_accessible(browser, stack.guest_url(link_id, "/download"))


async def test_an_ended_upload_link_shows_the_410_page(stack, staff, harness, page, browser, later):
    request, link_id = await new_upload_request(staff, expires_in_seconds=600)
    later(minutes=11)  # past the request's deadline
    response = await page.goto(stack.guest_url(link_id))
    assert response.status == 410
    text = await page.locator("main").inner_text()
    assert "deadline" in text and "Demo Firm" in text
    await assert_accessible(browser, stack.guest_url(link_id))


async def test_three_dropped_files_one_of_50_mb_upload_with_progress(stack, staff, harness, page, browser):
    request, link_id = await new_upload_request(staff, max_file_size=60 * MIB, max_files=3)
    await page.goto(stack.guest_url(link_id))
    await page.locator("form[data-ready]").wait_for()
    await page.get_by_label("Your name (optional)").fill("Marta Ruiz")
    files = [("small.pdf", 3000), ("medium.pdf", 6 * MIB + 7), ("large.pdf", 50 * MIB)]
    await drop_files(page, files)
    # Progress is shown while the large file is on its way. (Polled from here: the page's CSP forbids the eval
    # that Playwright's wait_for_function would need.)
    await eventually(lambda: page.evaluate("""() => [...document.querySelectorAll('[data-file-row]')].some(
        row => row.dataset.state === 'uploading' && row.querySelector('progress').value > 0
               && row.querySelector('progress').value < 100)"""), timeout=60, interval=0.01,
        message="a progress bar part-way")
    await page.locator("[data-file-row][data-state=done]").nth(2).wait_for(timeout=120_000)
    uploaded = await file_uploaded(harness, staff.tenant.tenant_id, 3)
    by_name = {event["display_name"]: event for event in uploaded}
    for name, size in files:
        assert by_name[name]["size"] == size
        assert by_name[name]["sha256"] == hashlib.sha256(patterned_pdf(size)).hexdigest(), name
        assert by_name[name]["uploader_name"] == "Marta Ruiz"
    assert page.csp_errors == []
    await page.get_by_role("link", name="See what Demo Firm has received").click()
    await page.get_by_role("heading", name="Files received").wait_for()
    assert await page.locator("tr[data-file]").count() == 3
    await assert_accessible(browser, stack.guest_url(link_id))
    await assert_accessible(browser, stack.guest_url(link_id, "/receipt?lang=es"))


def record_tus_requests(page) -> list[tuple[str, str | None]]:
    """What the page asks of the server from now on: (method, Upload-Offset) of each tus request.

    Bytes on the wire would not tell a resume from a restart: a PATCH that arrives while the dropped one still
    finishes its last part is answered 423 and retried, and the body the service refused has crossed the wire."""
    tus_requests: list[tuple[str, str | None]] = []
    page.on("request", lambda request: tus_requests.append((request.method, request.headers.get("upload-offset")))
            if "/uploads" in request.url else None)
    return tus_requests


def assert_resumed(tus_requests: list[tuple[str, str | None]], stored_offset: int) -> None:
    """Resumed where the server said, never from the start and never as a new upload. (No PATCH at all is right
    too: the dropped request may have finished the file before the page asked.)"""
    assert stored_offset > 0
    assert "POST" not in [method for method, _ in tus_requests], f"created anew: {tus_requests}"
    assert all(int(offset) >= stored_offset for method, offset in tus_requests if method == "PATCH"), \
        f"restarted: {tus_requests}"


async def test_an_upload_cut_off_part_way_resumes_to_completion(stack, staff, harness, page, tmp_path):
    request, link_id = await new_upload_request(staff, max_file_size=100 * MIB)
    data = patterned_pdf(40 * MIB)
    path = tmp_path / "escrituras.pdf"
    path.write_bytes(data)
    schema = harness.settings.schema
    await page.goto(stack.guest_url(link_id))
    await page.locator("form[data-ready]").wait_for()
    await page.locator("[data-file-input]").set_input_files(str(path))

    async def stored_offset():
        return await harness.pool.fetchval(f'SELECT received FROM "{schema}".tus_uploads WHERE link_id = $1', link_id)

    await eventually(stored_offset, timeout=60, message="a first part stored")
    stack.proxy.cut()
    await page.locator("[data-status]", has_text="retrying").wait_for(timeout=60_000)
    offset_when_cut = await stored_offset()
    assert 0 < offset_when_cut < len(data)
    tus_requests = record_tus_requests(page)
    stack.proxy.restore()
    await page.locator("[data-file-row][data-state=done]").wait_for(timeout=120_000)
    assert_resumed(tus_requests, offset_when_cut)
    [event] = await file_uploaded(harness, staff.tenant.tenant_id, 1)
    assert event["sha256"] == hashlib.sha256(data).hexdigest() and event["size"] == len(data)


async def test_an_upload_resumes_after_a_page_reload(stack, staff, harness, page, tmp_path):
    request, link_id = await new_upload_request(staff, max_file_size=100 * MIB)
    data = patterned_pdf(30 * MIB)
    path = tmp_path / "nominas.pdf"
    path.write_bytes(data)
    schema = harness.settings.schema
    await page.goto(stack.guest_url(link_id))
    await page.locator("form[data-ready]").wait_for()
    await page.locator("[data-file-input]").set_input_files(str(path))

    async def stored_offset():
        return await harness.pool.fetchval(f'SELECT received FROM "{schema}".tus_uploads WHERE link_id = $1', link_id)

    await eventually(stored_offset, timeout=60, message="a first part stored")
    await page.reload()  # drops the upload in flight
    offset_before = await stored_offset()
    await page.locator("form[data-ready]").wait_for()
    tus_requests = record_tus_requests(page)
    await page.locator("[data-file-input]").set_input_files(str(path))  # the same file again
    await page.locator("[data-file-row][data-state=done]").wait_for(timeout=120_000)
    assert_resumed(tus_requests, offset_before)
    [event] = await file_uploaded(harness, staff.tenant.tenant_id, 1)
    assert event["sha256"] == hashlib.sha256(data).hexdigest()


async def test_the_upload_page_works_by_keyboard_alone_and_refuses_what_the_server_refuses(stack, staff, harness,
                                                                                         page, tmp_path):
    request, link_id = await new_upload_request(staff, max_file_size=2000)
    program = tmp_path / "invoice.pdf"
    program.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(1000))  # an executable dressed as a PDF
    page.on("filechooser", lambda chooser: None)  # intercept choosers from the start, before any key is pressed
    await page.goto(stack.guest_url(link_id))
    await page.locator("form[data-ready]").wait_for()
    await page.keyboard.press("Tab")  # the skip link comes first
    assert await page.evaluate("document.activeElement.className") == "skip-link"
    for _ in range(20):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.hasAttribute('data-choose')"):
            break
    else:
        raise AssertionError("the file picker cannot be reached with the keyboard")
    async with page.expect_file_chooser() as chooser_info:
        await page.keyboard.press("Enter")
    await (await chooser_info.value).set_files(str(program))
    row = page.locator("[data-file-row]")
    await row.locator(".state.error").wait_for(timeout=30_000)
    assert "not a type of file this link accepts" in await row.inner_text()
    assert await harness.events(staff.tenant.tenant_id, "FileUploaded") == []
