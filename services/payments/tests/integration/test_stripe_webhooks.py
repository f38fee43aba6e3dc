"""Card payments through Stripe Checkout, end to end through the service's HTTP endpoints on real PostgreSQL, with
Stripe's state kept by the test kit's stateful fake (stripe-mock keeps none) and its webhooks signed here as Stripe
signs them (``t=<unix time>,v1=HMAC-SHA256(secret, "t.payload")``).

Bad input tried: a forged signature, a signature with another secret, one older than five minutes, no signature,
the built-in provider's endpoint while Stripe is the provider; events out of order, delivered twice, or whose body
says something Stripe's state does not; another amount, another currency; Stripe down when the guest is handed
over and when the sweep asks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from litestar.testing import AsyncTestClient

from loginless.payments import handlers
from loginless.payments.bootstrap import create_app, payments_context
from loginless.payments.domain import new_payment_id
from loginless.payments.ports import ProviderFailed, ProviderUnavailable
from loginless.payments.stripeprovider import StripeProvider
from loginless.shared.clock import utc_now
from loginless.shared.eventstore import Cause, EventStore
from loginless.testkit.fake_stripe import FakeStripe, signed_webhook

from .test_guest_pay import pay_form
from .test_invoices import issue

pytestmark = pytest.mark.integration

SECRET = "whsec_integration"


@pytest.fixture(scope="module")
def fake_stripe() -> FakeStripe:
    return FakeStripe()


@pytest.fixture(scope="module")
def stripe_provider(fake_stripe: FakeStripe) -> StripeProvider:
    return StripeProvider(fake_stripe, webhook_secret=SECRET, public_url="http://gateway.test")


@pytest.fixture(scope="module")
async def stripe_client(harness, stripe_provider) -> AsyncIterator[AsyncTestClient]:  # noqa: ANN001
    app = create_app(harness.settings, links=harness.links, provider=stripe_provider)
    async with AsyncTestClient(app, timeout=60) as http:
        yield http


async def handed_over(client, harness, tenant, **invoice):  # noqa: ANN001, ANN003, ANN201
    """An issued invoice whose guest submitted the pay form and was sent to Stripe Checkout:
    (the invoice, the attempt's payment id, the Checkout Session id)."""
    issued = await issue(client, tenant, **invoice)
    headers = harness.guest_headers(issued["link_ids"][0])
    form = pay_form((await client.get("/guest/", headers=headers)).text)
    handed = await client.post("/guest/pay", data=form, headers=headers, follow_redirects=False)
    assert handed.status_code == 303, handed.text
    assert handed.headers["location"].startswith("https://checkout.stripe.test/c/pay/cs_test_")
    return issued, form["attempt"], handed.headers["location"].rsplit("/", 1)[1]


async def deliver(client, event: dict, *, secret: str = SECRET, timestamp: int | None = None):  # noqa: ANN001, ANN201
    payload, headers = signed_webhook(event, secret, timestamp)
    return await client.post("/webhooks/stripe", content=payload, headers=headers)


async def staff_view(client, tenant, invoice_id: str) -> dict:  # noqa: ANN001
    return (await client.get(f"/v1/invoices/{invoice_id}", headers=tenant.headers)).json()


async def test_a_guest_paying_on_stripe_checkout_is_received_once_and_the_invoice_paid_once(
        stripe_client, harness, tenant, fake_stripe):
    issued, attempt, session_id = await handed_over(stripe_client, harness, tenant)
    assert (await harness.events(issued["invoice_id"]))[-2:] == ["PaymentStarted", "PaymentCheckoutOpened"]
    (key, params), = [(k, p) for k, p in fake_stripe.created if p["client_reference_id"] == attempt]
    assert key == f"{attempt}/checkout" and params["line_items"][0]["price_data"]["unit_amount"] == 99049
    assert params["success_url"] == f"http://gateway.test/g/{issued['link_ids'][0]}/?payment={attempt}"

    intent_id = fake_stripe.pay(session_id)
    completed = fake_stripe.event("checkout.session.completed", session_id)
    answers = await asyncio.gather(*(deliver(stripe_client, completed) for _ in range(3)))

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True, True]
    # The same news by another event (Stripe sends several per payment): still one effect.
    assert (await deliver(stripe_client, fake_stripe.event("payment_intent.succeeded", intent_id))).status_code == 200
    events = await harness.events(issued["invoice_id"])
    assert events.count("PaymentReceived") == 1 and events.count("InvoicePaid") == 1
    invoice = await staff_view(stripe_client, tenant, issued["invoice_id"])
    (payment,) = invoice["payments"]
    assert invoice["status"] == "paid" and payment["provider"] == "stripe"
    assert payment["provider_payment_id"] == intent_id  # the payment is keyed by its PaymentIntent


