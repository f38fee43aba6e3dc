"""Guests viewing and downloading shared documents, through (a stand-in of) the gateway's assertion."""

import json
import os
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from loginless.documents.handlers import forget_old_accesses
from loginless.documents.storage import DocumentStorage

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n" + os.urandom(3000) + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(500)
SVG_WITH_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


async def shared(client, harness, tenant, body, *, name="Declaración 2024.pdf", view_only=False):
    account = (await client.post("/v1/accounts", json={"name": "Ana"}, headers=tenant.headers)).json()
    document = (await client.post("/v1/documents", params={"account_id": account["account_id"], "name": name},
                                  content=body, headers=tenant.headers)).json()
    share = (await client.post(f"/v1/documents/{document['document_id']}/shares", headers=tenant.headers,
                               json={"recipients": [{"email": "banker@example.test"}], "view_only": view_only,
                                     "expires_in_seconds": 3600})).json()
    link_id = share["links"][0]["link_id"]
    return document, share, harness.guest_headers_for(link_id, **{"user-agent": "TestBrowser/1.0"})


async def test_the_page_names_the_document_the_firm_and_records_the_view(client, harness, tenant):
    document, share, guest = await shared(client, harness, tenant, PDF)
    page = await client.get("/guest/", headers=guest)
    assert page.status_code == 200
    assert "Declaración 2024.pdf" in page.text and "Demo Firm" in page.text
    link_id = share["links"][0]["link_id"]
    assert f'href="/g/{link_id}/download"' in page.text  # built on the gateway's prefix, never our own host
    assert f'data-src="/g/{link_id}/preview"' in page.text  # drawn by pdf.js: no frame, no plugin
    assert f'<script type="module" src="/g/{link_id}/static/preview.js' in page.text
    assert f'href="/g/{link_id}/static/guest.css' in page.text
    [viewed] = await harness.events(tenant.tenant_id, "DocumentViewed")
    data = json.loads(viewed["data"])
    assert (data["client_ip"], data["user_agent"], data["link_id"]) == ("203.0.113.9", "TestBrowser/1.0", link_id)
    detail = (await client.get(f"/v1/shares/{share['share_id']}", headers=tenant.headers)).json()
    assert [a["kind"] for a in detail["accesses"]] == ["view"]


@pytest.fixture(params=["presigned", "stream"])
def any_client(request, client, stream_client):
    """The service under each ``DOCUMENTS_DOWNLOAD_DELIVERY``: the default (presigned) and ``stream``."""
    return client if request.param == "presigned" else stream_client


async def download(client, guest) -> httpx.Response:
    """A guest's download as the browser ends up with it: after the 303 to S3 when there is one."""
    response = await client.get("/guest/download", headers=guest, follow_redirects=False)
    if response.status_code != 303:
        return response
    async with httpx.AsyncClient(timeout=30) as browser:  # a real request to the real S3 server
        return await browser.get(response.headers["location"])


async def test_a_download_delivers_the_exact_bytes_as_an_attachment(any_client, client, harness, tenant):
    _, _, guest = await shared(any_client, harness, tenant, PDF)
    response = await download(any_client, guest)
    assert response.status_code == 200, response.text
    assert response.content == PDF
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Declaraci_n 2024.pdf\"; filename*=UTF-8''Declaraci%C3%B3n%202024.pdf")
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "private, no-store"
    if any_client is not client:
        assert response.headers["x-content-type-options"] == "nosniff"
    [downloaded] = await harness.events(tenant.tenant_id, "DocumentDownloaded")
    data = json.loads(downloaded["data"])
    assert (data["client_ip"], data["user_agent"]) == ("203.0.113.9", "TestBrowser/1.0")


