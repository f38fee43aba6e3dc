"""FileUploaded reaches Kafka through the outbox, as a CloudEvent keyed by the file id: v2, then v1 beside it (its
deprecation period), in that order on the file's partition."""

import asyncio
import os

import pytest

from loginless.shared.eventstore import KafkaSink, OutboxRelay
from loginless.testkit.kafka import read_topic

pytestmark = pytest.mark.integration


async def test_file_uploaded_is_relayed_to_the_documents_topic(client, harness, tenant, kafka_bootstrap_servers):
    account = (await client.post("/v1/accounts", json={"name": "Guests", "kind": "guest"},
                                 headers=tenant.headers)).json()
    folder = (await client.post(f"/v1/accounts/{account['account_id']}/folders", json={"name": "In"},
                                headers=tenant.headers)).json()
    request = (await client.post("/v1/upload-requests", headers=tenant.headers, json={
        "folder_id": folder["folder_id"], "recipients": [{"email": "a@example.test"}]})).json()
    tus = harness.tus(client, request["links"][0]["link_id"])
    await tus.upload(b"%PDF-1.7\n" + os.urandom(5000), chunk_size=4096, filename="a.pdf")
    [uploaded] = await harness.events(tenant.tenant_id, "FileUploaded")

    relay = OutboxRelay(harness.settings.database_url, schema=harness.settings.schema,
                        sink=KafkaSink(kafka_bootstrap_servers, client_id="documents-test-relay"))
    relay_task = asyncio.create_task(relay.run())
    try:
        messages = await read_topic(kafka_bootstrap_servers, harness.settings.events_topic, timeout=60,
                                    until=lambda found: sum(m.key == uploaded["stream_id"].encode()
                                                            for m in found) >= 2)
    finally:
        relay_task.cancel()
    published = [m for m in messages if m.key == uploaded["stream_id"].encode()]
    assert [m.event.type for m in published] == ["loginless.documents.FileUploaded.v2",
                                                 "loginless.documents.FileUploaded.v1"]
    for message in published:
        event = message.event
        assert event.subject == event.data["file_id"] == uploaded["stream_id"]
        assert event.tenantid == tenant.tenant_id
        assert message.headers["content-type"] == b"application/cloudevents+json"