async def test_events_out_of_order_are_resolved_by_fetching_the_payment_intent_again(
        stripe_client, harness, tenant, fake_stripe):
    # A failure sent for a declined first card arrives after the guest paid with a second one: it was paid.
    issued, _, session_id = await handed_over(stripe_client, harness, tenant)
    intent_id = fake_stripe.decline(session_id)
    failed_then = fake_stripe.event("payment_intent.payment_failed", intent_id)
    fake_stripe.pay(session_id)
    assert (await deliver(stripe_client, failed_then)).status_code == 200
    assert (await harness.events(issued["invoice_id"]))[-2:] == ["PaymentReceived", "InvoicePaid"]

    # "processing" after "succeeded", and the stale failure again under a new event id: nothing changes.
    await deliver(stripe_client, fake_stripe.event("payment_intent.processing", intent_id, status="processing"))
    await deliver(stripe_client, fake_stripe.event("payment_intent.payment_failed", intent_id,
                                                   status="requires_payment_method"))
    events = await harness.events(issued["invoice_id"])
    assert "PaymentFailed" not in events and events.count("PaymentReceived") == 1

    # An event whose body says "paid" about a session Stripe says nobody paid: nothing is recorded.
    other, _, other_session = await handed_over(stripe_client, harness, tenant)
    lying = fake_stripe.event("checkout.session.completed", other_session, status="complete", payment_status="paid")
    assert (await deliver(stripe_client, lying)).status_code == 200
    assert (await harness.events(other["invoice_id"]))[-1] == "PaymentCheckoutOpened"


async def test_forged_wrongly_signed_or_stale_webhooks_are_refused_and_nothing_is_recorded(
        stripe_client, harness, tenant, fake_stripe):
    issued, _, session_id = await handed_over(stripe_client, harness, tenant)
    fake_stripe.pay(session_id)
    event = fake_stripe.event("checkout.session.completed", session_id)
    payload, good = signed_webhook(event, SECRET)
    before = await harness.events(issued["invoice_id"])

    refused = [
        await stripe_client.post("/webhooks/stripe", content=payload,
                                 headers={**good, "stripe-signature": good["stripe-signature"][:-4] + "0000"}),
        await deliver(stripe_client, event, secret="whsec_someone_else"),
        await deliver(stripe_client, event, timestamp=int(time.time()) - 3600),
        await stripe_client.post("/webhooks/stripe", content=payload, headers={"content-type": "application/json"}),
    ]

    assert [r.status_code for r in refused] == [400, 400, 400, 400]
    assert {r.headers["content-type"] for r in refused} == {"application/problem+json"}
    assert all(r.json()["type"].endswith("webhook-refused") for r in refused)
    assert await harness.events(issued["invoice_id"]) == before
    recorded = await harness.pool.fetchval(f'SELECT count(*) FROM "{harness.settings.schema}".webhook_events'
                                           " WHERE event_id = $1", event["id"])
    assert recorded == 0
    # The built-in provider's endpoint takes nothing while Stripe is the provider.
    assert (await stripe_client.post("/webhooks/test", content=b"{}")).status_code == 404


async def test_another_amount_or_currency_from_stripe_is_not_counted_and_the_payment_is_flagged(
        stripe_client, harness, tenant, fake_stripe):
    for taken in ({"amount": 100}, {"currency": "usd"}):
        issued, attempt, session_id = await handed_over(stripe_client, harness, tenant)
        fake_stripe.pay(session_id, **taken)

        answer = await deliver(stripe_client, fake_stripe.event("checkout.session.completed", session_id))

        assert answer.status_code == 200 and answer.json()["flagged"] is True
        events = await harness.events(issued["invoice_id"])
        assert events[-1] == "PaymentFlagged" and "PaymentReceived" not in events
        invoice = await staff_view(stripe_client, tenant, issued["invoice_id"])
        assert invoice["status"] == "open" and invoice["paid_minor"] == 0
        assert [(p["payment_id"], p["flagged"]) for p in invoice["payments"]] == [(attempt, True)]


