"""The notifications staff API's lists page the same way as every other (``loginless.shared.web.pagination``).

Bad inputs tried: a limit over the maximum, a cursor that is not one of ours."""

from __future__ import annotations

import base64
import secrets
import uuid

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from loginless.notifications.bootstrap import create_app
from loginless.notifications.repository import WebhooksRepository
from loginless.testkit.fake_links import FakeLinks
from loginless.testkit.pages import assert_paginated

pytestmark = pytest.mark.integration

VIEWED = "loginless.documents.DocumentViewed.v1"


async def test_webhook_endpoints_and_their_deliveries_are_paginated(settings, pool, clock):
    hooks = settings.model_copy(update={
        "webhook_data_key": SecretStr(base64.b64encode(secrets.token_bytes(32)).decode()),
        "webhook_allow_private_addresses": True})
    links = FakeLinks(clock=clock)
    tenant_id = links.add_tenant(name="Ortega & Lane")
    async with AsyncTestClient(create_app(hooks, links=links, clock=clock)) as api:
        staff = {"Authorization": f"Bearer {links.add_api_key(tenant_id)}"}
        endpoints = []
        for n in range(3):
            made = await api.post("/v1/webhook-endpoints", json={"url": f"http://127.0.0.1:9/hook-{n}"}, headers=staff)
            assert made.status_code == 201, made.text
            endpoints.append(made.json()["endpoint_id"])
        deliveries = [f"dlv_{uuid.uuid4().hex}" for _ in range(3)]
        async with pool.acquire() as connection:  # events queued for the first endpoint, as the consumer does
            for delivery_id in deliveries:
                await WebhooksRepository(hooks.schema).queue_webhook(
                    connection, delivery_id=delivery_id, endpoint_id=endpoints[0], tenant_id=tenant_id,
                    subject="axs", event_id=str(uuid.uuid4()), event_type=VIEWED, body=b"{}", now=clock())

        await assert_paginated(api, "/v1/webhook-endpoints", items="endpoints", id_of="endpoint_id",
                               headers=staff, expected=set(endpoints))
        await assert_paginated(api, f"/v1/webhook-endpoints/{endpoints[0]}/deliveries", items="deliveries",
                               id_of="delivery_id", headers=staff, expected=set(deliveries))
