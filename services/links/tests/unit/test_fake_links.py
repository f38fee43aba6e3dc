"""The test hooks of the in-memory links (the API itself is held to the contract suite, beside the real service)."""

from datetime import UTC, datetime, timedelta

import pytest

from loginless.events.payloads.links import LinkIssued, LinkRevoked, LinkUsed
from loginless.links.client import LinkNotFound, LinksApiKeys, LinksRefused, LinksUnavailable, WrongVerificationCode
from loginless.links.views import ClientIn, IssueLinksIn, RecipientIn
from loginless.testkit.fake_links import FakeLinks

pytestmark = pytest.mark.unit

REQUEST = IssueLinksIn(action="upload", resource_id="folder-1", recipients=[RecipientIn(email="a@example.test")])


@pytest.fixture
def links() -> FakeLinks:
    fake = FakeLinks()
    fake.add_tenant("tenant-1", "Acme Tax Advisors", contact_email="help@acme.example")
    return fake


async def test_while_unavailable_every_call_fails_as_links_down_and_branding_is_unknown(links):
    token, link = links.add_link()
    links.unavailable = True
    calls = [lambda: links.resolve(token), lambda: links.get(link.link_id), lambda: links.use(link.link_id, ClientIn()),
             lambda: links.record_opened(link.link_id, ClientIn()), lambda: links.issue("tenant-1", REQUEST),
             lambda: links.revoke("tenant-1", link.link_id), lambda: links.verify_api_key("ll_x_" + "x" * 43),
             lambda: links.send_verification_code(link.link_id),
             lambda: links.check_verification_code(link.link_id, "123456")]
    for call in calls:
        with pytest.raises(LinksUnavailable):
            await call()
    assert await links.branding("tenant-1") is None
    links.unavailable = False
    assert (await links.resolve(token)).uses == 0  # nothing happened meanwhile


async def test_issuing_fails_after_the_successes_allowed_having_issued_nothing(links):
    links.fail_issuing_after(2)
    for number in range(2):
        await links.issue("tenant-1", REQUEST.model_copy(update={"resource_id": f"folder-{number}"}))
    with pytest.raises(LinksUnavailable):
        await links.issue("tenant-1", REQUEST, idempotency_key="retry-me")
    assert len(links.links_for("folder-1")) == 1  # the failed call issued nothing
    links.fail_issuing_after(None)
    assert len((await links.issue("tenant-1", REQUEST, idempotency_key="retry-me")).links) == 1


async def test_an_issue_whose_answer_was_lost_issued_its_links_and_a_retry_with_its_key_gets_them(links):
    links.fail_issuing_after(0, answer_lost=True)
    with pytest.raises(LinksUnavailable):
        await links.issue("tenant-1", REQUEST, idempotency_key="shr_1/0")
    [issued] = links.links_for("folder-1")
    links.fail_issuing_after(None)
    retried = await links.issue("tenant-1", REQUEST, idempotency_key="shr_1/0")
    assert [link.link_id for link in retried.links] == [issued.link_id]


async def test_calls_name_the_operation_and_the_link_tenant_or_key_never_a_secret(links):
    token, link = links.add_link(max_uses=2)
    api_key = links.add_api_key("tenant-1")
    assert links.calls == []  # seeding is not a call
    await links.resolve(token)
    with pytest.raises(LinkNotFound):
        await links.resolve("no-such-token")
    await links.record_opened(link.link_id, ClientIn())
    await links.use(link.link_id, ClientIn())
    await links.branding("tenant-1")
    principal = await links.verify_api_key(api_key)
    assert links.calls == [("resolve", link.link_id), ("resolve", ""), ("record_opened", link.link_id),
                           ("use", link.link_id), ("branding", "tenant-1"), ("verify_api_key", principal.key_id)]
    assert all(token not in subject and api_key not in subject for _, subject in links.calls)


async def test_a_seeded_link_follows_the_issue_rules_and_its_state_is_visible_without_a_call(links):
    _, link = links.add_link(action="sign", resource_id="sig-1", max_uses=1, verification="email")
    assert (link.tenant_id, link.action, link.resource_id, link.status) == ("tenant-1", "sign", "sig-1", "active")
    assert link.expires_at == links.clock() + timedelta(days=7)
    await links.use(link.link_id, ClientIn())
    assert links.state_of(link.link_id).status == "used_up"
    with pytest.raises(LinksRefused, match="max_uses"):
        links.add_link(max_uses=0)


async def test_the_clock_is_the_tests_to_move(links):
    token, link = links.add_link(expires_in=timedelta(hours=1))
    links.clock.advance(hours=1)
    assert links.state_of(link.link_id).status == "expired"
    past = FakeLinks(clock=lambda: datetime(2026, 3, 1, tzinfo=UTC))
    past.add_tenant("tenant-1")
    _, dated = past.add_link(expires_at=datetime(2026, 3, 9, 10, 0, tzinfo=UTC))
    assert dated.expires_at == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


async def test_the_codes_sent_and_the_wrong_ones_entered_can_be_read_back(links):
    _, link = links.add_link(verification="email")
    assert (links.last_code(link.link_id), links.codes_sent(link.link_id)) == (None, 0)
    await links.send_verification_code(link.link_id)
    code = links.last_code(link.link_id)
    assert code is not None and len(code) == 6 and links.codes_sent(link.link_id) == 1
    with pytest.raises(WrongVerificationCode):
        await links.check_verification_code(link.link_id, f"{(int(code) + 1) % 1_000_000:06d}")
    assert links.wrong_codes(link.link_id) == 1


async def test_the_events_are_those_links_would_publish(links):
    _, link = links.add_link()
    await links.use(link.link_id, ClientIn())
    await links.revoke("tenant-1", link.link_id)
    await links.revoke("tenant-1", link.link_id)
    assert [type(event) for event in links.events] == [LinkIssued, LinkUsed, LinkRevoked]


async def test_staff_keys_are_checked_by_links_api_keys_on_top_of_the_fake(links):
    api_key = links.add_api_key("tenant-1")
    keys = LinksApiKeys(links)
    assert (await keys.verify(api_key)).tenant_id == "tenant-1"
    assert await keys.verify("ll_nope_" + "x" * 43) is None
    with pytest.raises(ValueError, match="API keys"):
        links.add_api_key("tenant-1", "bench-key")
    assert links.add_api_key("tenant-1", "ll_bench_" + "x" * 43) == "ll_bench_" + "x" * 43