async def test_a_streamed_download_resumes_from_a_range_and_is_recorded_once(stream_client, harness, tenant):
    body = PDF + os.urandom(200_000)
    _, _, guest = await shared(stream_client, harness, tenant, body)
    whole = await stream_client.get("/guest/download", headers=guest)
    etag = whole.headers["etag"]
    assert (whole.status_code, whole.headers["accept-ranges"]) == (200, "bytes")
    rest = await stream_client.get("/guest/download", headers={**guest, "range": "bytes=100000-",
                                                                   "if-range": etag})
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes 100000-{len(body) - 1}/{len(body)}"
    assert rest.content == body[100000:] and rest.headers["content-length"] == str(len(body) - 100000)
    assert rest.headers["content-disposition"].startswith("attachment;")
    # Bad inputs: past the end (416), several ranges or an If-Range of another version (the whole file).
    past_end = await stream_client.get("/guest/download", headers={**guest, "range": f"bytes={len(body)}-"})
    assert (past_end.status_code, past_end.headers["content-range"]) == (416, f"bytes */{len(body)}")
    several = await stream_client.get("/guest/download", headers={**guest, "range": "bytes=0-9,20-29"})
    stale = await stream_client.get("/guest/download", headers={**guest, "range": "bytes=10-", "if-range": '"x"'})
    assert (several.status_code, several.content) == (200, body)
    assert (stale.status_code, stale.content) == (200, body)
    # Whole downloads count; a resumed one is the same download going on.
    assert len(await harness.events(tenant.tenant_id, "DocumentDownloaded")) == 3


async def test_a_preview_answers_ranges_for_pdf_js(client, harness, tenant):
    _, _, guest = await shared(client, harness, tenant, PDF)
    head = await client.get("/guest/preview", headers={**guest, "range": "bytes=0-8"})
    tail = await client.get("/guest/preview", headers={**guest, "range": "bytes=-7"})
    assert (head.status_code, head.content) == (206, PDF[:9])
    assert (tail.status_code, tail.content) == (206, PDF[-7:])
    assert head.headers["content-disposition"].startswith("inline;")


async def test_the_default_download_is_a_303_to_a_presigned_s3_url_that_lives_a_minute(client, harness, tenant):
    _, _, guest = await shared(client, harness, tenant, PDF)
    redirect = await client.get("/guest/download", headers=guest, follow_redirects=False)
    assert redirect.status_code == 303 and redirect.content == b""
    assert redirect.headers["cache-control"] == "no-store"
    location = urlsplit(redirect.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == harness.settings.s3_endpoint  # absolute: the gateway keeps it
    assert location.path.startswith(f"/{harness.settings.s3_bucket}/tenants/{tenant.tenant_id}/")
    query = parse_qs(location.query)
    assert query["X-Amz-Expires"] == ["60"]
    assert query["response-content-disposition"][0].startswith("attachment; filename=")
    # Recorded when the URL is handed out, before the guest has fetched a byte.
    assert len(await harness.events(tenant.tenant_id, "DocumentDownloaded")) == 1


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **changes}, safe="/")))


async def test_s3_refuses_a_presigned_url_whose_signature_or_headers_were_changed_or_that_expired(
        client, harness, tenant):
    _, _, guest = await shared(client, harness, tenant, SVG_WITH_SCRIPT, name="logo.svg")
    url = (await client.get("/guest/download", headers=guest, follow_redirects=False)).headers["location"]
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    tampered = {
        "signature": _with_query(url, **{"X-Amz-Signature": ("0" if signature[0] != "0" else "1") + signature[1:]}),
        "disposition": _with_query(url, **{"response-content-disposition": "inline"}),
        "type": _with_query(url, **{"response-content-type": "text/html"}),
        "longer life": _with_query(url, **{"X-Amz-Expires": "604800"}),
    }
    key = unquote(urlsplit(url).path).split("/", 2)[2]
    signed = parse_qs(urlsplit(url).query)
    headers = {name: values[0] for name, values in signed.items() if name.startswith("response-")}
    expired = harness.storage.presigned_get_url(key, expires=timedelta(seconds=60), response_headers=headers,
                                                signed_at=datetime.now(UTC) - timedelta(seconds=61))
    async with httpx.AsyncClient(timeout=30) as browser:
        assert (await browser.get(url)).content == SVG_WITH_SCRIPT  # the untouched URL works
        for what, changed in tampered.items():
            refused = await browser.get(changed)
            assert refused.status_code == 403, what
            assert b"SignatureDoesNotMatch" in refused.content, what
            assert SVG_WITH_SCRIPT not in refused.content
        refused = await browser.get(expired)
        assert refused.status_code == 403 and b"Request has expired" in refused.content


