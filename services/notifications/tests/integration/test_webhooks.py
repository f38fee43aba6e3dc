"""Webhooks for systems outside Kafka, against receivers served here on real sockets, verified with the
``standardwebhooks`` library; real PostgreSQL; time moved by hand through the retry schedule.

Bad inputs tried: URLs pointing at loopback, private, link-local (cloud metadata), unspecified and IPv6 loopback
addresses, a name resolving to loopback, a non-HTTP scheme, credentials in the URL; an unknown event type;
another tenant's endpoint; a delivery id that never failed."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import uuid
from dataclasses import dataclass, field, replace

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from loginless.events import CloudEvent
from loginless.events.payloads.documents import DocumentViewed
from loginless.notifications import handlers
from loginless.notifications.bootstrap import create_app
from loginless.notifications.webhooks import UnsafeEndpoint, check_endpoint_url
from loginless.shared.errors import InvalidRequest, NotFound
from loginless.testkit.fake_links import FakeLinks
from loginless.testkit.fake_services import request_body, serve

pytestmark = pytest.mark.integration

VIEWED = "loginless.documents.DocumentViewed.v1"
ISSUED = "loginless.links.LinkIssued.v1"


@dataclass
class Receiver:
    """An HTTP endpoint of a firm's system: answers ``statuses`` in turn (then 200), after ``delay`` seconds."""

    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[tuple[dict[str, str], bytes, int, float]] = field(default_factory=list)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = await request_body(receive)
        await asyncio.sleep(self.delay)
        status = self.statuses.pop(0) if self.statuses else 200
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        self.requests.append((headers, body, status, time.monotonic()))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def verified_by(self, secret: str) -> list[bool]:
        """For each request, whether its signature verifies with ``secret``."""
        outcomes = []
        for headers, body, _, _ in self.requests:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                outcomes.append(False)
            else:
                outcomes.append(True)
        return outcomes

    def accepted(self, secret: str) -> list[dict]:
        """The CloudEvents this receiver took (2xx), each verified as Standard Webhooks requires."""
        return [Webhook(secret).verify(body, headers) for headers, body, status, _ in self.requests
                if 200 <= status < 300]


@pytest.fixture
def webhook_settings(settings):
    return settings.model_copy(update={
        "webhook_data_key": SecretStr(base64.b64encode(secrets.token_bytes(32)).decode()),
        "webhook_allow_private_addresses": True, "webhook_timeout_seconds": 2.0})


@pytest.fixture
def hooked(notifications, webhook_settings):
    """The notifications harness with webhooks configured (the receivers here listen on loopback)."""
    from loginless.notifications.bootstrap import notifications_context

    n = notifications
    n.ctx = replace(notifications_context(n.ctx.store, webhook_settings, links=n.links.client, clock=n.clock))
    return n


def viewed(n, subject: str = "axs", **values) -> DocumentViewed:
    return DocumentViewed(access_id=subject, document_id="doc_1", share_id="shr_1", tenant_id=n.tenant_id,
                          link_id=str(uuid.uuid4()), viewed_at=n.clock(), **values)


async def test_an_event_reaches_the_endpoint_as_a_signed_cloudevent_that_the_receiver_verifies(hooked):
    n, receiver = hooked, Receiver()
    async with serve(receiver) as url:
        endpoint, secret = await handlers.create_endpoint(n.ctx, n.tenant_id, url=f"{url}/hooks",
                                                          event_types=(ISSUED,), description="CRM",
                                                          correlation_id="t")
        link = await n.issue("upload")
        await n.consume_links_events()  # LinkIssued (wanted), LinkDelivered (not)
        sent = await n.publish(viewed(n), subject="axs_1")  # not a type this endpoint wants
        assert await handlers.send_due_webhooks(n.ctx) == 1

    [received] = receiver.accepted(secret)
    headers, _, _, _ = receiver.requests[0]
    assert headers["content-type"] == "application/cloudevents+json"
    event = CloudEvent.model_validate(received)
    assert (event.type, event.subject, event.data["link_id"]) == (ISSUED, link.link_id, link.link_id)
    assert headers["webhook-id"] == event.id != sent.id
    assert secret.startswith("whsec_") and secret not in str(await n.events("WebhookEndpointCreated"))
    [delivered] = await n.events("WebhookDelivered")
    assert (delivered["endpoint_id"], delivered["event_id"], delivered["attempts"]) == (endpoint.endpoint_id,
                                                                                        event.id, 1)


