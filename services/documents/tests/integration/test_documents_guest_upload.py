"""Guests' resumable uploads (tus 1.0) into S3 multipart uploads, and every limit enforced by the server.

Each refused upload is checked three ways: no object (or unfinished multipart upload) in S3, no document row,
no event.
"""

import asyncio
import hashlib
import json
import os
from dataclasses import replace

import pytest

from loginless.documents.uploads import ClientDisconnected, ResumableUploads
from loginless.shared.errors import DependencyUnavailable
from loginless.shared.web.assertion import ASSERTION_HEADER, AssertionVerifier

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56)
SVG_WITH_SCRIPT = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def pdf_of(size: int) -> bytes:
    return PDF_HEAD + os.urandom(size - len(PDF_HEAD))


async def upload_request(client, harness, tenant, **limits):
    account = (await client.post("/v1/accounts", json={"name": "Guests", "kind": "guest"},
                                 headers=tenant.headers)).json()
    folder = (await client.post(f"/v1/accounts/{account['account_id']}/folders", json={"name": "Bank"},
                                headers=tenant.headers)).json()
    response = await client.post("/v1/upload-requests", headers=tenant.headers, json={
        "folder_id": folder["folder_id"], "recipients": [{"email": "banker@example.test"}],
        "expires_in_seconds": 3600, **limits})
    assert response.status_code == 201, response.text
    body = response.json()
    link_id = body["links"][0]["link_id"]
    return body, harness.tus(client, link_id)


async def assert_nothing_stored(harness, tenant):
    assert await harness.objects(tenant.tenant_id) == []
    assert await harness.unfinished_multipart(tenant.tenant_id) == []
    assert await harness.events(tenant.tenant_id, "FileUploaded") == []
    count = await harness.pool.fetchval(
        f'SELECT count(*) FROM "{harness.settings.schema}".documents WHERE tenant_id = $1', tenant.tenant_id)
    assert count == 0


async def test_a_multi_part_upload_arrives_whole_and_is_announced(client, harness, tenant):
    request, tus = await upload_request(client, harness, tenant)
    data = pdf_of(13 * MIB + 12345)  # three S3 parts; chunks not aligned to parts leave tails between PATCHes
    await tus.upload(data, chunk_size=3 * MIB + 17, filename="statement.pdf", filetype="application/pdf",
                     uploader_name="Marta", uploader_email="marta@bank.example")
    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    payload = json.loads(event["data"])
    assert payload["sha256"] == hashlib.sha256(data).hexdigest()
    assert payload["size"] == len(data)
    assert payload["content_type"] == "application/pdf"
    assert payload["display_name"] == "statement.pdf"
    assert payload["link_id"] == request["links"][0]["link_id"]
    assert payload["folder_id"] == request["folder_id"] and payload["account_id"] == request["account_id"]
    assert payload["uploader_name"] == "Marta"
    stored_key = f"tenants/{tenant.tenant_id}/documents/{payload['file_id']}"
    assert await harness.objects(tenant.tenant_id) == [stored_key]  # no tail left behind
    assert await harness.storage.get_bytes(stored_key) == data
    assert await harness.unfinished_multipart(tenant.tenant_id) == []
    listed = await client.get("/v1/documents", params={"upload_request_id": request["upload_request_id"]},
                              headers=tenant.headers)
    [document] = listed.json()["documents"]
    assert document["source"] == "guest" and document["sha256"] == payload["sha256"]
    content = await client.get(f"/v1/documents/{document['document_id']}/content", headers=tenant.headers)
    assert hashlib.sha256(content.content).hexdigest() == payload["sha256"]
    receipt = await client.get("/guest/receipt", headers=tus.headers)
    assert "statement.pdf" in receipt.text


