"""The invoice list pages the same way as every other list (``loginless.shared.web.pagination``).

Bad inputs tried: a limit over the maximum, a cursor that is not one of ours."""

from __future__ import annotations

import pytest

from loginless.testkit.pages import assert_paginated

from .conftest import invoice_body

pytestmark = pytest.mark.integration


async def test_invoices_are_paginated(client, tenant):
    invoices = []
    for _ in range(3):
        response = await client.post("/v1/invoices", json=invoice_body(), headers=tenant.headers)
        assert response.status_code == 201, response.text
        invoices.append(response.json()["invoice_id"])
    await assert_paginated(client, "/v1/invoices", items="invoices", id_of="invoice_id", expected=set(invoices),
                           headers=tenant.headers)
