"""The platform API (/platform/v1) against real PostgreSQL: tenants and their first API key without database
access, behind the platform operator's own credential, and absent when that credential is not set."""

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from loginless.links.bootstrap import create_app

pytestmark = pytest.mark.integration

PLATFORM_KEY = "platform-admin-" + "x" * 32
ADMIN = {"Authorization": f"Bearer {PLATFORM_KEY}"}


@pytest.fixture
async def platform_client(settings, clock, pool):
    with_platform = settings.model_copy(update={"platform_admin_key": SecretStr(PLATFORM_KEY)})
    async with AsyncTestClient(create_app(with_platform, clock=clock)) as client:
        yield client


async def test_a_tenant_and_its_first_api_key_are_made_through_the_platform_api(platform_client):
    created = await platform_client.post("/platform/v1/tenants", headers=ADMIN, json={
        "tenant_id": "acme", "name": "Acme Advisors", "branding": {"color": "#1f5f8b"},
        "contact": {"email": "desk@acme.test"}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["tenant"] == {"tenant_id": "acme", "name": "Acme Advisors",
                              "branding": {"logo_url": None, "color": "#1f5f8b"},
                              "contact": {"name": None, "email": "desk@acme.test", "phone": None}}
    staff = {"Authorization": f"Bearer {body['api_key']['api_key']}"}
    assert (await platform_client.get("/v1/tenant", headers=staff)).json()["name"] == "Acme Advisors"

    another = await platform_client.post("/platform/v1/tenants/acme/api-keys", headers=ADMIN)
    assert another.status_code == 201
    listed = (await platform_client.get("/v1/api-keys", headers=staff)).json()["api_keys"]
    assert {key["key_id"] for key in listed} == {body["api_key"]["key_id"], another.json()["key_id"]}


async def test_the_platform_api_refuses_a_taken_id_bad_fields_and_any_other_credential(platform_client, staff):
    first = {"tenant_id": "twice", "name": "Twice"}
    assert (await platform_client.post("/platform/v1/tenants", headers=ADMIN, json=first)).status_code == 201
    again = await platform_client.post("/platform/v1/tenants", headers=ADMIN, json={**first, "name": "Other"})
    bad = await platform_client.post("/platform/v1/tenants", headers=ADMIN, json={
        "tenant_id": "ok-id", "name": "Bad", "contact": {"email": "not-an-address"}, "branding": {"color": "red"}})
    bad_id = await platform_client.post("/platform/v1/tenants", headers=ADMIN, json={"tenant_id": "../x", "name": "X"})
    no_key = await platform_client.post("/platform/v1/tenants", json={"tenant_id": "a1", "name": "A"})
    tenant_key = await platform_client.post("/platform/v1/tenants", headers=staff.headers,
                                            json={"tenant_id": "a2", "name": "A"})
    unknown = await platform_client.post("/platform/v1/tenants/nobody/api-keys", headers=ADMIN)
    assert [r.status_code for r in (again, bad, bad_id, no_key, tenant_key, unknown)] == [409, 422, 400, 401, 401, 404]
    assert all(r.headers["content-type"] == "application/problem+json"
               for r in (again, bad, bad_id, no_key, tenant_key, unknown))
    assert {error["field"] for error in bad.json()["errors"]} == {"contact_email", "color"}
    assert again.json()["type"].endswith("/tenant-exists")


async def test_without_the_platform_admin_key_setting_the_platform_api_is_not_there(client, staff):
    for headers in ({}, staff.headers, ADMIN):
        response = await client.post("/platform/v1/tenants", headers=headers, json={"tenant_id": "x", "name": "X"})
        assert response.status_code == 404
    document = (await client.get("/schema/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/platform")]
