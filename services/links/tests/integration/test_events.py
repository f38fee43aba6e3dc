"""What reaches Kafka: each link's events as CloudEvents on links.events, through the outbox relay, and never a
token or anything derived from one."""

import asyncio
import base64
import contextlib

import pytest

from loginless.shared.eventstore import KafkaSink, OutboxRelay
from loginless.testkit.kafka import read_topic

pytestmark = pytest.mark.integration

INTERNAL = {"Authorization": "Bearer test-internal-secret"}


@pytest.fixture
async def relay(settings, kafka_bootstrap_servers, pool):
    sink = KafkaSink(kafka_bootstrap_servers, client_id=f"test-relay-{settings.schema}")
    task = asyncio.create_task(OutboxRelay(settings.database_url, schema=settings.schema, sink=sink).run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_issuing_announces_one_link_issued_per_recipient_without_any_token(
        client, staff, issue, relay, settings, kafka_bootstrap_servers, ctx):
    issued = await issue(client, staff, action="sign", resource_id="sig-7", max_uses=1,
                         recipients=[{"name": "Ana", "email": "ana@example.test", "delivery": "email"},
                                     {"phone": "+34 644 000 333", "language": "es", "delivery": "sms"}])
    link_ids = [link["link_id"] for link in issued]
    await client.post(f"/internal/v1/links/{link_ids[0]}/opened", headers=INTERNAL)
    await client.post(f"/internal/v1/links/{link_ids[0]}/use", headers=INTERNAL)
    await client.post(f"/v1/links/{link_ids[1]}/revoke", headers=staff.headers)

    messages = await read_topic(kafka_bootstrap_servers, settings.events_topic, until=lambda m: len(m) >= 5)

    by_link = {link_id: [m.event for m in messages if m.key == link_id.encode()] for link_id in link_ids}
    assert [event.type for event in by_link[link_ids[0]]] == [
        "loginless.links.LinkIssued.v1", "loginless.links.LinkOpened.v1", "loginless.links.LinkUsed.v1"]
    assert [event.type for event in by_link[link_ids[1]]] == [
        "loginless.links.LinkIssued.v1", "loginless.links.LinkRevoked.v1"]
    announced = by_link[link_ids[0]][0]
    assert (announced.source, announced.subject, announced.tenantid) == ("/loginless/links", link_ids[0],
                                                                         staff.tenant_id)
    assert messages[0].headers["content-type"] == b"application/cloudevents+json"
    assert {key: announced.data[key] for key in ("action", "resource_id", "recipient_email", "max_uses",
                                                  "verification", "delivery")} == {
        "action": "sign", "resource_id": "sig-7", "recipient_email": "ana@example.test", "max_uses": 1,
        "verification": "none", "delivery": "email"}

    secrets_seen = set()
    for link in issued:
        token = link["url"].rsplit("/", 1)[1]
        secrets_seen.add(token.encode())
        for candidate in ctx.hasher.candidates(token):
            secrets_seen |= {candidate.digest, candidate.digest.hex().encode(), base64.b64encode(candidate.digest),
                             base64.urlsafe_b64encode(candidate.digest).rstrip(b"=")}
    for message in messages:
        assert not [secret for secret in secrets_seen if secret in message.value or secret in (message.key or b"")]