async def test_presigned_urls_name_the_public_s3_endpoint_and_presigning_calls_nothing(harness, tenant):
    settings = harness.settings
    port = urlsplit(settings.s3_endpoint).port
    key = f"tenants/{tenant.tenant_id}/documents/public-endpoint"
    await harness.storage.put_bytes(key, b"hello")
    try:
        public = DocumentStorage(settings.s3_endpoint, access_key=settings.s3_access_key,
                                 secret_key=settings.s3_secret_key.get_secret_value(), bucket=settings.s3_bucket,
                                 public_endpoint=f"http://localhost:{port}")
        url = public.presigned_get_url(key, expires=timedelta(seconds=30), response_headers={})
        assert url.startswith(f"http://localhost:{port}/")
        async with httpx.AsyncClient(timeout=30) as browser:
            assert (await browser.get(url)).content == b"hello"  # signed for the host the browser names
        # Nothing listens on port 9: presigning would fail if it asked S3 anything (a bucket's region, say).
        offline = DocumentStorage("http://127.0.0.1:9", access_key="a", secret_key="b", bucket="any")
        assert offline.presigned_get_url("k", expires=timedelta(seconds=30), response_headers={}).startswith(
            "http://127.0.0.1:9/any/k?")
    finally:
        await harness.storage.delete(key)


async def test_pdf_and_images_preview_inline_and_nothing_else_does(any_client, client, harness, tenant):
    _, _, pdf_guest = await shared(any_client, harness, tenant, PDF)
    preview = await any_client.get("/guest/preview", headers=pdf_guest)
    assert preview.status_code == 200 and preview.content == PDF  # streamed, same origin, whatever the delivery
    assert preview.headers["content-disposition"].startswith("inline;")
    assert preview.headers["content-type"] == "application/pdf"
    _, _, png_guest = await shared(any_client, harness, tenant, PNG, name="photo.png")
    page = await any_client.get("/guest/", headers=png_guest)
    assert '<img class="image"' in page.text
    for body, name, sniffed in ((SVG_WITH_SCRIPT, "logo.svg", "image/svg+xml"), (HTML, "page.html", "text/html"),
                                (os.urandom(2000), "data.bin", "application/octet-stream")):
        _, _, guest = await shared(any_client, harness, tenant, body, name=name)
        page = await any_client.get("/guest/", headers=guest)
        assert "data-pdf-preview" not in page.text and '<img class="image"' not in page.text
        assert (await any_client.get("/guest/preview", headers=guest)).status_code == 404
        downloaded = await download(any_client, guest)
        assert downloaded.content == body
        assert downloaded.headers["content-disposition"].startswith("attachment;")
        assert downloaded.headers["content-type"].split(";")[0] == sniffed
        if any_client is not client:
            assert downloaded.headers["x-content-type-options"] == "nosniff"


async def test_a_view_only_share_offers_no_download_and_refuses_one(any_client, harness, tenant):
    _, _, guest = await shared(any_client, harness, tenant, PDF, view_only=True)
    page = await any_client.get("/guest/", headers=guest)
    assert "data-view-only" in page.text and "/download" not in page.text
    refused = await any_client.get("/guest/download", headers=guest, follow_redirects=False)
    assert refused.status_code == 403 and "location" not in refused.headers
    assert "viewing only" in refused.text
    assert await harness.events(tenant.tenant_id, "DocumentDownloaded") == []