async def test_an_upload_resumes_after_the_connection_drops_mid_patch(client, harness, tenant, replica):
    request, tus = await upload_request(client, harness, tenant)
    data = pdf_of(11 * MIB)
    created = await tus.create(len(data), filename="big.pdf")
    path = tus.path_of(created)
    upload_id = path.rsplit("/", 1)[1]
    guest = AssertionVerifier(harness.settings.assertion_public_key, audience="documents").verify(
        tus.headers[ASSERTION_HEADER])

    async def cut_after(limit: int):
        sent = 0
        while sent < limit:
            piece = data[sent:min(sent + 256 * 1024, limit)]
            sent += len(piece)
            yield piece
        raise ClientDisconnected

    status = await replica.append(guest, upload_id, offset=0, declared_length=len(data), body=cut_after(7 * MIB + 5),
                                  correlation_id="test")
    assert status.offset == 7 * MIB + 5  # everything that arrived was kept: one part plus a tail
    head = await tus.head(path)
    assert head.status_code == 200 and head.headers["upload-offset"] == str(7 * MIB + 5)
    assert (await tus.patch(path, 0, data[:10])).status_code == 409  # a stale offset is refused
    response = await tus.patch(path, 7 * MIB + 5, data[7 * MIB + 5:])
    assert response.status_code == 204 and response.headers["upload-offset"] == str(len(data))
    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    assert json.loads(event["data"])["sha256"] == hashlib.sha256(data).hexdigest()


async def test_a_resumed_upload_on_another_replica_hashes_the_stored_object(client, harness, tenant):
    request, tus = await upload_request(client, harness, tenant)
    data = pdf_of(6 * MIB)
    created = await tus.create(len(data), filename="x.pdf")
    path = tus.path_of(created)
    assert (await tus.patch(path, 0, data[:2 * MIB])).status_code == 204
    client.app.state.runtime.context.guest_pages.uploads._digests.clear()  # as if another process continued
    assert (await tus.patch(path, 2 * MIB, data[2 * MIB:])).status_code == 204
    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    assert json.loads(event["data"])["sha256"] == hashlib.sha256(data).hexdigest()


async def test_one_patch_of_many_parts_arrives_whole(client, harness, tenant):
    _, tus = await upload_request(client, harness, tenant)
    data = pdf_of(4 * 5 * MIB + 12345)  # one PATCH: four full parts (stored while the next arrives) and a last one
    await tus.upload(data, chunk_size=len(data), filename="scan.pdf")
    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    payload = json.loads(event["data"])
    assert payload["sha256"] == hashlib.sha256(data).hexdigest()
    stored_key = f"tenants/{tenant.tenant_id}/documents/{payload['file_id']}"
    assert await harness.storage.get_bytes(stored_key) == data
    assert await harness.unfinished_multipart(tenant.tenant_id) == []


class GatedStorage:
    """The real storage, with a say over each part: the first part waits for ``first_part_may_go``, a part
    numbered ``refuse`` fails as an unavailable S3 would, and every acknowledged part is counted."""

    def __init__(self, storage, *, refuse: int | None = None) -> None:  # noqa: ANN001
        self._storage, self.refuse = storage, refuse
        self.first_part_may_go = asyncio.Event()
        self.first_part_may_go.set()
        self.acknowledged: dict[int, int] = {}  # number -> size of the parts S3 acknowledged

    def acknowledged_in_order(self) -> int:
        """Bytes in the parts S3 acknowledged from the first on, without a gap."""
        number, stored = 1, 0
        while number in self.acknowledged:
            stored, number = stored + self.acknowledged[number], number + 1
        return stored

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._storage, name)

    async def upload_part(self, key, upload_id, number, data, **options):  # noqa: ANN001, ANN003, ANN201
        if number == 1:
            await self.first_part_may_go.wait()
        if number == self.refuse:
            raise DependencyUnavailable("object storage is unavailable", dependency="s3")
        part = await self._storage.upload_part(key, upload_id, number, data, **options)
        self.acknowledged[number] = part.size
        return part


def uploads_over(harness, storage):  # noqa: ANN001, ANN201
    """Another replica's upload logic on ``storage``."""
    return ResumableUploads(harness.context(storage=storage))


