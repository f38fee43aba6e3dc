"""Guests' uploads scanned by a real ClamAV daemon (started here, with the local stack's EICAR signature database)
over its socket with INSTREAM: the EICAR test file is refused -- deleted from S3, never a document, no
FileUploaded, the guest told which file and why, a FileRefused for staff -- a clean PDF is announced in FileUploaded
v2 with its verdict and the engine (and v1 beside it in the outbox), and with clamd stopped uploads answer 503 and
nothing unscanned is stored."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from loginless.devstack.antivirus import ClamdServer
from loginless.documents.antivirus import ClamdScanner

pytestmark = pytest.mark.integration

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def clamd(tmp_path_factory):  # noqa: ANN201
    """A clamd of this module's own; the missing binary fails the test (apt-get install clamav-daemon)."""
    server = ClamdServer(tmp_path_factory.mktemp("clamd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def scanned(client, clamd, monkeypatch):  # noqa: ANN201
    """The app's uploads scanned by the real clamd (the other tests' app runs with ``scanner=none``)."""
    uploads = client.app.state.runtime.context.guest_pages.uploads
    monkeypatch.setattr(uploads, "ctx", replace(uploads.ctx, scanner=ClamdScanner(clamd.url, timeout_seconds=60)))
    return clamd


async def an_upload_link(client, harness, tenant):  # noqa: ANN001, ANN201
    account = (await client.post("/v1/accounts", json={"name": "Guests", "kind": "guest"},
                                 headers=tenant.headers)).json()
    folder = (await client.post(f"/v1/accounts/{account['account_id']}/folders", json={"name": "In"},
                                headers=tenant.headers)).json()
    request = (await client.post("/v1/upload-requests", headers=tenant.headers, json={
        "folder_id": folder["folder_id"], "recipients": [{"email": "banker@example.test"}]})).json()
    return request, harness.tus(client, request["links"][0]["link_id"])


async def nothing_stored(harness, tenant) -> bool:  # noqa: ANN001
    documents = await harness.pool.fetchval(
        f'SELECT count(*) FROM "{harness.settings.schema}".documents WHERE tenant_id = $1', tenant.tenant_id)
    return (await harness.objects(tenant.tenant_id) == [] and await harness.unfinished_multipart(tenant.tenant_id)
            == [] and await harness.events(tenant.tenant_id, "FileUploaded") == [] and documents == 0)


async def test_the_eicar_file_is_refused_never_kept_and_the_refusal_is_an_event(client, harness, tenant, scanned):
    request, tus = await an_upload_link(client, harness, tenant)
    clean = PDF_HEAD + os.urandom(6 * MIB)
    infected = clean[:3 * MIB] + EICAR + clean[3 * MIB + len(EICAR):]  # inside a PDF, across S3 parts' reading
    path = tus.path_of(await tus.create(len(infected), filename="statement.pdf"))
    refused = await tus.patch(path, 0, infected)

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/rejected-by-scan") and "statement.pdf" in problem["detail"]
    assert "EICAR" in problem["detail"]
    assert await nothing_stored(harness, tenant)
    [event] = await harness.events(tenant.tenant_id, "FileRefused")
    refusal = json.loads(event["data"])
    assert (event["stream_id"], refusal["display_name"], refusal["size"]) == (
        request["upload_request_id"], "statement.pdf", len(infected))
    assert refusal["signature"] == "Loginless.Test.EICAR.UNOFFICIAL" and refusal["scan_engine"].startswith("ClamAV ")
    assert (await tus.head(path)).status_code == 404  # the upload is gone too


async def test_a_clean_pdf_is_announced_in_file_uploaded_v2_with_its_verdict_and_engine(
        client, harness, tenant, scanned):
    _, tus = await an_upload_link(client, harness, tenant)
    clean = PDF_HEAD + os.urandom(6 * MIB)
    await tus.upload(clean, chunk_size=len(clean), filename="clean.pdf")

    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    assert event["type"] == "loginless.documents.FileUploaded.v2"
    uploaded = json.loads(event["data"])
    assert uploaded["scan_verdict"] == "clean" and uploaded["scan_engine"].startswith("ClamAV 1.")
    assert uploaded["size"] == len(clean)
    # Published beside v1 for its deprecation period: both in the outbox, v2 first.
    outbox = await harness.pool.fetch(
        f'SELECT message_value FROM "{harness.settings.schema}".outbox WHERE message_key = $1 ORDER BY id',
        event["stream_id"].encode())
    messages = [json.loads(row["message_value"]) for row in outbox]
    assert [m["type"] for m in messages] == ["loginless.documents.FileUploaded.v2",
                                             "loginless.documents.FileUploaded.v1"]
    assert messages[0]["id"] != messages[1]["id"] and "scan_verdict" not in messages[1]["data"]
    assert {k: v for k, v in messages[0]["data"].items() if not k.startswith("scan_")} == messages[1]["data"]


async def test_with_clamd_down_uploads_answer_503_and_nothing_unscanned_is_stored(client, harness, tenant, scanned):
    _, tus = await an_upload_link(client, harness, tenant)
    clean = PDF_HEAD + os.urandom(MIB)
    path = tus.path_of(await tus.create(len(clean), filename="while-down.pdf"))  # clamd still up
    scanned.stop()
    try:
        finished = await tus.patch(path, 0, clean)  # the last byte arrives: nobody can scan it
        assert finished.status_code == 503, finished.text
        assert finished.headers["content-type"].startswith("application/problem+json")
        assert await nothing_stored(harness, tenant)
        created = await tus.create(len(clean), filename="later.pdf")  # refused before any byte is sent
        assert created.status_code == 503
        assert await nothing_stored(harness, tenant)
    finally:
        scanned.start()
    await tus.upload(clean, chunk_size=len(clean), filename="later.pdf")  # back: it goes through
    assert len(await harness.events(tenant.tenant_id, "FileUploaded")) == 1


async def test_a_file_over_clamds_stream_limit_cannot_be_scanned_so_it_is_refused_with_503(
        client, harness, tenant, tmp_path, monkeypatch):
    small = ClamdServer(tmp_path, stream_max_length="1M")  # below the file: clamd stops reading part-way
    small.start()
    try:
        uploads = client.app.state.runtime.context.guest_pages.uploads
        monkeypatch.setattr(uploads, "ctx", replace(uploads.ctx, scanner=ClamdScanner(small.url)))
        _, tus = await an_upload_link(client, harness, tenant)
        large = PDF_HEAD + os.urandom(3 * MIB)
        path = tus.path_of(await tus.create(len(large), filename="large.pdf"))
        answered = await tus.patch(path, 0, large)
        assert answered.status_code == 503, answered.text
        assert await nothing_stored(harness, tenant)
    finally:
        small.stop()