async def test_the_resource_is_the_assertions_whatever_the_path_says(client, harness, tenant):
    first, _, guest = await shared(client, harness, tenant, PDF, name="mine.pdf")
    second, _, _ = await shared(client, harness, tenant, PNG, name="theirs.png")
    page = await client.get(f"/guest/{second['document_id']}", headers=guest)
    assert page.status_code in (404, 405) or "theirs.png" not in page.text
    redirect = await client.get("/guest/download", params={"document_id": second["document_id"]}, headers=guest,
                                follow_redirects=False)
    assert first["document_id"] in redirect.headers["location"]
    assert (await download(client, guest)).content == PDF
    upload_link = harness.guest_headers(link_id="lnk_x", tenant_id=tenant.tenant_id, action="upload",
                                        resource_id=first["document_id"])
    assert (await client.get("/guest/download", headers=upload_link)).status_code == 404
    other_tenant = harness.guest_headers(link_id="lnk_y", tenant_id="someone-else", action="view",
                                         resource_id=first["document_id"])
    assert (await client.get("/guest/download", headers=other_tenant)).status_code == 404
    assert (await client.get("/guest/download")).status_code == 401  # skipped the gateway


async def test_a_revoked_share_or_link_shows_the_gone_page(client, harness, tenant):
    _, share, guest = await shared(client, harness, tenant, PDF)
    await client.post(f"/v1/shares/{share['share_id']}/revoke", headers=tenant.headers)
    page = await client.get("/guest/", headers=guest)
    # Withdrawn, in the gateway's words, not "expired": documents may hear of a revocation before the gateway.
    assert page.status_code == 410 and "Demo Firm has withdrawn this link" in page.text
    assert "expired" not in page.text
    assert (await client.get("/guest/download", headers=guest)).status_code == 410


async def test_pages_speak_spanish_from_the_browser_or_the_switcher(client, harness, tenant):
    _, share, guest = await shared(client, harness, tenant, PDF)
    link_id = share["links"][0]["link_id"]
    spanish = await client.get("/guest/", headers={**guest, "accept-language": "es-ES,es;q=0.9,en;q=0.5"})
    assert '<html lang="es">' in spanish.text and "Descargar" in spanish.text
    switched = await client.get("/guest/", params={"lang": "en"}, headers={**guest, "accept-language": "es"})
    assert '<html lang="en">' in switched.text and "Download" in switched.text
    assert f'href="/g/{link_id}/brand/1f5f8b.css"' in spanish.text
    brand = await client.get("/guest/brand/1f5f8b.css")
    assert brand.text == ":root { --brand: #1f5f8b; --brand-text: #ffffff; }\n"


async def test_access_records_are_forgotten_whole_after_the_retention(client, harness, tenant):
    _, share, guest = await shared(client, harness, tenant, PDF)
    await client.get("/guest/", headers=guest)
    await client.get("/guest/download", headers=guest)
    schema = f'"{harness.settings.schema}"'
    accesses = [row["stream_id"] for row in await harness.events(tenant.tenant_id)
                if row["type"].endswith((".DocumentViewed.v1", ".DocumentDownloaded.v1"))]
    assert len(accesses) == 2
    retention = timedelta(days=harness.settings.access_record_retention_days)
    not_yet = harness.context(clock=lambda: datetime.now(UTC) + retention - timedelta(hours=1))
    await forget_old_accesses(not_yet)
    assert len(await harness.pool.fetch(f"SELECT 1 FROM {schema}.access_records WHERE share_id = $1",
                                        share["share_id"])) == 2

    await forget_old_accesses(harness.context(clock=lambda: datetime.now(UTC) + retention + timedelta(hours=1)))

    for access_id in accesses:  # nothing of them in the events, the outbox or the read model
        assert await harness.pool.fetchval(f"SELECT count(*) FROM {schema}.events WHERE stream_id = $1",
                                           access_id) == 0
        assert await harness.pool.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE message_key = $1",
                                           access_id.encode()) == 0
    outbox = b"".join(row["message_value"] for row in await harness.pool.fetch(
        f"SELECT message_value FROM {schema}.outbox"))
    assert b"203.0.113.9" not in outbox and accesses[0].encode() not in outbox
    assert await harness.pool.fetchval(f"SELECT count(*) FROM {schema}.access_records WHERE share_id = $1",
                                       share["share_id"]) == 0
    assert len(await harness.events(tenant.tenant_id, "DocumentShared")) == 1  # other streams untouched
    detail = (await client.get(f"/v1/shares/{share['share_id']}", headers=tenant.headers)).json()
    assert detail["accesses"] == []
