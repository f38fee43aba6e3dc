"""``loginless``: the operator's command line.

Staff commands (links, API keys) speak links' staff API with a tenant's API key, as a firm's systems do; creating a
tenant speaks links' platform API with the platform admin key (no tenant key exists before it, and no database
access is needed); the Kafka commands read and write topics; rebuilding read models runs the service's own
command. Settings come from options or from the variables of a local stack's ``var/stack.env`` (``LINKS_URL``,
``DEV_API_KEY``, ``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``), so ``source var/stack.env`` is enough there; in a
cluster, run it in a service's pod.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import click
import httpx

from loginless.shared.kafka_connection import KafkaConnection


@dataclass
class Staff:
    """links' staff API, as one tenant."""

    links_url: str
    api_key: str | None

    def call(self, method: str, path: str, body: dict | None = None, *, idempotency_key: str | None = None) -> Any:
        if not self.api_key:
            raise click.UsageError("a tenant's API key is needed: --api-key or LOGINLESS_API_KEY")
        return request_links(self.links_url, method, path, body, bearer=self.api_key,
                             headers={"Idempotency-Key": idempotency_key} if idempotency_key else None)


def request_links(links_url: str, method: str, path: str, body: dict | None = None, *, bearer: str,
                  headers: dict[str, str] | None = None) -> Any:
    """One call to links' API; a problem it answers becomes the command's error message."""
    try:
        answer = httpx.request(method, f"{links_url}{path}", json=body, timeout=30,
                               headers={"Authorization": f"Bearer {bearer}", **(headers or {})})
    except httpx.TransportError as error:
        raise click.ClickException(f"links at {links_url} did not answer: {error}") from error
    if answer.status_code >= 400:
        problem = answer.json() if "json" in answer.headers.get("content-type", "") else {}
        raise click.ClickException(f"{answer.status_code} {problem.get('title', answer.reason_phrase)}: "
                                   f"{problem.get('detail', answer.text)[:500]}")
    return answer.json() if answer.content else None


