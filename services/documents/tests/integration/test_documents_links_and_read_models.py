"""Shares and upload requests are recorded before their links exist: each recipient's link is issued after the
commit, once, by a step the worker retries until done, or the request fails and any issued link is revoked. What
links reports about our links reaches our views. And every read model is a projection a rebuild reproduces."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaProducer

from loginless.documents.consumers import links_events_consumer
from loginless.documents.handlers import work_through_link_jobs
from loginless.documents.projections import DocumentRows
from loginless.events import CloudEvent
from loginless.events.payloads.links import LinkExpired, LinkRevoked
from loginless.shared.messaging import build_broker
from loginless.testkit.read_models import rebuild_with_the_command, snapshot
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.7\n" + b"0" * 2000
RECIPIENTS = [{"email": "banker@example.test", "name": "Banker"}, {"email": "lawyer@example.test"},
              {"email": "bookkeeper@example.test", "language": "es"}]


async def a_document(client, tenant) -> str:
    account = (await client.post("/v1/accounts", json={"name": "Ana"}, headers=tenant.headers)).json()
    uploaded = await client.post("/v1/documents", content=PDF, headers=tenant.headers,
                                 params={"account_id": account["account_id"], "name": "contract.pdf"})
    return uploaded.json()["document_id"]


async def share_with(client, tenant, recipients=RECIPIENTS, **body):  # noqa: ANN001, ANN201
    document_id = await a_document(client, tenant)
    return await client.post(f"/v1/documents/{document_id}/shares", headers=tenant.headers,
                             json={"recipients": recipients, "expires_in_seconds": 7200, **body})


async def types_in(harness, stream_id: str) -> list[str]:
    rows = await harness.pool.fetch(f'SELECT type FROM "{harness.settings.schema}".events WHERE stream_id = $1'
                                    " ORDER BY version", stream_id)
    return [row["type"].split(".")[2] for row in rows]


@pytest.fixture
def links_fail(harness):  # noqa: ANN201
    """``links_fail(after=n, answer_lost=...)``: the links service fails after ``n`` more issues (until the test
    ends)."""
    yield harness.links.fail_issuing_after
    harness.links.fail_issuing_after(None)


@pytest.mark.parametrize("answer_lost", [False, True], ids=["issue-refused", "answer-lost-after-issuing"])
async def test_links_failing_part_way_leave_the_share_pending_and_the_worker_issues_each_link_once(
        client, harness, tenant, links_fail, answer_lost):
    links_fail(1, answer_lost=answer_lost)
    response = await share_with(client, tenant)

    assert response.status_code == 202, response.text  # recorded; its links follow
    share = response.json()
    assert share["status"] == "pending"
    assert [(link["link_id"] is not None, link["url"] is not None, link["status"]) for link in share["links"]] == [
        (True, True, "active"), (False, False, "pending"), (False, False, "pending")]
    detail = (await client.get(f"/v1/shares/{share['share_id']}", headers=tenant.headers)).json()
    assert detail["status"] == "pending" and [link["status"] for link in detail["links"]] == [
        "active", "pending", "pending"]

    links_fail(None)  # links is back
    await work_through_link_jobs(harness.context())

    detail = (await client.get(f"/v1/shares/{share['share_id']}", headers=tenant.headers)).json()
    assert detail["status"] == "active" and {link["status"] for link in detail["links"]} == {"active"}
    at_links = harness.links.links_for(share["share_id"])
    assert sorted(link.recipient.email for link in at_links) == sorted(r["email"] for r in RECIPIENTS)  # one each
    assert {link.link_id for link in at_links} == {link["link_id"] for link in detail["links"]}
    assert {link.recipient.email: link.recipient.language for link in at_links}["bookkeeper@example.test"] == "es"
    assert await types_in(harness, share["share_id"]) == [
        "SharePrepared", "RecipientLinkIssued", "RecipientLinkIssued", "RecipientLinkIssued", "DocumentShared"]
    assert await work_through_link_jobs(harness.context()) == 0  # nothing left to do


async def test_a_share_whose_links_cannot_be_issued_in_time_fails_and_the_link_already_issued_is_revoked(
        client, harness, tenant, links_fail):
    links_fail(1)
    share = (await share_with(client, tenant)).json()
    [issued] = [link["link_id"] for link in share["links"] if link["link_id"]]
    deadline = timedelta(seconds=harness.settings.link_issuing_deadline_seconds)

    await work_through_link_jobs(harness.context())  # links still fails: the job waits
    assert (await client.get(f"/v1/shares/{share['share_id']}", headers=tenant.headers)).json()["status"] == "pending"
    harness.clock.shift = deadline + timedelta(minutes=1)
    try:
        await eventually(lambda: _worked(harness, share["share_id"]), timeout=30,
                         message="the job's retry to come due")
    finally:
        harness.clock.shift = timedelta()

    detail = (await client.get(f"/v1/shares/{share['share_id']}", headers=tenant.headers)).json()
    assert detail["status"] == "failed" and "in time" in detail["failure"]
    assert harness.links.state_of(issued).status == "revoked"  # no live link points at a share that is not
    assert await types_in(harness, share["share_id"]) == ["SharePrepared", "RecipientLinkIssued", "ShareFailed"]
    guest = await client.get("/guest/", headers=harness.guest_headers_for(issued))
    assert guest.status_code == 410


async def _worked(harness, share_id: str) -> bool:  # noqa: ANN001
    """One round of the worker; whether the share's issuing job is done."""
    await work_through_link_jobs(harness.context())
    return not await harness.pool.fetchval(
        f'SELECT count(*) FROM "{harness.settings.schema}".link_issuing_jobs WHERE resource_id = $1', share_id)