async def test_a_patch_holds_at_most_two_parts_and_records_only_acknowledged_ones(client, harness, tenant):
    request, tus = await upload_request(client, harness, tenant)
    part = harness.settings.upload_part_size
    data = pdf_of(5 * part + 7)
    path = tus.path_of(await tus.create(len(data), filename="big.pdf"))
    upload_id = path.rsplit("/", 1)[1]
    guest = AssertionVerifier(harness.settings.assertion_public_key, audience="documents").verify(
        tus.headers[ASSERTION_HEADER])
    storage = GatedStorage(harness.storage)
    storage.first_part_may_go.clear()
    uploads = uploads_over(harness, storage)
    table = f'"{harness.settings.schema}".tus_uploads'

    async def body():
        handed = 0
        while handed < len(data):
            if handed == 2 * part:
                # Two parts are in hand and the first is not stored: taking more would hold a third.
                assert storage.acknowledged, "read a third part while the first was still on its way"
            row = await harness.pool.fetchrow(f"SELECT received, parts FROM {table} WHERE upload_id = $1", upload_id)
            recorded = json.loads(row["parts"])
            assert all(storage.acknowledged.get(p["number"]) == p["size"] for p in recorded)  # confirmed by S3
            assert row["received"] == sum(p["size"] for p in recorded)
            assert handed - storage.acknowledged_in_order() <= 2 * part
            piece = data[handed:handed + MIB]
            handed += len(piece)
            if handed == 2 * part:
                storage.first_part_may_go.set()  # the second part is complete: the first may be stored now
            yield piece

    status = await uploads.append(guest, upload_id, offset=0, declared_length=len(data), body=body(),
                                  correlation_id="test")
    assert status.complete and status.offset == len(data)
    assert storage.acknowledged == {1: part, 2: part, 3: part, 4: part, 5: part, 6: 7}
    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    assert json.loads(event["data"])["sha256"] == hashlib.sha256(data).hexdigest()


async def test_a_part_s3_refuses_ends_the_patch_and_the_offset_counts_only_stored_parts(client, harness, tenant):
    _, tus = await upload_request(client, harness, tenant)
    part = harness.settings.upload_part_size
    data = pdf_of(4 * part + 100)
    path = tus.path_of(await tus.create(len(data), filename="flaky.pdf"))
    guest = AssertionVerifier(harness.settings.assertion_public_key, audience="documents").verify(
        tus.headers[ASSERTION_HEADER])
    uploads = uploads_over(harness, GatedStorage(harness.storage, refuse=3))

    async def body():
        for start in range(0, len(data), MIB):
            yield data[start:start + MIB]

    with pytest.raises(DependencyUnavailable):
        await uploads.append(guest, path.rsplit("/", 1)[1], offset=0, declared_length=len(data), body=body(),
                             correlation_id="test")
    head = await tus.head(path)
    assert head.headers["upload-offset"] == str(2 * part)  # parts 1 and 2, stored; nothing of part 3 claimed
    response = await tus.patch(path, 2 * part, data[2 * part:])
    assert response.status_code == 204 and response.headers["upload-offset"] == str(len(data))
    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    assert json.loads(event["data"])["sha256"] == hashlib.sha256(data).hexdigest()


class CorruptingHttp:
    """minio's HTTP pool, but a part's body loses a byte on the way, after minio signed it."""

    def __init__(self, http) -> None:  # noqa: ANN001
        self._http = http

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._http, name)

    def urlopen(self, method, url, body=None, **options):  # noqa: ANN001, ANN003, ANN201
        if method == "PUT" and "partNumber=" in url and body:
            body = bytes(body)[:-1] + bytes([body[-1] ^ 0xFF])
        return self._http.urlopen(method, url, body=body, **options)