async def test_a_refund_staff_ask_for_is_given_back_at_stripe_once_and_its_webhook_records_nothing_more(
        stripe_client, harness, tenant, fake_stripe, stripe_provider):
    issued, attempt, session_id = await handed_over(stripe_client, harness, tenant)
    intent_id = fake_stripe.pay(session_id)
    await deliver(stripe_client, fake_stripe.event("checkout.session.completed", session_id))
    refunds = f"/v1/invoices/{issued['invoice_id']}/payments/{attempt}/refunds"

    first = await stripe_client.post(refunds, json={"amount": "100", "reason": "Discount agreed"},
                                     headers=tenant.headers)
    fake_stripe.failure = ProviderUnavailable("Stripe: connection refused")
    second = await stripe_client.post(refunds, json={"amount": "50", "reason": "More discount"},
                                      headers=tenant.headers)  # recorded; the worker gives it back later
    fake_stripe.failure = None

    assert first.status_code == second.status_code == 201
    first_id, second_id = first.json()["refund_id"], second.json()["refund_id"]
    given = [(key, params["amount"], params["metadata"]["refund_id"]) for key, params in fake_stripe.created
             if params.get("payment_intent") == intent_id]
    assert given == [(f"{first_id}/refund", 10000, first_id)]
    store = EventStore(harness.pool, schema=harness.settings.schema, topic=harness.settings.events_topic)
    await handlers.work_through_jobs(payments_context(store, harness.settings, links=harness.links,
                                                      provider=stripe_provider))
    assert [r["metadata"]["refund_id"] for r in fake_stripe.refunds_of[intent_id]] == [first_id, second_id]

    await deliver(stripe_client, fake_stripe.charge_event("charge.refunded", intent_id))
    events = await harness.events(issued["invoice_id"])
    assert events.count("PaymentRefunded") == 2  # Stripe's news of them is of the same refunds
    assert (await staff_view(stripe_client, tenant, issued["invoice_id"]))["paid_minor"] == 99049 - 15000


async def test_a_refund_at_stripe_is_recorded_once_and_a_chargeback_reverses_the_payment(
        stripe_client, harness, tenant, fake_stripe):
    issued, _, session_id = await handed_over(stripe_client, harness, tenant)
    intent_id = fake_stripe.pay(session_id)
    await deliver(stripe_client, fake_stripe.event("checkout.session.completed", session_id))
    fake_stripe.refund(intent_id, 9049)

    await deliver(stripe_client, fake_stripe.charge_event("charge.refunded", intent_id))
    await deliver(stripe_client, fake_stripe.charge_event("refund.created", intent_id))  # the same refund again

    events = await harness.events(issued["invoice_id"])
    assert events.count("PaymentRefunded") == 1
    invoice = await staff_view(stripe_client, tenant, issued["invoice_id"])
    assert invoice["status"] == "partially_paid" and invoice["paid_minor"] == 90000

    await deliver(stripe_client, fake_stripe.event("charge.dispute.created", fake_stripe.open_dispute(intent_id)))
    assert (await harness.events(issued["invoice_id"]))[-1] == "PaymentReversed"
    assert (await staff_view(stripe_client, tenant, issued["invoice_id"]))["status"] == "open"


async def test_the_sweep_settles_payments_whose_webhook_never_came(
        stripe_client, harness, tenant, fake_stripe, stripe_provider):
    paid, _, paid_session = await handed_over(stripe_client, harness, tenant)
    abandoned, _, abandoned_session = await handed_over(stripe_client, harness, tenant)
    still_open, _, _ = await handed_over(stripe_client, harness, tenant)
    fake_stripe.pay(paid_session)
    fake_stripe.expire(abandoned_session)
    store = EventStore(harness.pool, schema=harness.settings.schema, topic=harness.settings.events_topic)

    def sweeper(after: timedelta, provider=stripe_provider):  # noqa: ANN001, ANN202 -- the worker's, clock moved on
        return payments_context(store, harness.settings, links=harness.links, provider=provider,
                                clock=lambda: utc_now() + after)

    # Started, but the process stopped before the session was recorded: nobody holds a page to pay it on.
    never_handed = await issue(stripe_client, tenant)
    await handlers.start_payment(sweeper(timedelta(0)), tenant.tenant_id, never_handed["invoice_id"],
                                 payment_id=new_payment_id(), amount_minor=None, method="card", provider="stripe",
                                 payer_name=None, payer_email=None, link_id=None, cause=Cause("test"))

    # Not yet pending for long: the sweep leaves them to their webhooks.
    await handlers.sweep_pending(sweeper(timedelta(0)))
    assert (await harness.events(paid["invoice_id"]))[-1] == "PaymentCheckoutOpened"

    fake_stripe.failure = ProviderUnavailable("Stripe: connection refused")
    await handlers.sweep_pending(sweeper(timedelta(hours=1)))  # Stripe down: nothing decided, asked again later
    assert (await harness.events(paid["invoice_id"]))[-1] == "PaymentCheckoutOpened"
    fake_stripe.failure = None

    await handlers.sweep_pending(sweeper(timedelta(hours=1)))

    assert (await harness.events(paid["invoice_id"]))[-2:] == ["PaymentReceived", "InvoicePaid"]
    assert (await harness.events(abandoned["invoice_id"]))[-1] == "PaymentFailed"
    assert (await staff_view(stripe_client, tenant, abandoned["invoice_id"]))["processing_minor"] == 0
    assert (await harness.events(still_open["invoice_id"]))[-1] == "PaymentCheckoutOpened"  # the guest may pay yet
    assert (await harness.events(never_handed["invoice_id"]))[-2:] == ["PaymentStarted", "PaymentFailed"]
    # A webhook that comes after all changes nothing more.
    await deliver(stripe_client, fake_stripe.event("checkout.session.completed", paid_session))
    assert (await harness.events(paid["invoice_id"])).count("PaymentReceived") == 1