def show(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@click.group()
@click.option("--links-url", envvar="LINKS_URL", default="http://127.0.0.1:8001", show_default=True,
              help="links' staff API [env: LINKS_URL]")
@click.option("--api-key", envvar=["LOGINLESS_API_KEY", "DEV_API_KEY"],
              help="A tenant's API key, for the staff commands [env: LOGINLESS_API_KEY, DEV_API_KEY]")
@click.pass_context
def main(context: click.Context, links_url: str, api_key: str | None) -> None:
    """Operate loginless: links, tenants and API keys, events, dead letters, read models."""
    context.obj = Staff(links_url.rstrip("/"), api_key)


# ---- links ----------------------------------------------------------------------------------------------------


@main.group()
def link() -> None:
    """Issue, show and revoke links (one per recipient)."""


@link.command("issue")
@click.argument("action", type=click.Choice(["view", "upload", "sign", "pay", "request"]))
@click.argument("resource_id")
@click.option("--to", "emails", multiple=True, required=True, help="A recipient's e-mail address (repeatable)")
@click.option("--name", help="The recipient's name (one recipient)")
@click.option("--language", type=click.Choice(["en", "es"]))
@click.option("--send/--no-send", default=False, help="Let links e-mail each link (default: only print it)")
@click.option("--expires-in-seconds", type=click.IntRange(min=1))
@click.option("--max-uses", type=click.IntRange(min=1))
@click.option("--idempotency-key", help="Run again with the same key to get the same links, not new ones")
@click.pass_obj
def issue_link(staff: Staff, action: str, resource_id: str, emails: tuple[str, ...], name: str | None,
               language: str | None, send: bool, expires_in_seconds: int | None, max_uses: int | None,
               idempotency_key: str | None) -> None:
    """Issue ACTION links on RESOURCE_ID; prints each link with its URL (shown this once)."""
    if name and len(emails) > 1:
        raise click.UsageError("--name names one recipient")
    recipients = [{"email": email, "name": name, "language": language, "delivery": "email" if send else "none"}
                  for email in emails]
    body = {"action": action, "resource_id": resource_id, "recipients": recipients,
            "expires_in_seconds": expires_in_seconds, "max_uses": max_uses}
    show(staff.call("POST", "/v1/links", {key: value for key, value in body.items() if value is not None},
                    idempotency_key=idempotency_key))


@link.command("show")
@click.argument("link_id")
@click.pass_obj
def show_link(staff: Staff, link_id: str) -> None:
    """A link's status, opens, uses and expiry."""
    show(staff.call("GET", f"/v1/links/{link_id}"))


@link.command("revoke")
@click.argument("link_id")
@click.pass_obj
def revoke_link(staff: Staff, link_id: str) -> None:
    """Revoke a link: the gateway refuses it within a second."""
    show(staff.call("POST", f"/v1/links/{link_id}/revoke"))


# ---- tenants and API keys -------------------------------------------------------------------------------------


@main.group()
def tenant() -> None:
    """Create a firm's tenant and its first API key (links' platform API)."""


def platform_key_option(command: Callable) -> Callable:
    return click.option("--platform-key", envvar="LOGINLESS_PLATFORM_ADMIN_KEY", required=True,
                        help="links' platform admin key, as set in LINKS_PLATFORM_ADMIN_KEY "
                             "[env: LOGINLESS_PLATFORM_ADMIN_KEY]")(command)


@tenant.command("create")
@click.option("--tenant-id", required=True, help="1 to 64 letters, digits and _ . -")
@click.option("--name", required=True, help="The firm's name, shown to its guests")
@click.option("--contact-name")
@click.option("--contact-email")
@click.option("--contact-phone")
@click.option("--color", help="#rrggbb")
@click.option("--logo-url")
@platform_key_option
@click.pass_obj
def create_tenant(staff: Staff, tenant_id: str, name: str, contact_name: str | None, contact_email: str | None,
                  contact_phone: str | None, color: str | None, logo_url: str | None, platform_key: str) -> None:
    """Create a tenant with its first API key, printed this once."""
    contact = {"name": contact_name, "email": contact_email, "phone": contact_phone}
    branding = {"color": color, "logo_url": logo_url}
    body = {"tenant_id": tenant_id, "name": name, "contact": {k: v for k, v in contact.items() if v is not None},
            "branding": {k: v for k, v in branding.items() if v is not None}}
    show(request_links(staff.links_url, "POST", "/platform/v1/tenants", body, bearer=platform_key))


@tenant.command("api-key")
@click.argument("tenant_id")
@platform_key_option
@click.pass_obj
def create_tenant_api_key(staff: Staff, tenant_id: str, platform_key: str) -> None:
    """Another API key for TENANT_ID (when it has lost its keys), printed this once."""
    show(request_links(staff.links_url, "POST", f"/platform/v1/tenants/{tenant_id}/api-keys", bearer=platform_key))


@main.group("api-key")
def api_key() -> None:
    """The calling tenant's API keys."""


@api_key.command("create")
@click.pass_obj
def create_api_key(staff: Staff) -> None:
    """A new API key, printed this once."""
    show(staff.call("POST", "/v1/api-keys"))


@api_key.command("list")
@click.pass_obj
def list_api_keys(staff: Staff) -> None:
    """The active keys' ids."""
    show(staff.call("GET", "/v1/api-keys"))


@api_key.command("revoke")
@click.argument("key_id")
@click.pass_obj
def revoke_api_key(staff: Staff, key_id: str) -> None:
    """Revoke a key: it stops working at once."""
    staff.call("DELETE", f"/v1/api-keys/{key_id}")
    click.echo(f"revoked {key_id}")


# ---- Kafka: events and dead letters ---------------------------------------------------------------------------


def kafka_options(command: Callable) -> Callable:
    """How the Kafka commands connect, as a service does (its ``<SERVICE>_KAFKA_*`` settings)."""
    for option in reversed([
        click.option("--bootstrap-servers", envvar="KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:9092",
                     show_default=True, help="[env: KAFKA_BOOTSTRAP_SERVERS]"),
        click.option("--security-protocol", envvar="KAFKA_SECURITY_PROTOCOL", default="PLAINTEXT",
                     type=click.Choice(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])),
        click.option("--sasl-mechanism", envvar="KAFKA_SASL_MECHANISM", default="SCRAM-SHA-512",
                     type=click.Choice(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])),
        click.option("--sasl-username", envvar="KAFKA_SASL_USERNAME", default=""),
        click.option("--sasl-password", envvar="KAFKA_SASL_PASSWORD", default="", help="[env: KAFKA_SASL_PASSWORD]"),
        click.option("--ca-file", envvar="KAFKA_SSL_CA_FILE", default="", help="The brokers' CA (PEM)"),
    ]):
        command = option(command)
    return command


