"""The staff API (/v1) against real PostgreSQL: issuing, idempotency, tenancy, revocation, keys and branding."""

from datetime import datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from loginless.links.bootstrap import create_app
from loginless.links.tokens import TOKEN_LENGTH

pytestmark = pytest.mark.integration


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_each_recipient_gets_a_link_of_its_own_with_the_actions_default_expiry(
        client, staff, issue, clock, pool, settings):
    recipients = [{"name": "Ana", "email": "ana@example.test"}, {"phone": "+34 611 222 333", "language": "es"}]
    signing = await issue(client, staff, action="sign", resource_id="sig-1", recipients=recipients)
    viewing = await issue(client, staff, action="view", resource_id="doc-1")

    assert len(signing) == 2 and len({link["link_id"] for link in signing}) == 2
    tokens = {link["url"].removeprefix("https://guests.example.test/l/") for link in signing}
    assert len(tokens) == 2 and all(len(token) == TOKEN_LENGTH for token in tokens)
    assert [link["recipient"]["phone"] for link in signing] == [None, "+34611222333"]  # stored as E.164
    assert all(at(link["expires_at"]) == clock.now + timedelta(days=7) for link in signing)
    assert at(viewing[0]["expires_at"]) == clock.now + timedelta(days=30)
    streams = await pool.fetch(f'SELECT stream_id, count(*) AS events FROM "{settings.schema}".events'
                               " GROUP BY stream_id")
    assert {row["stream_id"]: row["events"] for row in streams} == {
        link["link_id"]: 1 for link in signing + viewing}

    shown = await client.get(f"/v1/links/{signing[0]['link_id']}", headers=staff.headers)
    assert shown.status_code == 200
    body = shown.json()
    assert {key: body[key] for key in ("action", "resource_id", "status", "opens", "uses", "max_uses")} == {
        "action": "sign", "resource_id": "sig-1", "status": "active", "opens": 0, "uses": 0, "max_uses": None}
    assert body["recipient"] == {"name": "Ana", "email": "ana@example.test", "phone": None, "language": None}


async def test_explicit_expiry_and_the_configured_defaults_are_honoured(client, staff, issue, clock):
    explicit = (clock.now + timedelta(hours=5)).isoformat()
    assert at((await issue(client, staff, expires_at=explicit))[0]["expires_at"]) == at(explicit)
    relative = await issue(client, staff, action="pay", expires_in_seconds=600)
    assert at(relative[0]["expires_at"]) == clock.now + timedelta(seconds=600)
    upload = await issue(client, staff, action="upload")
    assert at(upload[0]["expires_at"]) == clock.now + timedelta(days=14)


async def test_a_deployment_without_sms_refuses_links_by_sms_when_issued_and_writes_nothing(
        settings, clock, pool, staff):
    without_sms = settings.model_copy(update={"sms_provider": "none"})
    async with AsyncTestClient(create_app(without_sms, clock=clock)) as client:
        refused = await client.post("/v1/links", headers=staff.headers, json={
            "action": "view", "resource_id": "doc-no-sms", "verification": "sms",
            "recipients": [{"phone": "+34600000000", "delivery": "sms"}]})
        listed = await client.get("/v1/links", params={"resource_id": "doc-no-sms"}, headers=staff.headers)
        by_email = await client.post("/v1/links", headers=staff.headers, json={
            "action": "view", "resource_id": "doc-no-sms-2",
            "recipients": [{"email": "ana@example.test", "phone": "+34600000000", "delivery": "email"}]})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert {error["field"] for error in refused.json()["errors"]} == {"recipients[0].delivery", "verification"}
    assert listed.status_code == 200 and listed.json()["links"] == []  # nothing half-issued
    assert by_email.status_code == 201


