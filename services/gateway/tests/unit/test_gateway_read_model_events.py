"""How links.events turn into link state, and when a link lets a guest in."""

from datetime import UTC, datetime, timedelta

import pytest

from loginless.events import CloudEvent, UnknownEventType
from loginless.events.payloads import links
from loginless.gateway.consumers import link_state_consumer
from loginless.gateway.read_model import LinkFacts, LinkState, LinkStateStore, facts_from_event
from loginless.gateway.settings import GatewaySettings
from loginless.shared.eventstore import EventStore
from loginless.shared.messaging.reading import Handle, Skip, SkipReason
from loginless.shared.worker import WorkerRuntime

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def event(payload) -> CloudEvent:
    return CloudEvent(source=payload.source(), type=payload.type_name(), subject=payload.link_id,
                      data=payload.model_dump(mode="json"), tenantid=payload.tenant_id, correlationid="c")


def test_an_issued_link_is_fully_described():
    facts = facts_from_event(event(links.LinkIssued(
        link_id="lnk_1", tenant_id="t1", action="sign", resource_id="req_9", recipient_email="a@example.com",
        recipient_language="es", expires_at=NOW + timedelta(days=7), max_uses=2, verification="email",
        issued_at=NOW)))
    assert (facts.action, facts.resource_id, facts.recipient_email, facts.max_uses, facts.verification) == (
        "sign", "req_9", "a@example.com", 2, "email")
    assert facts.expires_at == NOW + timedelta(days=7)


def test_revocation_use_and_lock_out_carry_only_what_they_say():
    revoked = facts_from_event(event(links.LinkRevoked(link_id="lnk_1", tenant_id="t1", revoked_at=NOW)))
    used = facts_from_event(event(links.LinkUsed(link_id="lnk_1", tenant_id="t1", used_at=NOW, uses=3)))
    locked = facts_from_event(event(links.LinkVerificationLocked(link_id="lnk_1", tenant_id="t1", locked_at=NOW)))
    assert (revoked.revoked_at, revoked.action, revoked.uses) == (NOW, None, 0)
    assert (used.uses, used.revoked_at) == (3, None)
    assert (locked.verification_locked_at, locked.verification_locked_until) == (NOW, None)  # from before pauses


def test_a_lock_says_until_when_and_a_reset_is_a_lock_that_ended_as_it_began():
    locked = facts_from_event(event(links.LinkVerificationLocked(
        link_id="lnk_1", tenant_id="t1", locked_at=NOW, locked_until=NOW + timedelta(minutes=15))))
    reset = facts_from_event(event(links.LinkVerificationReset(link_id="lnk_1", tenant_id="t1",
                                                               reset_at=NOW + timedelta(minutes=1))))
    assert (locked.verification_locked_at, locked.verification_locked_until) == (NOW, NOW + timedelta(minutes=15))
    assert reset.verification_locked_at == reset.verification_locked_until == NOW + timedelta(minutes=1)
    state = LinkState(link_id="lnk_1", tenant_id="t1", verification_locked_at=NOW,
                      verification_locked_until=NOW + timedelta(minutes=15))
    assert state.verification_locked_until_at(NOW + timedelta(minutes=14)) == NOW + timedelta(minutes=15)
    assert state.verification_locked_until_at(NOW + timedelta(minutes=15)) is None  # the pause is over
    assert LinkState(link_id="lnk_1", tenant_id="t1", verification_locked_at=NOW).verification_locked_until_at(
        NOW) is None  # a lock without its end: links decides (and answers 423 while it holds)


def test_events_about_delivery_and_opening_change_nothing():
    assert facts_from_event(event(links.LinkOpened(link_id="lnk_1", tenant_id="t1", opened_at=NOW))) is None
    assert facts_from_event(event(links.LinkDelivered(link_id="lnk_1", tenant_id="t1", channel="email",
                                                      delivered_at=NOW, attempts=1))) is None


def test_the_consumer_skips_what_does_not_change_link_state_and_versions_it_cannot_read_instead_of_retrying():
    settings = GatewaySettings(database_url="postgresql://unused")
    store = EventStore(None, schema="gateway", topic=settings.events_topic)
    reader = link_state_consumer(WorkerRuntime(settings, None, store)).reader
    newer = CloudEvent(source="/loginless/links", type="loginless.links.LinkRevoked.v9", subject="lnk_1",
                       data={}, tenantid="t1", correlationid="c")
    assert reader.read(newer) == Skip(SkipReason.UNKNOWN_VERSION)
    with pytest.raises(UnknownEventType):  # the handler itself never guesses
        facts_from_event(newer)
    opened = event(links.LinkOpened(link_id="lnk_1", tenant_id="t1", opened_at=NOW))
    assert reader.read(opened) == Skip(SkipReason.UNHANDLED)
    revoked = event(links.LinkRevoked(link_id="lnk_1", tenant_id="t1", revoked_at=NOW))
    assert reader.read(revoked) == Handle(revoked)


def state(**changes) -> LinkState:
    fields = dict(link_id="lnk_1", tenant_id="t1", action="view", resource_id="doc_1",
                  expires_at=NOW + timedelta(hours=1), max_uses=1, uses=0)
    return LinkState(**{**fields, **changes})


def test_a_guest_inside_is_turned_away_when_the_link_is_revoked_or_expires_but_not_when_it_is_used_up():
    assert state().closed_reason(NOW) is None
    assert state(uses=1).closed_reason(NOW) is None  # their own entry used the last use
    assert state(revoked_at=NOW - timedelta(seconds=1)).closed_reason(NOW) == "revoked"
    assert state().closed_reason(NOW + timedelta(hours=1)) == "expired"


def test_the_assertion_names_the_links_own_resource_and_the_audience():
    assertion = state(recipient_email="a@example.com").assertion("documents")
    assert (assertion.link_id, assertion.resource_id, assertion.audience) == ("lnk_1", "doc_1", "documents")
    assert assertion.recipient.email == "a@example.com"
    with pytest.raises(ValueError):
        state(action=None).assertion("documents")


class CountingPool:
    """Stands in for asyncpg's pool: one row, and a count of the queries that reached it."""

    def __init__(self, row: dict) -> None:
        self.row, self.queries = row, 0

    async def fetchrow(self, sql: str, link_id: str):
        self.queries += 1
        return self.row

    async def execute(self, sql: str, *arguments) -> None:
        self.queries += 1


async def test_a_replica_reuses_a_state_it_just_read_for_a_moment_only():
    clock = [100.0]
    row = dict(link_id="lnk_1", tenant_id="t1", action="view", resource_id="doc_1", recipient_name=None,
               recipient_email=None, recipient_phone=None, recipient_language=None, expires_at=NOW, max_uses=None,
               verification="none", uses=0, revoked_at=None, verification_locked_at=None)
    pool = CountingPool(row)
    store = LinkStateStore(pool, schema="gateway", cache_seconds=0.2, clock=lambda: clock[0])
    for _ in range(3):
        assert (await store.get("lnk_1")).resource_id == "doc_1"
    assert pool.queries == 1
    clock[0] += 0.2
    await store.get("lnk_1")
    assert pool.queries == 2  # older than the cache allows: read again
    await store.merge(LinkFacts(link_id="lnk_1", tenant_id="t1", revoked_at=NOW))
    await store.get("lnk_1")
    assert pool.queries == 4  # what this replica writes, it reads back at once


async def test_without_a_cache_every_request_reads_the_table():
    pool = CountingPool(None)
    store = LinkStateStore(pool, schema="gateway")
    for _ in range(3):
        assert await store.get("lnk_unknown") is None
    assert pool.queries == 3