async def test_links_refusing_the_request_fails_it_at_once_and_says_why(client, harness, tenant):
    # A staff key links accepts, of a tenant whose links cannot be issued (links has no such tenant).
    stranger = replace(tenant, tenant_id="firm-unknown-to-links",
                       api_key=harness.links.add_api_key("firm-unknown-to-links"))
    refused = await share_with(client, stranger, recipients=RECIPIENTS[:1])
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    share_id = refused.json()["resource_id"]
    detail = (await client.get(f"/v1/shares/{share_id}", headers=stranger.headers)).json()
    assert detail["status"] == "failed" and "tenant" in detail["failure"]
    assert await types_in(harness, share_id) == ["SharePrepared", "ShareFailed"]


async def test_revoking_a_share_or_one_link_ends_them_here_at_once_and_at_links(client, harness, tenant):
    share = (await share_with(client, tenant)).json()
    first, second, third = (link["link_id"] for link in share["links"])
    one = await client.post(f"/v1/shares/{share['share_id']}/links/{first}/revoke", headers=tenant.headers)
    assert [link["status"] for link in one.json()["links"]] == ["revoked", "active", "active"]
    assert harness.links.state_of(first).status == "revoked" and harness.links.state_of(second).status == "active"
    assert (await client.get("/guest/", headers=harness.guest_headers_for(first))).status_code == 410
    assert (await client.get("/guest/", headers=harness.guest_headers_for(second))).status_code == 200

    harness.links.unavailable = True  # links is down: documents still refuses guests at once, and retries later
    try:
        whole = await client.post(f"/v1/shares/{share['share_id']}/revoke", headers=tenant.headers)
        assert whole.status_code == 200 and whole.json()["status"] == "revoked"
        assert (await client.get("/guest/", headers=harness.guest_headers_for(second))).status_code == 410
        assert harness.links.state_of(second).status == "active"
    finally:
        harness.links.unavailable = False
    await work_through_link_jobs(harness.context())
    assert {harness.links.state_of(link_id).status for link_id in (first, second, third)} == {"revoked"}
    assert await types_in(harness, share["share_id"]) == [
        "SharePrepared", *["RecipientLinkIssued"] * 3, "DocumentShared", "RecipientLinkRevoked", "ShareRevoked"]


