"""The requests staff API's lists page the same way as every other (``loginless.shared.web.pagination``).

Bad inputs tried: a limit over the maximum, a cursor that is not one of ours."""

from __future__ import annotations

import pytest

from loginless.testkit.pages import assert_paginated

pytestmark = pytest.mark.integration


async def test_templates_requests_and_contacts_are_paginated(client, tenant, send):
    sent = [await send() for _ in range(3)]  # each with a template of its own
    contacts = []
    for n in range(3):
        added = await client.post("/v1/accounts/acc_paged/contacts", headers=tenant.headers,
                                  json={"name": f"Contact {n}", "email": f"c{n}@example.test"})
        assert added.status_code == 201, added.text
        contacts.append(added.json()["contact_id"])

    await assert_paginated(client, "/v1/templates", items="templates", id_of="template_id", headers=tenant.headers,
                           expected={s.template_id for s in sent})
    await assert_paginated(client, "/v1/requests", items="requests", id_of="client_request_id",
                           headers=tenant.headers, expected={s.request_id for s in sent})
    await assert_paginated(client, "/v1/accounts/acc_paged/contacts", items="contacts", id_of="contact_id",
                           headers=tenant.headers, expected=set(contacts))