def connection_of(options: dict[str, Any]) -> KafkaConnection:
    return KafkaConnection(options.pop("bootstrap_servers"), security_protocol=options.pop("security_protocol"),
                           sasl_mechanism=options.pop("sasl_mechanism"), sasl_username=options.pop("sasl_username"),
                           sasl_password=options.pop("sasl_password"), ssl_ca_file=options.pop("ca_file"))


async def read_topic(connection: KafkaConnection, topic: str, *, from_beginning: bool, follow: bool,
                     idle_seconds: float | None = None) -> AsyncIterator[Any]:
    """The topic's records in each partition's order, without joining a consumer group (nothing is committed).
    Without ``follow``, it stops at the end offsets it found when it started."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    partitions = [TopicPartition(topic, number) for number in await _partitions(connection, topic)]
    consumer = AIOKafkaConsumer(**connection.client_options(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        ends = await consumer.end_offsets(partitions)
        idle_since = asyncio.get_running_loop().time()
        while True:
            if not follow and all([await consumer.position(partition) >= ends[partition]
                                   for partition in partitions]):
                return
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    yield record
            now = asyncio.get_running_loop().time()
            if batches:
                idle_since = now
            elif idle_seconds is not None and now - idle_since >= idle_seconds:
                return
    finally:
        await consumer.stop()


async def _partitions(connection: KafkaConnection, topic: str) -> list[int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**connection.client_options(), request_timeout_ms=10_000)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] or not description["partitions"]:
        raise click.ClickException(f"no topic {topic}")
    return sorted(partition["partition"] for partition in description["partitions"])


def readable(value: bytes) -> str:
    """One CloudEvent as a heading line and its data, or the raw bytes if it is none."""
    try:
        event = json.loads(value)
        heading = (f"{event['time']}  {event['type']}  subject={event['subject']}  id={event['id']}  "
                   f"tenant={event.get('tenantid', '-')}  correlation={event.get('correlationid', '-')}")
    except (ValueError, KeyError, TypeError):
        return f"(not a CloudEvent) {value[:500]!r}"
    return heading + "\n    " + json.dumps(event.get("data"), ensure_ascii=False)


@main.group()
def events() -> None:
    """Read a topic's events."""


@events.command("tail")
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="From the oldest retained event (default: new ones only)")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many events")
@click.option("--idle-seconds", type=click.FloatRange(min=0.1), help="Stop after this long without an event")
@click.option("--json", "as_json", is_flag=True, help="Each event as it is on the topic, one per line")
@kafka_options
def tail(topic: str, from_beginning: bool, limit: int | None, idle_seconds: float | None, as_json: bool,
         **options: Any) -> None:
    """Print TOPIC's events as they arrive, readably (time, type, subject, id, tenant, data)."""
    connection = connection_of(options)

    async def run() -> None:
        count = 0
        async for record in read_topic(connection, topic, from_beginning=from_beginning, follow=True,
                                       idle_seconds=idle_seconds):
            click.echo(record.value.decode(errors="replace") if as_json else readable(record.value))
            count += 1
            if limit is not None and count >= limit:
                return

    asyncio.run(run())


