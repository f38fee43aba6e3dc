"""The signing staff API's lists page the same way as every other (``loginless.shared.web.pagination``).

Bad inputs tried: a limit over the maximum, a cursor that is not one of ours."""

from __future__ import annotations

import pytest

from loginless.testkit.pages import assert_paginated

from .conftest import envelope_body
from .test_templates_and_bulk_send import template_body

pytestmark = pytest.mark.integration


async def _created(client, tenant, path: str, body: dict) -> dict:  # noqa: ANN001
    response = await client.post(path, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_envelopes_and_templates_are_paginated(client, tenant):
    envelopes = [await _created(client, tenant, "/v1/envelopes", envelope_body(("Ana Ortiz", "ana@example.test"),
                                                                               send=False)) for _ in range(3)]
    templates = [await _created(client, tenant, "/v1/templates", template_body(name=f"Letter {n}"))
                 for n in range(3)]
    await assert_paginated(client, "/v1/envelopes", items="envelopes", id_of="envelope_id",
                           expected={e["envelope_id"] for e in envelopes}, headers=tenant.headers)
    await assert_paginated(client, "/v1/templates", items="templates", id_of="template_id",
                           expected={t["template_id"] for t in templates}, headers=tenant.headers)