async def test_a_receiver_failing_three_times_gets_each_event_once_and_one_subjects_events_in_order(hooked):
    n, receiver = hooked, Receiver(statuses=[500, 503, 502])
    async with serve(receiver) as url:
        _, secret = await handlers.create_endpoint(n.ctx, n.tenant_id, url=url, event_types=(VIEWED,),
                                                   description=None, correlation_id="t")
        first = await n.publish(viewed(n, "axs_a"), subject="same-subject")
        second = await n.publish(viewed(n, "axs_b"), subject="same-subject")
        other = await n.publish(viewed(n, "axs_c"), subject="another-subject")
        rounds = 0
        while len(receiver.accepted(secret)) < 3 and rounds < 10:
            await handlers.send_due_webhooks(n.ctx)
            n.clock.advance(minutes=31)  # past the 5 s, 5 min and 30 min waits of the schedule
            rounds += 1
        await handlers.send_due_webhooks(n.ctx)

    accepted = [event["id"] for event in receiver.accepted(secret)]
    assert sorted(accepted) == sorted([first.id, second.id, other.id])  # each once, none twice
    assert accepted.index(first.id) < accepted.index(second.id)
    tried = [CloudEvent.model_validate_json(body).id for _, body, _, _ in receiver.requests]
    assert tried[:3] == [first.id] * 3  # refused three times; the same subject's next event waited
    assert [e["attempts"] for e in await n.events("WebhookDelivered") if e["event_id"] == first.id] == [4]


async def test_a_receiver_down_for_a_day_gets_a_recorded_failure_that_staff_redeliver(hooked):
    n, receiver = hooked, Receiver(statuses=[503] * 100)
    async with serve(receiver) as url:
        endpoint, secret = await handlers.create_endpoint(n.ctx, n.tenant_id, url=url, event_types=(),
                                                          description=None, correlation_id="t")
        first = await n.publish(viewed(n, "axs_1"), subject="down-1")
        second = await n.publish(viewed(n, "axs_2"), subject="down-2")
        for _ in range(30):
            await handlers.send_due_webhooks(n.ctx)
            n.clock.advance(hours=2)
        failed = await handlers.endpoint_deliveries(n.ctx, n.tenant_id, endpoint.endpoint_id, status="failed",
                                                    limit=10)
        recorded = await n.events("WebhookFailed")
        assert sorted(f.event_id for f in failed) == sorted(e["event_id"] for e in recorded) == sorted(
            [first.id, second.id])
        assert {f.last_error for f in failed} == {"the endpoint answered 503"}
        assert all(f.attempts >= 6 for f in failed)
        attempts = len(receiver.requests)
        await handlers.send_due_webhooks(n.ctx)
        assert len(receiver.requests) == attempts  # given up: no more tries until staff ask

        with pytest.raises(NotFound):
            await handlers.redeliver(n.ctx, n.tenant_id, endpoint.endpoint_id, "dlv_never_failed")
        with pytest.raises(NotFound):
            await handlers.redeliver(n.ctx, "another-tenant", endpoint.endpoint_id, None)
        receiver.statuses.clear()  # the firm's system is back
        one = next(f for f in failed if f.event_id == first.id)
        assert await handlers.redeliver(n.ctx, n.tenant_id, endpoint.endpoint_id, one.delivery_id) == 1
        await handlers.send_due_webhooks(n.ctx)
        assert [event["id"] for event in receiver.accepted(secret)] == [first.id]
        assert await handlers.redeliver(n.ctx, n.tenant_id, endpoint.endpoint_id, None) == 1  # all the rest
        await handlers.send_due_webhooks(n.ctx)

    assert [event["id"] for event in receiver.accepted(secret)] == [first.id, second.id]
    assert await handlers.endpoint_deliveries(n.ctx, n.tenant_id, endpoint.endpoint_id, status=None, limit=10) == []
    assert sorted(e["event_id"] for e in await n.events("WebhookDelivered")) == sorted([first.id, second.id])


async def test_a_slow_endpoint_holds_up_neither_another_tenants_endpoint_nor_the_consumer(hooked, links):
    n = hooked
    slow, fast = Receiver(delay=1.5), Receiver()
    other_tenant, _ = await links.add_tenant("Other Firm")
    async with serve(slow) as slow_url, serve(fast) as fast_url:
        await handlers.create_endpoint(n.ctx, n.tenant_id, url=slow_url, event_types=(), description=None,
                                       correlation_id="t")
        _, fast_secret = await handlers.create_endpoint(n.ctx, other_tenant, url=fast_url, event_types=(),
                                                        description=None, correlation_id="t")
        started = time.monotonic()
        for index in range(3):
            await n.publish(viewed(n, f"axs_{index}"), subject=f"slow-{index}")
        consumed_in = time.monotonic() - started
        n.tenant_id = other_tenant
        await n.publish(viewed(n, "axs_fast"), subject="fast")
        began = time.monotonic()
        await handlers.send_due_webhooks(n.ctx)

    assert consumed_in < 1.0  # the consumer only queued them
    [(_, _, _, fast_at)] = fast.requests
    assert fast_at - began < 1.0  # answered while the slow endpoint was still on its first event
    assert len(fast.accepted(fast_secret)) == 1 and len(slow.requests) == 3


