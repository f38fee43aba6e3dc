"""The staff API on real PostgreSQL and S3: accounts, folders, documents, shares, upload requests, tenancy."""

import hashlib
import os

import pytest

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def make_account(client, tenant, **fields):
    response = await client.post("/v1/accounts", json={"name": "Ana García", "email": "ana@example.test", **fields},
                                 headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def make_folder(client, tenant, account_id, name="2025 taxes"):
    response = await client.post(f"/v1/accounts/{account_id}/folders", json={"name": name}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def upload(client, tenant, account_id, body, *, name="report.pdf", folder_id=None, headers=None):
    params = {"account_id": account_id, "name": name, **({"folder_id": folder_id} if folder_id else {})}
    return await client.post("/v1/documents", params=params, content=body,
                             headers={**tenant.headers, "content-type": "application/octet-stream", **(headers or {})})


async def test_a_document_is_streamed_to_s3_with_its_sha256(client, harness, tenant):
    account = await make_account(client, tenant)
    folder = await make_folder(client, tenant, account["account_id"])
    body = os.urandom(12 * 1024 * 1024) + PDF  # more than two 5 MiB parts
    body = PDF + body
    response = await upload(client, tenant, account["account_id"], body, folder_id=folder["folder_id"])
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["sha256"] == hashlib.sha256(body).hexdigest()
    assert document["size"] == len(body)
    assert document["content_type"] == "application/pdf"
    stored = await harness.storage.get_bytes(f"tenants/{tenant.tenant_id}/documents/{document['document_id']}")
    assert hashlib.sha256(stored).hexdigest() == document["sha256"]
    download = await client.get(f"/v1/documents/{document['document_id']}/content", headers=tenant.headers)
    assert download.content == body
    assert download.headers["content-disposition"].startswith("attachment;")
    assert [e["type"] for e in await harness.events(tenant.tenant_id)] == [
        "loginless.documents.ClientAccountCreated.v1", "loginless.documents.FolderCreated.v1",
        "loginless.documents.DocumentAdded.v1"]


async def test_a_document_over_the_size_limit_is_refused_and_nothing_is_kept(client, harness, tenant):
    account = await make_account(client, tenant)
    limit = harness.settings.max_document_size
    too_big = await client.post("/v1/documents", params={"account_id": account["account_id"], "name": "x.pdf"},
                                headers={**tenant.headers, "content-length": str(limit + 1)}, content=b"")
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
    empty = await upload(client, tenant, account["account_id"], b"")
    assert empty.status_code == 400
    assert await harness.objects(tenant.tenant_id) == []
    assert await harness.events(tenant.tenant_id, "DocumentAdded") == []


async def test_another_tenants_ids_are_not_found(client, harness, tenant):
    account = await make_account(client, tenant)
    document = (await upload(client, tenant, account["account_id"], PDF)).json()
    intruder = harness.new_tenant()
    for path in (f"/v1/accounts/{account['account_id']}", f"/v1/documents/{document['document_id']}",
                 f"/v1/documents/{document['document_id']}/content", f"/v1/accounts/{account['account_id']}/folders"):
        response = await client.get(path, headers=intruder.headers)
        assert response.status_code == 404, path
    response = await client.post(f"/v1/documents/{document['document_id']}/shares", headers=intruder.headers,
                                 json={"recipients": [{"email": "x@example.test"}]})
    assert response.status_code == 404
    listed = await client.get("/v1/documents", headers=intruder.headers)
    assert listed.json()["documents"] == []
    assert (await client.get("/v1/accounts", headers={"authorization": "Bearer nope"})).status_code == 401


async def test_guest_accounts_and_accounts_without_portal_access(client, harness, tenant):
    guest = await make_account(client, tenant, kind="guest", name="Uploads from non-clients")
    assert guest["portal_access"] == "disabled"
    refused = await client.post(f"/v1/accounts/{guest['account_id']}/invite", headers=tenant.headers)
    assert refused.status_code == 409
    quiet = await make_account(client, tenant, portal_access=False)
    invited = await client.post(f"/v1/accounts/{quiet['account_id']}/invite", headers=tenant.headers)
    assert invited.status_code == 200
    assert invited.json()["portal_access"] == "invited"
    invitations = await harness.events(tenant.tenant_id, "ClientInvitedToPortal")
    assert len(invitations) == 1 and invitations[0]["stream_id"] == quiet["account_id"]
    with_access = await make_account(client, tenant, portal_access=True)
    assert (await client.post(f"/v1/accounts/{with_access['account_id']}/invite",
                              headers=tenant.headers)).status_code == 409
    bad = await client.post("/v1/accounts", json={"name": "x", "kind": "guest", "portal_access": True},
                            headers=tenant.headers)
    assert bad.status_code == 422


async def test_idempotency_key_replays_the_first_answer(client, harness, tenant):
    headers = {**tenant.headers, "idempotency-key": "create-ana-once"}
    first = await client.post("/v1/accounts", json={"name": "Ana"}, headers=headers)
    again = await client.post("/v1/accounts", json={"name": "Ana"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert len(await harness.events(tenant.tenant_id, "ClientAccountCreated")) == 1
    different = await client.post("/v1/accounts", json={"name": "Bea"}, headers=headers)
    assert different.status_code == 422


async def test_sharing_issues_one_link_per_recipient_and_revoking_ends_them(client, harness, tenant):
    account = await make_account(client, tenant)
    document = (await upload(client, tenant, account["account_id"], PDF)).json()
    response = await client.post(
        f"/v1/documents/{document['document_id']}/shares", headers=tenant.headers,
        json={"recipients": [{"email": "banker@example.test", "name": "Banker"}, {"email": "lawyer@example.test"}],
              "expires_in_seconds": 3600, "view_only": True})
    assert response.status_code == 201, response.text
    share = response.json()
    assert len(share["links"]) == 2 and all(link["url"].startswith("http://gateway.test/l/") for link in share["links"])
    issued = harness.links.links_for(share["share_id"])
    assert {link.action for link in issued} == {"view"} and len(issued) == 2
    [shared] = await harness.events(tenant.tenant_id, "DocumentShared")
    assert shared["stream_id"] == share["share_id"]
    assert '"view_only": true' in shared["data"]
    assert "gateway.test/l/" not in shared["data"]  # no token in events
    revoked = await client.post(f"/v1/shares/{share['share_id']}/revoke", headers=tenant.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert {link.status for link in harness.links.links_for(share["share_id"])} == {"revoked"}
    assert len(await harness.events(tenant.tenant_id, "ShareRevoked")) == 1


async def test_an_upload_request_gives_upload_links_with_its_limits(client, harness, tenant):
    account = await make_account(client, tenant, kind="guest", name="Guests")
    folder = await make_folder(client, tenant, account["account_id"], "From the mortgage banker")
    response = await client.post("/v1/upload-requests", headers=tenant.headers, json={
        "folder_id": folder["folder_id"], "recipients": [{"email": "banker@example.test"}],
        "max_file_size": 1024, "allowed_types": ["application/pdf", "image/*"], "max_files": 2,
        "expires_in_seconds": 600})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["max_files"] == 2 and body["allowed_types"] == ["application/pdf", "image/*"]
    [link] = body["links"]
    assert harness.links.state_of(link["link_id"]).action == "upload"
    too_big = await client.post("/v1/upload-requests", headers=tenant.headers, json={
        "folder_id": folder["folder_id"], "recipients": [{"email": "banker@example.test"}],
        "max_file_size": harness.settings.max_upload_file_size + 1})
    assert too_big.status_code == 422
