"""The operator's command line (``loginless``), run as a process as an operator runs it, against the real links
service (its app on a port of its own), PostgreSQL and Kafka: a tenant and its API keys, a link issued, shown and
revoked, a topic's events printed readably, dead letters listed and redriven, read models rebuilt."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from loginless.shared.messaging.inbox import dead_letter_topic
from loginless.shared.messaging.topics import ensure_topics
from loginless.testkit.links_service import ServedLinks, links_settings, served_links

pytestmark = pytest.mark.integration


async def loginless(*arguments: str, environment: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loginless.cli", *arguments, env={**os.environ, **environment},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


async def succeeds(*arguments: str, environment: dict[str, str]) -> str:
    code, out, err = await loginless(*arguments, environment=environment)
    assert code == 0, f"loginless {' '.join(arguments)}: {err}"
    return out


PLATFORM_KEY = "platform-" + "k" * 32


@pytest.fixture
async def links(database_url, kafka_bootstrap_servers) -> AsyncIterator[ServedLinks]:
    async with served_links(links_settings(database_url, kafka_bootstrap_servers, internal_secret="internal-secret",
                                           platform_admin_key=PLATFORM_KEY)) as served:
        yield served


def cloud_event(event_type: str, subject: str, data: dict) -> bytes:
    return json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/loginless/links", "type": event_type,
                       "subject": subject, "time": "2026-12-06T12:00:00Z", "datacontenttype": "application/json",
                       "tenantid": "firm-1", "correlationid": "c-1", "data": data}).encode()


async def test_a_tenant_its_api_keys_and_a_link_issued_shown_and_revoked(links):
    # No database access: the tenant and its first key come through links' platform API.
    environment = {"LINKS_URL": links.url, "LOGINLESS_PLATFORM_ADMIN_KEY": PLATFORM_KEY}
    created = json.loads(await succeeds("tenant", "create", "--tenant-id", "acme", "--name", "Acme Advisors",
                                        "--contact-email", "desk@acme.test", environment=environment))
    assert (created["tenant"]["tenant_id"], created["tenant"]["contact"]["email"]) == ("acme", "desk@acme.test")
    staff = environment | {"LOGINLESS_API_KEY": created["api_key"]["api_key"]}
    code, _, err = await loginless("tenant", "create", "--tenant-id", "acme", "--name", "Again",
                                   environment=environment)
    assert code == 1 and err.startswith("Error: 409")
    code, _, err = await loginless("tenant", "create", "--tenant-id", "other", "--name", "X",
                                   environment=environment | {"LOGINLESS_PLATFORM_ADMIN_KEY": "wrong" * 8})
    assert code == 1 and err.startswith("Error: 401")

    issued = json.loads(await succeeds("link", "issue", "view", "doc-42", "--to", "ana@example.test",
                                       "--name", "Ana", "--max-uses", "3", environment=staff))
    [issued_link] = issued["links"]
    assert issued_link["url"].startswith(f"{links.settings.public_url}/l/")
    shown = json.loads(await succeeds("link", "show", issued_link["link_id"], environment=staff))
    assert (shown["status"], shown["resource_id"], shown["max_uses"]) == ("active", "doc-42", 3)
    await succeeds("link", "revoke", issued_link["link_id"], environment=staff)
    assert json.loads(await succeeds("link", "show", issued_link["link_id"], environment=staff))["status"] == "revoked"

    second = json.loads(await succeeds("api-key", "create", environment=staff))
    with_second = staff | {"LOGINLESS_API_KEY": second["api_key"]}
    listed = json.loads(await succeeds("api-key", "list", environment=with_second))
    assert {key["key_id"] for key in listed["api_keys"]} == {created["api_key"]["key_id"], second["key_id"]}
    await succeeds("api-key", "revoke", second["key_id"], environment=staff)
    code, _, err = await loginless("api-key", "list", environment=with_second)
    assert code == 1 and err.startswith("Error: 401")

    code, _, err = await loginless("link", "show", "lnk_unknown", environment=staff)
    assert code == 1 and "404" in err


async def test_tail_prints_a_topics_events_readably(kafka_bootstrap_servers):
    topic = f"cli-{uuid.uuid4().hex[:8]}.events"
    await ensure_topics(kafka_bootstrap_servers, [topic], partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, cloud_event("loginless.links.LinkIssued.v1", "lnk_1", {"link_id": "lnk_1"}),
                                     key=b"lnk_1")
        await producer.send_and_wait(topic, cloud_event("loginless.links.LinkRevoked.v1", "lnk_1", {}), key=b"lnk_1")
    finally:
        await producer.stop()
    out = await succeeds("events", "tail", topic, "--from-beginning", "--limit", "2",
                         environment={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers})
    lines = out.splitlines()
    assert "loginless.links.LinkIssued.v1  subject=lnk_1" in lines[0] and "tenant=firm-1" in lines[0]
    assert json.loads(lines[1]) == {"link_id": "lnk_1"}
    assert "loginless.links.LinkRevoked.v1  subject=lnk_1" in lines[2]


async def test_dead_letters_are_listed_with_their_error_and_redriven_to_the_topic(kafka_bootstrap_servers):
    topic, consumer = f"cli-{uuid.uuid4().hex[:8]}.events", "gateway-link-state"
    dead_letters = dead_letter_topic(topic, consumer)
    await ensure_topics(kafka_bootstrap_servers, [topic, dead_letters], partitions=1)
    poison, other = (cloud_event("loginless.links.LinkIssued.v1", f"lnk_{n}", {}) for n in (1, 2))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        for value in (poison, other):  # as the consumer leaves them (loginless.shared.messaging.inbox)
            await producer.send_and_wait(dead_letters, value, key=b"lnk", headers=[
                ("content-type", b"application/cloudevents+json"), ("x-dead-letter-consumer", consumer.encode()),
                ("x-dead-letter-error", b"KeyError: 'recipient'"), ("x-dead-letter-attempts", b"5")])
    finally:
        await producer.stop()
    kafka = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers}

    listed = await succeeds("dead-letters", "list", topic, consumer, environment=kafka)
    assert listed.count("error (5 attempts): KeyError: 'recipient'") == 2
    poison_id = json.loads(poison)["id"]
    assert poison_id in listed

    redriven = await succeeds("dead-letters", "redrive", topic, consumer, "--event-id", poison_id, environment=kafka)
    assert redriven.strip() == f"1 dead letter(s) of {consumer} published to {topic} again"
    reader = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap_servers, auto_offset_reset="earliest",
                              enable_auto_commit=False)
    await reader.start()
    try:
        [record] = [record for records in (await reader.getmany(timeout_ms=10_000)).values() for record in records]
    finally:
        await reader.stop()
    headers = dict(record.headers)
    assert record.value == poison and record.key == b"lnk"
    assert headers["content-type"] == b"application/cloudevents+json" and "x-dead-letter-error" not in headers
    assert headers["x-redriven-from"] == f"{dead_letters}:0:0".encode()


async def test_read_models_are_rebuilt_with_the_services_own_command(links, database_url):
    tenant_id, api_key = await links.add_tenant("Acme")
    environment = {"LINKS_URL": links.url, "LOGINLESS_API_KEY": api_key}
    await succeeds("link", "issue", "upload", "folder-1", "--to", "a@example.test", "--to", "b@example.test",
                   environment=environment)
    out = await succeeds("projections", "rebuild", "links", environment={
        "DATABASE_URL": database_url, "LINKS_DATABASE_SCHEMA": links.settings.schema,
        "LINKS_TOKEN_PEPPERS": links.settings.token_peppers.get_secret_value(),
        "LINKS_DATA_KEY": links.settings.data_key.get_secret_value(), "LINKS_LOG_JSON": "false"})
    assert "links: read models rebuilt from 2 event(s)" in out
    rows = await links.pool.fetchval(f'SELECT count(*) FROM "{links.settings.schema}".links WHERE tenant_id = $1',
                                     tenant_id)
    assert rows == 2
    code, _, err = await loginless("projections", "rebuild", "nonesuch", environment={})
    assert code == 2 and "no service nonesuch" in err
