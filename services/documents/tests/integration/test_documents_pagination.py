"""Every list of the documents staff API pages the same way (``loginless.shared.web.pagination``), on PostgreSQL.

Bad inputs tried: a limit over the maximum, a cursor that is not one of ours."""

import pytest

from loginless.testkit.pages import assert_paginated

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _post(client, tenant, path, **kwargs):
    response = await client.post(path, headers={**tenant.headers, **kwargs.pop("headers", {})}, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()


async def test_accounts_documents_and_folders_are_paginated(client, tenant):
    accounts = [await _post(client, tenant, "/v1/accounts", json={"name": f"Client {n}"}) for n in range(5)]
    account_id = accounts[0]["account_id"]
    folders = [await _post(client, tenant, f"/v1/accounts/{account_id}/folders", json={"name": f"Year {n}"})
               for n in range(5)]
    documents = [await _post(client, tenant, "/v1/documents", params={"account_id": account_id, "name": f"{n}.pdf"},
                             content=PDF + bytes([n]), headers={"content-type": "application/octet-stream"})
                 for n in range(5)]

    await assert_paginated(client, "/v1/accounts", items="accounts", id_of="account_id",
                           expected={a["account_id"] for a in accounts}, headers=tenant.headers)
    await assert_paginated(client, f"/v1/accounts/{account_id}/folders", items="folders", id_of="folder_id",
                           expected={f["folder_id"] for f in folders}, headers=tenant.headers)
    await assert_paginated(client, "/v1/documents", items="documents", id_of="document_id",
                           expected={d["document_id"] for d in documents}, headers=tenant.headers,
                           params={"account_id": account_id})