async def test_links_revoked_or_expired_at_links_are_shown_so_here(client, harness, tenant,
                                                                  kafka_bootstrap_servers):
    share = (await share_with(client, tenant)).json()
    revoked_there, expired_there, untouched = (link["link_id"] for link in share["links"])
    settings = harness.settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."})
    broker = build_broker(kafka_bootstrap_servers, client_id="documents-test")
    links_events_consumer(harness.context(settings=settings)).subscribe(broker)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        await harness.links.revoke(tenant.tenant_id, revoked_there)  # staff revoke it at links directly
        now = harness.clock()
        for payload in (LinkRevoked(link_id=revoked_there, tenant_id=tenant.tenant_id, revoked_at=now),
                        LinkExpired(link_id=expired_there, tenant_id=tenant.tenant_id, expires_at=now),
                        LinkRevoked(link_id=str(uuid.uuid4()), tenant_id=tenant.tenant_id, revoked_at=now)):
            event = CloudEvent(source=payload.source(), type=payload.type_name(), subject=payload.link_id,
                               data=payload.model_dump(mode="json"), tenantid=tenant.tenant_id, correlationid="t")
            key, value, headers = event.to_message()
            await producer.send_and_wait(settings.topic_of("links"), value, key=key, headers=headers)
        await broker.start()  # after the topic exists; the consumer reads it from the start

        async def shown() -> list[str] | None:
            detail = (await client.get(f"/v1/shares/{share['share_id']}", headers=tenant.headers)).json()
            statuses = [link["status"] for link in detail["links"]]
            return statuses if statuses != ["active"] * 3 and "active" not in statuses[:2] else None

        assert await eventually(shown, timeout=60, message="the links events applied") == [
            "revoked", "expired", "active"]
    finally:
        await producer.stop()
        await broker.stop()
    assert (await client.get("/guest/", headers=harness.guest_headers_for(revoked_there))).status_code == 410
    assert (await client.get("/guest/", headers=harness.guest_headers_for(untouched))).status_code == 200
    recorded = await types_in(harness, share["share_id"])
    assert recorded[:5] == ["SharePrepared", *["RecipientLinkIssued"] * 3, "DocumentShared"]
    # The two links are two keys, maybe two partitions: their events may come in either order.
    assert sorted(recorded[5:]) == ["RecipientLinkExpired", "RecipientLinkRevoked"]


async def test_a_rebuild_of_the_read_models_finds_every_row_equal(client, harness, tenant):
    account = (await client.post("/v1/accounts", json={"name": "Ana", "email": "ana@example.test"},
                                 headers=tenant.headers)).json()
    await client.post(f"/v1/accounts/{account['account_id']}/invite", headers=tenant.headers)
    folder = (await client.post(f"/v1/accounts/{account['account_id']}/folders", json={"name": "2025"},
                                headers=tenant.headers)).json()
    await client.post("/v1/documents", content=PDF, headers=tenant.headers,
                      params={"account_id": account["account_id"], "folder_id": folder["folder_id"], "name": "a.pdf"})
    viewed = (await share_with(client, tenant, view_only=True)).json()
    await client.get("/guest/", headers=harness.guest_headers_for(viewed["links"][0]["link_id"]))
    await client.post(f"/v1/shares/{viewed['share_id']}/links/{viewed['links'][1]['link_id']}/revoke",
                      headers=tenant.headers)
    revoked = (await share_with(client, tenant)).json()
    await client.post(f"/v1/shares/{revoked['share_id']}/revoke", headers=tenant.headers)
    request = (await client.post("/v1/upload-requests", headers=tenant.headers, json={
        "folder_id": folder["folder_id"], "recipients": RECIPIENTS[:2], "max_files": 3})).json()
    await harness.tus(client, request["links"][0]["link_id"]).upload(PDF, chunk_size=1000, filename="id.pdf")
    live = await snapshot(harness.pool, harness.settings.schema, DocumentRows.tables)
    assert {table: len(rows) > 0 for table, rows in live.items()} == dict.fromkeys(DocumentRows.tables, True)
    await harness.pool.execute(f'UPDATE "{harness.settings.schema}".shares SET status = \'active\'')  # drifted

    output = await rebuild_with_the_command("documents", {
        "DATABASE_URL": harness.settings.database_url, "DATABASE_SCHEMA": harness.settings.schema,
        "S3_ENDPOINT": harness.settings.s3_endpoint, "S3_ACCESS_KEY": harness.settings.s3_access_key,
        "S3_SECRET_KEY": harness.settings.s3_secret_key.get_secret_value(), "S3_BUCKET": harness.settings.s3_bucket})

    assert "read models rebuilt from" in output
    assert await snapshot(harness.pool, harness.settings.schema, DocumentRows.tables) == live


async def test_concurrent_issuing_by_the_request_and_the_worker_gives_each_recipient_one_link(
        client, harness, tenant, links_fail):
    links_fail(0)
    share = (await share_with(client, tenant)).json()
    links_fail(None)
    await asyncio.gather(*(work_through_link_jobs(harness.context()) for _ in range(2)),
                         _issue_again(harness, share["share_id"]))
    assert len(harness.links.links_for(share["share_id"])) == len(RECIPIENTS)
    detail = (await client.get(f"/v1/shares/{share['share_id']}", headers=tenant.headers)).json()
    assert detail["status"] == "active"


async def _issue_again(harness, share_id: str) -> None:  # noqa: ANN001
    from loginless.documents.handlers import issue_links
    from loginless.shared.eventstore import Cause

    await issue_links(harness.context(), share_id, cause=Cause("test"))