async def test_rule_breaking_requests_are_422_problems_naming_every_broken_rule(client, staff, clock):
    """Bad inputs tried: a resource id with a space, expiry in the past, a recipient without e-mail or phone,
    SMS delivery without a phone, a malformed e-mail, e-mail verification for a phone-only recipient."""
    body = {
        "action": "view", "resource_id": "doc 1", "expires_at": (clock.now - timedelta(minutes=1)).isoformat(),
        "verification": "email",
        "recipients": [{"name": "Nobody"}, {"email": "not-an-address", "delivery": "sms"}, {"phone": "+34600000000"}],
    }
    response = await client.post("/v1/links", json=body, headers=staff.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = sorted(error["field"] for error in response.json()["errors"])
    assert fields == ["expires_at", "recipients[0]", "recipients[0].email", "recipients[1].delivery",
                      "recipients[1].email", "recipients[2].email", "resource_id"]
    not_json_shape = await client.post("/v1/links", json={"action": "fly", "recipients": []}, headers=staff.headers)
    assert not_json_shape.status_code == 400
    assert not_json_shape.headers["content-type"] == "application/problem+json"


async def test_the_same_idempotency_key_and_body_replays_the_response_without_issuing_again(
        client, staff, pool, settings):
    body = {"action": "pay", "resource_id": "inv-7", "recipients": [{"email": "payer@example.test"}]}
    headers = {**staff.headers, "Idempotency-Key": "order-7"}
    first = await client.post("/v1/links", json=body, headers=headers)
    again = await client.post("/v1/links", json=body, headers=headers)
    other_body = await client.post("/v1/links", json={**body, "resource_id": "inv-8"}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert other_body.status_code == 422 and other_body.json()["type"].endswith("/idempotency-key-reused")
    assert await pool.fetchval(f'SELECT count(*) FROM "{settings.schema}".links') == 1
    stored = await pool.fetchval(f'SELECT body FROM "{settings.schema}".idempotent_answers')
    token = first.json()["links"][0]["url"].rsplit("/", 1)[1]
    assert token.encode() not in stored and b"link_id" not in stored  # encrypted at rest


async def test_idempotency_keys_are_per_tenant(client, staff, make_staff):
    other = await make_staff()
    body = {"action": "view", "resource_id": "doc-9", "recipients": [{"email": "x@example.test"}]}
    mine = await client.post("/v1/links", json=body, headers={**staff.headers, "Idempotency-Key": "k"})
    theirs = await client.post("/v1/links", json=body, headers={**other.headers, "Idempotency-Key": "k"})
    assert theirs.status_code == 201 and theirs.json() != mine.json()


async def test_a_tenant_never_sees_or_touches_another_tenants_links(client, staff, make_staff, issue):
    link = (await issue(client, staff, resource_id="shared-id"))[0]
    other = await make_staff()
    await issue(client, other, resource_id="shared-id")

    for response in (await client.get(f"/v1/links/{link['link_id']}", headers=other.headers),
                     await client.post(f"/v1/links/{link['link_id']}/revoke", headers=other.headers),
                     await client.get(f"/v1/links/{link['link_id']}/accesses", headers=other.headers)):
        assert response.status_code == 404
        assert response.json()["detail"] == "no such link"
    listed = await client.get("/v1/links", params={"resource_id": "shared-id"}, headers=other.headers)
    assert link["link_id"] not in {row["link_id"] for row in listed.json()["links"]}
    mine = await client.get(f"/v1/links/{link['link_id']}", headers=staff.headers)
    assert mine.json()["status"] == "active"  # the other tenant's revoke did nothing


async def test_listing_by_resource_returns_that_resources_links_newest_first(client, staff, issue, clock):
    first = (await issue(client, staff, resource_id="r-1"))[0]
    clock.advance(seconds=1)
    second = (await issue(client, staff, resource_id="r-1"))[0]
    await issue(client, staff, resource_id="r-2")
    listed = await client.get("/v1/links", params={"resource_id": "r-1"}, headers=staff.headers)
    assert [link["link_id"] for link in listed.json()["links"]] == [second["link_id"], first["link_id"]]


async def test_status_goes_from_active_to_used_up_expired_or_revoked(client, staff, issue, clock):
    used = (await issue(client, staff, max_uses=2))[0]
    expiring = (await issue(client, staff, expires_in_seconds=60))[0]
    revoked = (await issue(client, staff))[0]
    internal = {"Authorization": "Bearer test-internal-secret"}

    async def status(link):
        return (await client.get(f"/v1/links/{link['link_id']}", headers=staff.headers)).json()["status"]

    for _ in range(2):
        assert (await client.post(f"/internal/v1/links/{used['link_id']}/use", headers=internal)).status_code == 200
    first_revoke = await client.post(f"/v1/links/{revoked['link_id']}/revoke", headers=staff.headers)
    second_revoke = await client.post(f"/v1/links/{revoked['link_id']}/revoke", headers=staff.headers)
    assert await status(expiring) == "active"
    clock.advance(seconds=61)

    assert [await status(link) for link in (used, expiring, revoked)] == ["used_up", "expired", "revoked"]
    assert first_revoke.json()["revoked_at"] == second_revoke.json()["revoked_at"]  # revoking twice: once


async def test_staff_calls_need_a_valid_unrevoked_key(client, staff):
    assert (await client.get("/v1/tenant")).status_code == 401
    assert (await client.get("/v1/tenant", headers={"Authorization": "Bearer ll_nope_" + "x" * 43})).status_code == 401
    tampered = staff.api_key[:-1] + ("A" if staff.api_key[-1] != "A" else "B")
    assert (await client.get("/v1/tenant", headers={"Authorization": f"Bearer {tampered}"})).status_code == 401

    created = await client.post("/v1/api-keys", headers=staff.headers)
    assert created.status_code == 201
    new_key = created.json()
    assert new_key["api_key"].startswith(f"ll_{new_key['key_id']}_")
    new_headers = {"Authorization": f"Bearer {new_key['api_key']}"}
    assert (await client.get("/v1/tenant", headers=new_headers)).json()["tenant_id"] == staff.tenant_id
    listed = await client.get("/v1/api-keys", headers=new_headers)
    assert new_key["key_id"] in {key["key_id"] for key in listed.json()["api_keys"]}
    assert "api_key" not in listed.json()["api_keys"][0]

    assert (await client.delete(f"/v1/api-keys/{new_key['key_id']}", headers=staff.headers)).status_code == 204
    assert (await client.get("/v1/tenant", headers=new_headers)).status_code == 401
    assert (await client.delete(f"/v1/api-keys/{new_key['key_id']}", headers=staff.headers)).status_code == 404


async def test_a_retried_api_key_creation_gets_the_same_key_and_the_stored_answer_is_sealed(
        client, staff, pool, settings):
    headers = {**staff.headers, "Idempotency-Key": "rotate-2026"}
    first = await client.post("/v1/api-keys", headers=headers)
    again = await client.post("/v1/api-keys", headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    listed = await client.get("/v1/api-keys", headers=staff.headers)
    assert len(listed.json()["api_keys"]) == 2  # the tenant's first key and one new one, not two
    stored = await pool.fetchval(f'SELECT body FROM "{settings.schema}".idempotent_answers'
                                 " WHERE operation = 'create-api-key'")
    assert first.json()["api_key"].encode() not in stored


async def test_branding_and_contact_are_changed_by_patch_and_shown_to_the_gateway(client, staff):
    changed = await client.patch("/v1/tenant", headers=staff.headers, json={
        "branding": {"color": "#aa3300", "logo_url": "https://cdn.example.test/logo.png"},
        "contact": {"phone": None}})
    assert changed.status_code == 200
    assert changed.json()["branding"] == {"color": "#aa3300", "logo_url": "https://cdn.example.test/logo.png"}
    assert changed.json()["contact"] == {"name": "Front desk", "email": "desk@ortega-lane.test", "phone": None}

    refused = await client.patch("/v1/tenant", headers=staff.headers, json={
        "name": None, "branding": {"color": "red;background:url(x)", "logo_url": "javascript:alert(1)"}})
    assert refused.status_code == 422
    assert sorted(error["field"] for error in refused.json()["errors"]) == ["color", "logo_url", "name"]

    branding = await client.get(f"/internal/v1/tenants/{staff.tenant_id}/branding",
                                headers={"Authorization": "Bearer test-internal-secret"})
    assert branding.json() == {"name": "Ortega & Lane Tax Advisors", "logo_url": "https://cdn.example.test/logo.png",
                               "color": "#aa3300", "contact_name": "Front desk",
                               "contact_email": "desk@ortega-lane.test", "contact_phone": None}


async def test_the_openapi_document_describes_the_staff_api_but_not_the_internal_one(client):
    document = (await client.get("/schema/openapi.json")).json()
    assert {"/v1/links", "/v1/links/{link_id}", "/v1/links/{link_id}/revoke", "/v1/tenant", "/v1/api-keys",
            "/v1/api-keys/{key_id}"} <= set(document["paths"])
    assert not [path for path in document["paths"] if path.startswith("/internal")]
    issue_operation = document["paths"]["/v1/links"]["post"]
    assert {"201", "401", "422"} <= set(issue_operation["responses"])
    assert "Idempotency-Key" in {parameter["name"] for parameter in issue_operation["parameters"]}
    reset_operation = document["paths"]["/v1/links/{link_id}/verification/reset"]["post"]
    assert {"200", "401", "404", "410"} <= set(reset_operation["responses"])