@main.group("dead-letters")
def dead_letters() -> None:
    """A consumer's dead letters: events it gave up on, with the error."""


@dead_letters.command("list")
@click.argument("topic")
@click.argument("consumer")
@kafka_options
def list_dead_letters(topic: str, consumer: str, **options: Any) -> None:
    """The dead letters CONSUMER left of TOPIC's events, oldest first, with the error and the attempts."""
    connection = connection_of(options)

    async def run() -> None:
        async for record in read_topic(connection, dead_letter_topic_of(topic, consumer), from_beginning=True,
                                       follow=False):
            headers = {name: value.decode(errors="replace") for name, value in record.headers}
            click.echo(f"[{record.partition}:{record.offset}] " + readable(record.value))
            click.echo(f"    error ({headers.get('x-dead-letter-attempts', '?')} attempts): "
                       f"{headers.get('x-dead-letter-error', '-')}")

    asyncio.run(run())


@dead_letters.command("redrive")
@click.argument("topic")
@click.argument("consumer")
@click.option("--event-id", "event_ids", multiple=True, help="Only these events (default: every dead letter)")
@kafka_options
def redrive_dead_letters(topic: str, consumer: str, event_ids: tuple[str, ...], **options: Any) -> None:
    """Publish CONSUMER's dead letters back to TOPIC, after the cause is fixed.

    Every consumer of TOPIC gets them again; each skips the events its inbox says it processed, so running this
    twice does no harm. The dead letters stay on their topic (Kafka deletes nothing on request)."""
    from aiokafka import AIOKafkaProducer

    connection = connection_of(options)
    source = dead_letter_topic_of(topic, consumer)

    async def run() -> int:
        producer = AIOKafkaProducer(**connection.client_options(), acks="all", enable_idempotence=True)
        await producer.start()
        sent = 0
        try:
            async for record in read_topic(connection, source, from_beginning=True, follow=False):
                if event_ids and _event_id(record.value) not in event_ids:
                    continue
                headers = [(name, value) for name, value in record.headers if not name.startswith("x-dead-letter-")]
                headers.append(("x-redriven-from", f"{source}:{record.partition}:{record.offset}".encode()))
                await (await producer.send(topic, record.value, key=record.key, headers=headers))
                sent += 1
        finally:
            await producer.stop()
        return sent

    click.echo(f"{asyncio.run(run())} dead letter(s) of {consumer} published to {topic} again")


def dead_letter_topic_of(topic: str, consumer: str) -> str:
    from loginless.shared.messaging.inbox import dead_letter_topic

    return dead_letter_topic(topic, consumer)


def _event_id(value: bytes) -> str | None:
    try:
        return str(uuid.UUID(json.loads(value)["id"]))
    except (ValueError, KeyError, TypeError):
        return None


# ---- read models ----------------------------------------------------------------------------------------------


@main.group()
def projections() -> None:
    """A service's read models."""


@projections.command("rebuild")
@click.argument("service")
def rebuild_projections(service: str) -> None:
    """Rebuild SERVICE's read models from its event store (safe while it runs), with its own settings
    (<SERVICE>_DATABASE_URL, …; DATABASE_URL when that one is not set)."""
    from loginless.shared.runtime import run_service
    from loginless.shared.services import service_names

    if service not in service_names():
        raise click.UsageError(f"no service {service}; the services are {', '.join(service_names())}")
    database_variable = f"{service.upper()}_DATABASE_URL"
    if database_variable not in os.environ and "DATABASE_URL" in os.environ:
        os.environ[database_variable] = os.environ["DATABASE_URL"]
    run_service(importlib.import_module(f"loginless.{service}.bootstrap"), argv=["projections", "rebuild"])