async def test_after_a_rotation_both_secrets_sign_for_a_day_then_only_the_new_one(hooked):
    n, receiver = hooked, Receiver()
    async with serve(receiver) as url:
        endpoint, old = await handlers.create_endpoint(n.ctx, n.tenant_id, url=url, event_types=(),
                                                       description=None, correlation_id="t")
        new = await handlers.rotate_secret(n.ctx, n.tenant_id, endpoint.endpoint_id, correlation_id="t")
        await n.publish(viewed(n, "axs_1"), subject="one")
        await handlers.send_due_webhooks(n.ctx)
        n.clock.advance(hours=25)
        await n.publish(viewed(n, "axs_2"), subject="two")
        await handlers.send_due_webhooks(n.ctx)

    assert receiver.verified_by(new) == [True, True]
    assert receiver.verified_by(old) == [True, False]  # the old secret signs for a day after the rotation only
    assert len(receiver.requests[0][0]["webhook-signature"].split(" ")) == 2
    with pytest.raises(NotFound):
        await handlers.rotate_secret(n.ctx, "another-tenant", endpoint.endpoint_id, correlation_id="t")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hooks", "http://10.0.0.5/hooks", "https://192.168.1.10/", "http://169.254.169.254/latest",
    "http://[::1]/hooks", "http://0.0.0.0/", "http://localhost:9000/", "http://[::ffff:127.0.0.1]/",
    "ftp://example.com/hooks", "https://user:password@example.com/hooks", "not a url",
    "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::]/", "http://[::7f00:1]/", "http://[::ffff:a9fe:a9fe]/",
    "https://.x.com/", "https://[::1/", "https://example.com:99999/", "https://example.com:abc/",
    f"https://{'a' * 64}.com/",
])
async def test_an_endpoint_pointing_inside_or_malformed_is_refused(url):
    with pytest.raises(UnsafeEndpoint):
        await check_endpoint_url(url, allow_private=False)


async def test_the_staff_api_refuses_internal_urls_and_unknown_types_with_problems_and_lists_what_it_made(
        settings, pool, clock, webhook_settings):
    links = FakeLinks(clock=clock)
    tenant_id = links.add_tenant(name="Ortega & Lane")
    strict = webhook_settings.model_copy(update={"webhook_allow_private_addresses": False})
    async with AsyncTestClient(create_app(strict, links=links, clock=clock)) as api:
        api.headers["Authorization"] = f"Bearer {links.add_api_key(tenant_id)}"
        inside = await api.post("/v1/webhook-endpoints", json={"url": "http://169.254.169.254/latest/meta-data"})
        unknown = await api.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/x",
                                                                "event_types": ["loginless.links.LinkIsued.v1"]})
        listed = await api.get("/v1/webhook-endpoints")
        missing = await api.delete("/v1/webhook-endpoints/whk_nothing")
        odd = [await api.delete("/v1/webhook-endpoints/%00"),
               await api.get("/v1/webhook-endpoints/whk%00/deliveries"),
               await api.post(f"/v1/webhook-endpoints/whk_{'0' * 32}/deliveries/%00/redeliver"),
               await api.post("/v1/webhook-endpoints/whk_x/rotate-secret"),
               await api.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/\x00",
                                                             "description": "nul\x00"})]

    assert inside.status_code == 422 and inside.headers["content-type"] == "application/problem+json"
    assert inside.json()["type"].endswith("unsafe-webhook-endpoint")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "event_types[0]"
    assert listed.json() == {"endpoints": [], "next_cursor": None} and missing.status_code == 404
    # Never a 500 from a NUL byte: the kernel's input guard refuses it (422) wherever it is; an odd id is not found.
    assert [answer.status_code for answer in odd] == [422, 422, 422, 404, 422]
    assert all(answer.headers["content-type"] == "application/problem+json" for answer in odd)


@pytest.mark.parametrize("event_type", ["loginless.links.LinkIsued.v1", "loginless.notifications.ReminderSent.v1"])
async def test_an_event_type_no_webhook_can_carry_is_refused_when_the_endpoint_is_made(hooked, event_type):
    with pytest.raises(InvalidRequest):  # a typo, or a type notifications does not consume
        await handlers.create_endpoint(hooked.ctx, hooked.tenant_id, url="http://127.0.0.1:9/x",
                                       event_types=(event_type,), description=None, correlation_id="t")
