"""The links staff API's lists page the same way as every other (``loginless.shared.web.pagination``).

Bad inputs tried: a limit over the maximum, a cursor that is not one of ours."""

import pytest

from loginless.testkit.pages import assert_paginated

pytestmark = pytest.mark.integration

INTERNAL = {"Authorization": "Bearer test-internal-secret"}


async def test_links_accesses_and_api_keys_are_paginated(client, staff, issue):
    recipients = [{"email": f"guest-{n}@example.test"} for n in range(5)]
    links = await issue(client, staff, resource_id="doc-paged", recipients=recipients)
    link_id = links[0]["link_id"]
    for n in range(5):  # each opening from a browser of its own, to tell the accesses apart
        opened = await client.post(f"/internal/v1/links/{link_id}/opened", headers=INTERNAL,
                                   json={"client_ip": "203.0.113.9", "user_agent": f"browser {n}"})
        assert opened.status_code == 204, opened.text
    keys = [staff.api_key.split("_")[1]]
    for _ in range(3):
        created = await client.post("/v1/api-keys", headers=staff.headers)
        assert created.status_code == 201, created.text
        keys.append(created.json()["key_id"])

    await assert_paginated(client, "/v1/links", items="links", id_of="link_id", headers=staff.headers,
                           params={"resource_id": "doc-paged"}, expected={link["link_id"] for link in links})
    await assert_paginated(client, f"/v1/links/{link_id}/accesses", items="accesses",
                           id_of=lambda access: access["user_agent"], headers=staff.headers,
                           expected={f"browser {n}" for n in range(5)})
    await assert_paginated(client, "/v1/api-keys", items="api_keys", id_of="key_id", headers=staff.headers,
                           expected=set(keys))
