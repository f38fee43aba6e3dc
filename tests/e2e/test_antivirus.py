"""The antivirus on the running stack: a guest uploads the EICAR test file through the gateway; the documents
service, scanning with the stack's clamd, refuses it -- the guest hears which file and why -- and the firm finds no
file in its upload request."""

from __future__ import annotations

import base64

import httpx
import pytest

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
