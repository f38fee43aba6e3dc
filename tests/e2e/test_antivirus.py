"""The antivirus on the running stack: a guest uploads the EICAR test file through the gateway; the documents
service, scanning with the stack's clamd, refuses it -- the guest hears which file and why, in the API's answer and
on the upload page in Chromium, beside a clean file that arrives -- and the firm finds no refused file in its
upload request."""

from __future__ import annotations

import base64

import httpx
import pytest

from loginless.testkit.browser import chromium, guest_page
from loginless.testkit.guests import DocumentsDesk, Guest

pytestmark = pytest.mark.e2e

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
TUS = {"Tus-Resumable": "1.0.0"}


def test_the_eicar_test_file_uploaded_through_the_gateway_is_refused(stack_env, firm):
    desk = DocumentsDesk(stack_env, firm)
    link = desk.request_upload()
    guest = Guest(stack_env["GATEWAY_URL"])
    link_id, page = guest.enter(link.url)
    assert page.status_code == 200
    name = base64.b64encode(b"invoice-scan.txt").decode()
    created = guest.http.post(f"/g/{link_id}/uploads", headers={
        **TUS, "Upload-Length": str(len(EICAR)), "Upload-Metadata": f"filename {name}"}, follow_redirects=False)
    assert created.status_code == 201, created.text
    refused = guest.http.patch(httpx.URL(created.headers["location"]).path, content=EICAR, headers={
        **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/rejected-by-scan")
    assert "invoice-scan.txt" in problem["detail"] and "EICAR" in problem["detail"]
    request = desk.http.get(f"/v1/upload-requests/{link.resource_id}").json()
    assert request["files"] == []


async def test_the_upload_page_says_which_file_the_antivirus_refused_and_takes_the_clean_one(stack_env, firm):
    desk = DocumentsDesk(stack_env, firm)
    link = desk.request_upload()
    async with chromium() as browser, guest_page(browser) as page:
        assert (await page.goto(link.url)).status == 200
        await page.wait_for_url(f"**/g/{link.link_id}/")
        await page.locator("form[data-ready]").wait_for()
        await page.evaluate("""(eicar) => {
            const transfer = new DataTransfer()
            transfer.items.add(new File([eicar], 'eicar.txt', {type: 'text/plain'}))
            transfer.items.add(new File(['%PDF-1.7\\nclean\\n'], 'clean.pdf', {type: 'application/pdf'}))
            const zone = document.querySelector('[data-dropzone]')
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}))
        }""", EICAR.decode())
        refused = page.locator("[data-file-row][data-state=failed]")
        await refused.wait_for(timeout=60_000)
        assert "“eicar.txt” was refused: our antivirus found malware in it" in await refused.inner_text()
        await page.locator("[data-file-row][data-state=done]").wait_for(timeout=60_000)
        assert page.csp_errors == []
    files = desk.http.get(f"/v1/upload-requests/{link.resource_id}").json()["files"]
    assert [file["display_name"] for file in files] == ["clean.pdf"]