async def test_a_part_that_arrives_altered_is_refused_by_s3_and_never_counted(client, harness, tenant):
    from minio.error import S3Error

    from loginless.documents.storage import DocumentStorage

    _, tus = await upload_request(client, harness, tenant)
    data = pdf_of(6 * MIB)
    path = tus.path_of(await tus.create(len(data), filename="x.pdf"))
    guest = AssertionVerifier(harness.settings.assertion_public_key, audience="documents").verify(
        tus.headers[ASSERTION_HEADER])
    settings = harness.settings
    storage = DocumentStorage(settings.s3_endpoint, access_key=settings.s3_access_key,
                              secret_key=settings.s3_secret_key.get_secret_value(), bucket=settings.s3_bucket)
    storage._client._http = CorruptingHttp(storage._client._http)

    async def body():
        yield data

    with pytest.raises(S3Error):  # the payload's signed SHA-256 no longer matches: S3 stores nothing
        await uploads_over(harness, storage).append(guest, path.rsplit("/", 1)[1], offset=0,
                                                    declared_length=len(data), body=body(), correlation_id="test")
    assert (await tus.head(path)).headers["upload-offset"] == "0"
    response = await tus.patch(path, 0, data)
    assert response.status_code == 204 and response.headers["upload-offset"] == str(len(data))
    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    assert json.loads(event["data"])["sha256"] == hashlib.sha256(data).hexdigest()


async def test_a_connection_dropping_after_several_parts_keeps_every_byte(client, harness, tenant, replica):
    _, tus = await upload_request(client, harness, tenant)
    data = pdf_of(24 * MIB)
    path = tus.path_of(await tus.create(len(data), filename="long.pdf"))
    guest = AssertionVerifier(harness.settings.assertion_public_key, audience="documents").verify(
        tus.headers[ASSERTION_HEADER])
    cut = 17 * MIB + 3  # three 5 MiB parts, then 2 MiB and 3 bytes: too few for a part, kept as the tail

    async def cut_after():
        for start in range(0, cut, 256 * 1024):
            yield data[start:min(start + 256 * 1024, cut)]
        raise ClientDisconnected

    status = await replica.append(guest, path.rsplit("/", 1)[1], offset=0, declared_length=len(data),
                                  body=cut_after(), correlation_id="test")
    assert status.offset == cut
    assert (await tus.head(path)).headers["upload-offset"] == str(cut)
    response = await tus.patch(path, cut, data[cut:])
    assert response.status_code == 204 and response.headers["upload-offset"] == str(len(data))
    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    assert json.loads(event["data"])["sha256"] == hashlib.sha256(data).hexdigest()


EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class SignatureScanner:
    """An antivirus adapter in miniature: reads the stored object and rejects the EICAR test signature."""

    def __init__(self) -> None:
        self.bytes_read: list[int] = []

    async def check_ready(self) -> None:
        return None

    async def scan(self, *, content_type: str, size: int, read):  # noqa: ANN001, ANN201
        from loginless.documents.ports import ScanVerdict

        seen, total = b"", 0
        async for chunk in read():
            total += len(chunk)
            seen = seen[-len(EICAR):] + chunk  # a signature split across chunks is still found
            if EICAR in seen:
                self.bytes_read.append(total)
                return ScanVerdict(clean=False, reason="EICAR test signature")
        self.bytes_read.append(total)
        return ScanVerdict(clean=True)


async def test_the_scanner_sees_every_stored_byte_before_file_uploaded_and_what_it_rejects_is_never_kept(
        client, harness, tenant, monkeypatch):
    scanner = SignatureScanner()
    monkeypatch.setattr(client.app.state.runtime.context.guest_pages.uploads, "ctx",
                        replace(client.app.state.runtime.context.guest_pages.uploads.ctx, scanner=scanner))
    _, tus = await upload_request(client, harness, tenant)
    clean = pdf_of(6 * MIB)
    await tus.upload(clean, chunk_size=len(clean), filename="clean.pdf")
    assert scanner.bytes_read == [len(clean)]  # read from S3 in full, as stored
    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    assert json.loads(event["data"])["size"] == len(clean)

    other_tenant = harness.new_tenant()
    _, tus = await upload_request(client, harness, other_tenant)
    infected = clean[:3 * MIB] + EICAR + clean[3 * MIB + len(EICAR):]
    path = tus.path_of(await tus.create(len(infected), filename="infected.pdf"))
    refused = await tus.patch(path, 0, infected)
    assert refused.status_code == 422 and refused.json()["type"].endswith("/rejected-by-scan")
    await assert_nothing_stored(harness, other_tenant)