async def test_the_sweep_leaves_the_built_in_providers_payments_to_the_guests_choice(client, harness, tenant):
    issued = await issue(client, tenant)
    headers = harness.guest_headers(issued["link_ids"][0])
    form = pay_form((await client.get("/guest/", headers=headers)).text)
    await client.post("/guest/pay", data=form, headers=headers, follow_redirects=False)  # then no choice is made
    store = EventStore(harness.pool, schema=harness.settings.schema, topic=harness.settings.events_topic)

    await handlers.sweep_pending(payments_context(store, harness.settings, links=harness.links,
                                                  provider=harness.provider,
                                                  clock=lambda: utc_now() + timedelta(hours=1)))

    assert (await harness.events(issued["invoice_id"]))[-1] == "PaymentStarted"


async def test_a_guest_back_by_the_cancel_link_has_the_page_closed_and_the_amount_open_again_at_once(
        stripe_client, harness, tenant, fake_stripe):
    """Bad input tried: the cancel link followed twice, with a payment id that is not the invoice's, and after the
    guest paid in another tab."""
    issued, attempt, session_id = await handed_over(stripe_client, harness, tenant)
    headers = harness.guest_headers(issued["link_ids"][0])
    (params,) = [p for _, p in fake_stripe.created if p.get("client_reference_id") == attempt]
    cancel_url = urlsplit(params["cancel_url"])
    assert cancel_url.path == f"/g/{issued['link_ids'][0]}/"  # the guest's token-free page

    back = await stripe_client.get(f"/guest/?{cancel_url.query}", headers=headers)

    assert back.status_code == 200 and "data-failed" in back.text and "data-pay-form" in back.text
    assert fake_stripe.sessions[session_id]["status"] == "expired"
    assert (await harness.events(issued["invoice_id"]))[-1] == "PaymentFailed"
    view = await staff_view(stripe_client, tenant, issued["invoice_id"])
    assert (view["processing_minor"], view["due_minor"]) == (0, 99049)
    again = await stripe_client.get(f"/guest/?{cancel_url.query}", headers=headers)
    stranger = await stripe_client.get(f"/guest/?payment={new_payment_id()}&canceled=1", headers=headers)
    assert again.status_code == stranger.status_code == 200
    assert (await harness.events(issued["invoice_id"])).count("PaymentFailed") == 1

    paid, paid_attempt, paid_session = await handed_over(stripe_client, harness, tenant)
    fake_stripe.pay(paid_session)  # in another tab; then the first tab's cancel link
    late = await stripe_client.get(f"/guest/?payment={paid_attempt}&canceled=1",
                                   headers=harness.guest_headers(paid["link_ids"][0]))
    assert "data-received" in late.text or "data-paid" in late.text
    assert (await harness.events(paid["invoice_id"]))[-2:] == ["PaymentReceived", "InvoicePaid"]


async def test_stripe_down_or_refusing_when_the_guest_is_handed_over_fails_the_attempt_so_the_amount_is_open_again(
        stripe_client, harness, tenant, fake_stripe):
    for failure, status in ((ProviderUnavailable("Stripe: connection refused"), 503),
                            (ProviderFailed("Stripe: amount below the minimum"), 502)):
        issued = await issue(stripe_client, tenant)
        headers = harness.guest_headers(issued["link_ids"][0])
        form = pay_form((await stripe_client.get("/guest/", headers=headers)).text)
        fake_stripe.failure = failure
        try:
            answer = await stripe_client.post("/guest/pay", data=form, headers=headers, follow_redirects=False)
        finally:
            fake_stripe.failure = None

        assert answer.status_code == status and "<html" in answer.text
        assert (await harness.events(issued["invoice_id"]))[-2:] == ["PaymentStarted", "PaymentFailed"]
        retried = await stripe_client.post("/guest/pay", data=pay_form((await stripe_client.get(
            "/guest/", headers=headers)).text), headers=headers, follow_redirects=False)
        assert retried.status_code == 303 and retried.headers["location"].startswith("https://checkout.stripe.test/")
