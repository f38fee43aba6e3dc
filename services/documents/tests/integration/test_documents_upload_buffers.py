"""The process's cap on bytes held in upload part buffers (DOCUMENTS_UPLOAD_BUFFER_BYTES), on PostgreSQL and S3.

With room for one part only, one guest's upload in progress holds it all: another guest's PATCH arriving meanwhile
is refused (no wait allowed here) with a 503 that says when to retry, before anything of it is written, and goes
through when retried after the first upload finished. Both run through the service's upload logic on the test's
event loop, sharing one budget as two requests in one process do (the HTTP test client runs one request at a
time); the 503 problem with its Retry-After header is checked in the unit tests of the budget."""

import asyncio
import json
import os

import pytest

from loginless.documents.storage import PartBuffers, UploadBuffersFull
from loginless.documents.uploads import ResumableUploads
from loginless.shared.web.assertion import ASSERTION_HEADER, AssertionVerifier

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


async def a_guest_upload(client, harness, tenant, data: bytes):
    """An upload request's guest with a tus upload created for ``data``: (guest assertion, upload id, tus client)."""
    account = (await client.post("/v1/accounts", json={"name": "Guests", "kind": "guest"},
                                 headers=tenant.headers)).json()
    folder = (await client.post(f"/v1/accounts/{account['account_id']}/folders", json={"name": "Bank"},
                                headers=tenant.headers)).json()
    asked = await client.post("/v1/upload-requests", headers=tenant.headers, json={
        "folder_id": folder["folder_id"], "recipients": [{"email": "banker@example.test"}],
        "expires_in_seconds": 3600})
    assert asked.status_code == 201, asked.text
    tus = harness.tus(client, asked.json()["links"][0]["link_id"])
    created = await tus.create(len(data), filename="statement.pdf")
    assert created.status_code == 201, created.text
    path = tus.path_of(created)
    guest = AssertionVerifier(harness.settings.assertion_public_key, audience="documents").verify(
        tus.headers[ASSERTION_HEADER])
    return guest, path.rsplit("/", 1)[1], tus, path


async def test_an_upload_finding_no_buffer_room_is_refused_with_retry_after_and_succeeds_when_retried(
        client, harness, tenant):
    uploads = ResumableUploads(harness.context(part_buffers=PartBuffers(5 * MIB, budget=5 * MIB, wait_seconds=0)))
    first_data, second_data = PDF_HEAD + os.urandom(6 * MIB), PDF_HEAD + os.urandom(MIB)  # the first needs all
    first_guest, first_id, _, _ = await a_guest_upload(client, harness, tenant, first_data)
    second_guest, second_id, second_tus, second_path = await a_guest_upload(client, harness, tenant, second_data)

    reading, go_on = asyncio.Event(), asyncio.Event()

    async def slow_body():
        reading.set()  # the body is read only once its upload holds its room in the budget
        yield first_data[:MIB]
        await go_on.wait()
        yield first_data[MIB:]

    first = asyncio.create_task(uploads.append(first_guest, first_id, offset=0, declared_length=len(first_data),
                                               body=slow_body(), correlation_id="first"))
    await reading.wait()

    async def whole(data: bytes):
        yield data

    with pytest.raises(UploadBuffersFull) as refused:
        await uploads.append(second_guest, second_id, offset=0, declared_length=len(second_data),
                             body=whole(second_data), correlation_id="second")
    assert refused.value.status_code == 503 and refused.value.extra["retry_after"] >= 1
    head = await second_tus.head(second_path)
    assert head.headers["upload-offset"] == "0"  # nothing of it was written, and no lease left behind

    go_on.set()
    assert (await first).complete
    retried = await uploads.append(second_guest, second_id, offset=0, declared_length=len(second_data),
                                   body=whole(second_data), correlation_id="second")
    assert retried.complete and retried.offset == len(second_data)
    uploaded = await harness.events(tenant.tenant_id, "FileUploaded")
    assert sorted(json.loads(event["data"])["size"] for event in uploaded) == sorted(
        [len(first_data), len(second_data)])