async def test_too_large_is_refused_with_413(client, harness, tenant):
    _, tus = await upload_request(client, harness, tenant, max_file_size=1000)
    response = await tus.create(1001, filename="big.pdf")
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["max_file_size"] == 1000
    await assert_nothing_stored(harness, tenant)


async def test_a_body_longer_than_announced_is_refused(client, harness, tenant):
    _, tus = await upload_request(client, harness, tenant)
    path = tus.path_of(await tus.create(100, filename="a.pdf"))
    assert (await tus.patch(path, 0, pdf_of(101))).status_code == 413


@pytest.mark.parametrize(("name", "body"), [
    ("invoice.pdf", ELF + os.urandom(9000)),  # a renamed executable
    ("setup.pdf", b"MZ\x90\x00" + os.urandom(9000)),
    ("page.pdf", b"<!doctype html><html><script>alert(1)</script></html>"),
    ("drawing.svg", SVG_WITH_SCRIPT),
    ("unknown.bin", bytes([0, 1, 2, 3]) * 3000),
])
async def test_a_type_the_link_does_not_accept_is_refused_with_415(client, harness, tenant, name, body):
    _, tus = await upload_request(client, harness, tenant)
    path = tus.path_of(await tus.create(len(body), filename=name, filetype="application/pdf"))
    response = await tus.patch(path, 0, body)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (await tus.head(path)).status_code == 404
    await assert_nothing_stored(harness, tenant)


async def test_the_type_is_judged_from_bytes_sent_in_small_pieces(client, harness, tenant):
    _, tus = await upload_request(client, harness, tenant)
    body = ELF + os.urandom(20000)
    path = tus.path_of(await tus.create(len(body), filename="fine.pdf"))
    assert (await tus.patch(path, 0, body[:100])).status_code == 204  # too little to judge yet
    assert (await tus.patch(path, 100, body[100:])).status_code == 415
    await assert_nothing_stored(harness, tenant)


async def test_an_empty_file_is_refused(client, harness, tenant):
    _, tus = await upload_request(client, harness, tenant)
    response = await tus.create(0, filename="empty.pdf")
    assert response.status_code == 400
    await assert_nothing_stored(harness, tenant)


@pytest.mark.parametrize(("raw", "shown"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\cmd.pdf", "cmd.pdf"),
    ("in\x00voi\x1bce\r\n.pdf", "invoice.pdf"),
    ("report\u202egpj.pdf", "reportgpj.pdf"),  # a right-to-left override that would disguise the extension
    ("a" * 300 + ".pdf", "a" * 116 + ".pdf"),
    ("..", "file"),
])
async def test_display_names_are_sanitized_and_keys_are_ours(client, harness, tenant, raw, shown):
    _, tus = await upload_request(client, harness, tenant)
    await tus.upload(pdf_of(1000), chunk_size=MIB, filename=raw)
    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    payload = json.loads(event["data"])
    assert payload["display_name"] == shown
    assert await harness.objects(tenant.tenant_id) == [f"tenants/{tenant.tenant_id}/documents/{payload['file_id']}"]


async def test_an_allowed_svg_is_stored_but_only_ever_served_as_an_attachment(client, harness, tenant):
    request, tus = await upload_request(client, harness, tenant, allowed_types=["image/*"])
    await tus.upload(SVG_WITH_SCRIPT, chunk_size=MIB, filename="logo.svg")
    [document] = (await client.get("/v1/documents", params={"upload_request_id": request["upload_request_id"]},
                                   headers=tenant.headers)).json()["documents"]
    assert document["content_type"] == "image/svg+xml"
    content = await client.get(f"/v1/documents/{document['document_id']}/content", headers=tenant.headers)
    assert content.headers["content-disposition"].startswith("attachment;")
    assert content.headers["x-content-type-options"] == "nosniff"


async def test_no_more_files_than_the_link_allows(client, harness, tenant):
    _, tus = await upload_request(client, harness, tenant, max_files=2)
    await tus.upload(pdf_of(1000), chunk_size=MIB, filename="one.pdf")
    second = await tus.create(1000, filename="two.pdf")  # started, not finished: it holds a slot
    assert second.status_code == 201
    third = await tus.create(1000, filename="three.pdf")
    assert third.status_code == 403
    assert third.json()["max_files"] == 2
    assert len(await harness.events(tenant.tenant_id, "FileUploaded")) == 1
    # Giving up on the unfinished one frees its slot.
    assert (await client.delete(tus.path_of(second), headers=tus.headers)).status_code == 204
    assert (await tus.create(1000, filename="three.pdf")).status_code == 201


async def test_nothing_is_accepted_after_the_deadline_or_once_revoked(client, harness, tenant, later):
    request, tus = await upload_request(client, harness, tenant)
    path = tus.path_of(await tus.create(20000, filename="late.pdf"))
    later(seconds=3601)  # past the request's deadline
    assert (await tus.patch(path, 0, pdf_of(20000))).status_code == 410
    assert (await tus.create(1000, filename="later.pdf")).status_code == 410
    page = await client.get("/guest/", headers=tus.headers)
    assert page.status_code == 410 and "deadline" in page.text
    other, tus2 = await upload_request(client, harness, tenant)
    await client.post(f"/v1/upload-requests/{other['upload_request_id']}/revoke", headers=tenant.headers)
    assert (await tus2.create(1000, filename="x.pdf")).status_code == 410
    assert await harness.events(tenant.tenant_id, "FileUploaded") == []
    assert await harness.objects(tenant.tenant_id) == []


async def test_an_upload_is_bound_to_its_link(client, harness, tenant):
    _, tus = await upload_request(client, harness, tenant)
    path = tus.path_of(await tus.create(1000, filename="mine.pdf"))
    _, other = await upload_request(client, harness, tenant)
    assert (await other.head(path)).status_code == 404
    assert (await other.patch(path, 0, pdf_of(1000))).status_code == 404


async def test_a_completed_upload_still_answers_as_complete_so_a_client_that_missed_the_end_does_not_start_over(
        client, harness, tenant, replica):
    _, tus = await upload_request(client, harness, tenant)
    data = pdf_of(6 * MIB)
    path = tus.path_of(await tus.create(len(data), filename="done.pdf"))
    assert (await tus.patch(path, 0, data)).status_code == 204
    asked_again = await tus.head(path)  # the client reloaded before it saw the 204
    late_patch = await tus.patch(path, 0, data[:MIB])  # one still on its way, from before
    _, other = await upload_request(client, harness, tenant)
    assert (asked_again.status_code, asked_again.headers["upload-offset"]) == (200, str(len(data)))
    assert asked_again.headers["upload-length"] == str(len(data))
    assert late_patch.status_code == 409 and late_patch.json()["offset"] == len(data)  # HEAD will say the rest
    assert (await other.head(path)).status_code == 404  # still bound to its link
    assert len(await harness.events(tenant.tenant_id, "FileUploaded")) == 1  # one file, announced once
    # Forgotten after as long as an abandoned upload is kept; the file itself stays.
    await harness.pool.execute(f'UPDATE "{harness.settings.schema}".completed_uploads SET completed_at = now()'
                               " - interval '100 hours' WHERE upload_id = $1", path.rsplit("/", 1)[1])
    await replica.abandon_stale()
    assert (await tus.head(path)).status_code == 404
    [event] = await harness.events(tenant.tenant_id, "FileUploaded")
    key = f"tenants/{tenant.tenant_id}/documents/{json.loads(event['data'])['file_id']}"
    assert await harness.storage.get_bytes(key) == data


async def test_tus_discovery_and_protocol_errors(client, harness, tenant):
    _, tus = await upload_request(client, harness, tenant)
    options = await client.options("/guest/uploads", headers=tus.headers)
    assert options.status_code == 204
    assert options.headers["tus-version"] == "1.0.0"
    assert set(options.headers["tus-extension"].split(",")) == {"creation", "termination"}
    no_version = await client.post("/guest/uploads", headers={ASSERTION_HEADER: tus.headers[ASSERTION_HEADER],
                                                              "upload-length": "10"})
    assert no_version.status_code == 412
    path = tus.path_of(await tus.create(1000, filename="a.pdf"))
    wrong_type = await client.patch(path, content=b"x", headers={**tus.headers, "upload-offset": "0",
                                                                  "content-type": "text/plain"})
    assert wrong_type.status_code == 415
    no_gateway = await client.post("/guest/uploads", headers={"tus-resumable": "1.0.0", "upload-length": "10"})
    assert no_gateway.status_code == 401


async def test_the_upload_page_states_the_limits_in_the_guests_language(client, harness, tenant):
    request, tus = await upload_request(client, harness, tenant, max_files=4, max_file_size=20_000_000,
                                        allowed_types=["application/pdf", "image/*"])
    link_id = request["links"][0]["link_id"]
    page = await client.get("/guest/", headers={**tus.headers, "accept-language": "es"})
    assert page.status_code == 200
    assert '<html lang="es">' in page.text
    assert "Hasta 4 archivos, de 20 MB como máximo cada uno. Se aceptan: PDF, imágenes." in page.text
    assert f'data-endpoint="/g/{link_id}/uploads"' in page.text
    # PATCHes of several parts, so the server stores parts while the rest of a PATCH arrives.
    assert f'data-chunk-size="{harness.settings.upload_chunk_size}"' in page.text
    assert harness.settings.upload_chunk_size > harness.settings.upload_part_size
    assert f'src="/g/{link_id}/static/upload.js' in page.text
    assert "<script>" not in page.text  # the gateway's CSP allows no inline script
    script = await client.get("/guest/static/upload.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]


async def test_one_patch_at_a_time_per_upload(client, harness, tenant):
    _, tus = await upload_request(client, harness, tenant)
    path = tus.path_of(await tus.create(1000, filename="a.pdf"))
    upload_id = path.rsplit("/", 1)[1]
    busy = await harness.pool.fetchrow(
        f'UPDATE "{harness.settings.schema}".tus_uploads SET lease_owner = $2,'
        " lease_until = now() + interval '1 minute' WHERE upload_id = $1 RETURNING upload_id", upload_id, "other")
    assert busy is not None
    response = await tus.patch(path, 0, pdf_of(1000))
    assert response.status_code == 423  # tus clients retry this after a short wait
    await harness.pool.execute(f'UPDATE "{harness.settings.schema}".tus_uploads SET lease_until = now()'
                               " - interval '1 second' WHERE upload_id = $1", upload_id)
    assert (await tus.patch(path, 0, pdf_of(1000))).status_code == 204  # an expired lease is taken over


async def test_abandoned_uploads_are_aborted_by_the_worker(client, harness, tenant, replica):
    _, tus = await upload_request(client, harness, tenant)
    path = tus.path_of(await tus.create(7 * MIB, filename="left.pdf"))
    assert (await tus.patch(path, 0, pdf_of(7 * MIB)[:6 * MIB])).status_code == 204  # one part stored
    assert await harness.unfinished_multipart(tenant.tenant_id) != []
    await harness.pool.execute(f'UPDATE "{harness.settings.schema}".tus_uploads SET updated_at = now()'
                               " - interval '100 hours' WHERE upload_id = $1", path.rsplit("/", 1)[1])
    assert await replica.abandon_stale() >= 1
    assert (await tus.head(path)).status_code == 404
    await assert_nothing_stored(harness, tenant)
