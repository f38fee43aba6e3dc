"""The Stripe adapter on the test kit's stateful Stripe (no I/O): the Checkout Session it asks for, webhooks verified
by their signature, and reports read from Stripe's current state -- never from the event's body."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from loginless.payments import money
from loginless.payments.ports import Checkout, ProviderFailed, WebhookRefused
from loginless.payments.settings import PaymentsSettings
from loginless.payments.stripeprovider import StripeProvider, amount_from_stripe, stripe_amount
from loginless.testkit.fake_stripe import FakeStripe, signed_webhook, stripe_signature

pytestmark = pytest.mark.unit

SECRET = "whsec_unit"
STARTED = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def a_checkout(**changes: object) -> Checkout:
    values = {"payment_id": "pay_1", "invoice_id": "inv_1", "tenant_id": "ten_1", "amount_minor": 99049,
              "currency": "EUR", "description": "Invoice 2026-001", "return_url": "/g/lnk_1",
              "payer_email": "luis@example.test", "started_at": STARTED, **changes}
    return Checkout(**values)  # type: ignore[arg-type]


@pytest.fixture
def fake() -> FakeStripe:
    return FakeStripe()


@pytest.fixture
def provider(fake: FakeStripe) -> StripeProvider:
    return StripeProvider(fake, webhook_secret=SECRET, public_url="https://pay.firm.test/")


async def test_the_checkout_session_is_for_the_servers_amount_with_the_attempt_as_idempotency_key(fake, provider):
    page = await provider.checkout(a_checkout())

    (key, params), = fake.created
    assert key == "pay_1/checkout"
    assert params["line_items"] == [{"quantity": 1, "price_data": {
        "currency": "eur", "unit_amount": 99049, "product_data": {"name": "Invoice 2026-001"}}}]
    assert params["mode"] == "payment" and params["client_reference_id"] == "pay_1"
    ours = {"payment_id": "pay_1", "invoice_id": "inv_1", "tenant_id": "ten_1"}
    assert params["metadata"] == ours and params["payment_intent_data"]["metadata"] == ours
    # Back to the guest's token-free page, with the attempt to show how it went.
    assert params["success_url"] == "https://pay.firm.test/g/lnk_1/?payment=pay_1"
    assert params["cancel_url"] == "https://pay.firm.test/g/lnk_1/?payment=pay_1&canceled=1"
    assert params["expires_at"] == int(STARTED.timestamp()) + 30 * 60 + 300
    assert page.url.startswith("https://checkout.stripe.test/") and page.reference in fake.sessions


async def test_the_same_attempt_handed_over_again_sends_the_same_call_and_gets_the_same_page(fake, provider):
    first = await provider.checkout(a_checkout())
    again = await provider.checkout(a_checkout())  # FakeStripe, like Stripe, refuses a key with other parameters

    assert again == first and len(fake.sessions) == 1
    assert fake.created[0] == fake.created[1]


def test_webhooks_forged_signed_with_another_secret_too_old_or_unsigned_are_refused(provider):
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded",
                          "data": {"object": {"id": "pi_1"}}}).encode()
    good = stripe_signature(payload, SECRET)
    assert provider.verify(payload, good)["id"] == "evt_1"

    for signature in (good[:-4] + "0000",  # forged
                      stripe_signature(payload, "whsec_someone_else"),  # the wrong secret
                      stripe_signature(payload, SECRET, int(time.time()) - 301),  # older than five minutes
                      "t=1,v0=abc", "", None):
        with pytest.raises(WebhookRefused):
            provider.verify(payload, signature)
    with pytest.raises(WebhookRefused):  # signed, but another body
        provider.verify(payload.replace(b"evt_1", b"evt_2"), good)


async def test_reports_come_from_the_fetched_state_not_from_the_events_body(fake, provider):
    page = await provider.checkout(a_checkout())
    # An event whose snapshot claims success, about a session nobody has paid yet: nothing to report.
    event = fake.event("checkout.session.completed", page.reference, status="complete", payment_status="paid")
    assert (await provider.receive(*_delivered(event))).reports == ()

    intent_id = fake.pay(page.reference)
    # A stale "payment_failed" (sent while the first card was declined) arriving after the success reports it.
    stale = fake.event("payment_intent.payment_failed", intent_id, status="requires_payment_method")
    received = await provider.receive(*_delivered(stale))

    (report,) = received.reports
    assert received.event_id == stale["id"]
    assert (report.outcome, report.payment_id, report.invoice_id, report.amount_minor, report.currency,
            report.provider_payment_id) == ("succeeded", "pay_1", "inv_1", 99049, "EUR", intent_id)


async def test_a_declined_card_is_no_failure_while_the_page_is_open_and_an_expired_page_is(fake, provider):
    page = await provider.checkout(a_checkout())
    intent_id = fake.decline(page.reference)
    assert (await provider.receive(*_delivered(fake.event("payment_intent.payment_failed", intent_id)))).reports == ()

    fake.expire(page.reference)
    (report,) = (await provider.receive(*_delivered(fake.event("checkout.session.expired", page.reference)))).reports
    assert (report.outcome, report.payment_id) == ("failed", "pay_1")
    assert await provider.status("pay_1", "inv_1", page.reference) == (report.__class__(**{**report.__dict__,
                                                                                 "event_id": "sweep:pay_1"}),)


async def test_a_guest_who_leaves_by_the_cancel_link_has_the_page_expired_and_the_payment_reported_failed(
        fake, provider):
    page = await provider.checkout(a_checkout())
    fake.decline(page.reference)  # a declined card first: the page was still open when the guest left

    (report,) = await provider.cancel("pay_1", "inv_1", page.reference)

    assert fake.expired_by_api == [page.reference] and fake.sessions[page.reference]["status"] == "expired"
    assert (report.outcome, report.payment_id, report.invoice_id) == ("failed", "pay_1", "inv_1")


async def test_a_cancel_link_followed_after_paying_elsewhere_reports_the_payment_stripe_took(fake, provider):
    page = await provider.checkout(a_checkout())
    intent_id = fake.pay(page.reference)  # paid in another tab, then the first tab's cancel link

    (report,) = await provider.cancel("pay_1", "inv_1", page.reference)

    assert fake.sessions[page.reference]["status"] == "complete"  # Stripe refused to expire it
    assert (report.outcome, report.provider_payment_id, report.amount_minor) == ("succeeded", intent_id, 99049)
    (never_handed_over,) = await provider.cancel("pay_2", "inv_1", None)
    assert never_handed_over.outcome == "failed" and fake.expired_by_api == [page.reference]


async def test_a_bank_debit_is_processing_until_it_settles_and_fails_once_it_failed_after_the_page_completed(
        fake, provider):
    page = await provider.checkout(a_checkout())
    intent_id = fake.pay(page.reference, status="processing")
    assert (await provider.receive(*_delivered(fake.event("checkout.session.completed", page.reference)))).reports \
        == ()
    fake.fail_later(page.reference)
    # The PaymentIntent alone cannot tell this from a declined card on an open page; its session can.
    assert (await provider.receive(*_delivered(fake.event("payment_intent.payment_failed", intent_id)))).reports == ()
    (report,) = (await provider.receive(*_delivered(
        fake.event("checkout.session.async_payment_failed", page.reference)))).reports
    assert (report.outcome, report.reason) == ("failed", "payment_failed")
    assert [r.outcome for r in await provider.status("pay_1", "inv_1", page.reference)] == ["failed"]


async def test_an_open_page_the_guest_never_used_reports_nothing_to_the_sweep_and_no_page_at_all_fails(
        fake, provider):
    page = await provider.checkout(a_checkout())
    assert await provider.status("pay_1", "inv_1", page.reference) == ()
    (report,) = await provider.status("pay_2", "inv_1", None)  # started, but no session was ever recorded
    assert (report.outcome, report.payment_id, report.invoice_id) == ("failed", "pay_2", "inv_1")


async def test_refunds_are_reported_one_each_and_a_dispute_with_money_withdrawn_as_a_reversal(fake, provider):
    page = await provider.checkout(a_checkout())
    intent_id = fake.pay(page.reference)
    first, second = fake.refund(intent_id, 1000), fake.refund(intent_id, 49)

    refunded = await provider.receive(*_delivered(fake.charge_event("charge.refunded", intent_id)))
    assert [(r.outcome, r.refund_id, r.amount_minor) for r in refunded.reports] == [
        ("refunded", first, 1000), ("refunded", second, 49)]

    ours = await fake.create_refund({"payment_intent": intent_id, "amount": 1, "metadata": {"refund_id": "re_ours"}},
                                    idempotency_key="re_ours/refund")
    refunded = await provider.receive(*_delivered(fake.charge_event("charge.refunded", intent_id)))
    assert refunded.reports[-1].refund_id == "re_ours" != ours["id"]  # a refund staff asked for: by our id

    inquiry = fake.open_dispute(intent_id, status="warning_needs_response")
    assert (await provider.receive(*_delivered(fake.event("charge.dispute.created", inquiry)))).reports == ()
    dispute = fake.open_dispute(intent_id)
    (reversal,) = (await provider.receive(*_delivered(fake.event("charge.dispute.created", dispute)))).reports
    assert (reversal.outcome, reversal.payment_id, reversal.reason) == ("reversed", "pay_1", "chargeback")


async def test_events_about_payments_that_are_not_ours_or_of_other_types_report_nothing(fake, provider):
    page = await provider.checkout(a_checkout())
    intent_id = fake.pay(page.reference)
    fake.intents[intent_id]["metadata"] = {}  # made by another integration on the same Stripe account
    assert (await provider.receive(*_delivered(fake.event("payment_intent.succeeded", intent_id)))).reports == ()
    other = {"id": "evt_x", "object": "event", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
    assert (await provider.receive(*_delivered(other))).reports == ()


async def test_stripe_down_is_a_provider_failure_not_a_report(fake, provider):
    page = await provider.checkout(a_checkout())
    fake.failure = ProviderFailed("Stripe: connection refused")
    with pytest.raises(ProviderFailed):
        await provider.receive(*_delivered(fake.event("checkout.session.completed", page.reference)))


def test_stripe_chosen_without_its_keys_stops_the_start_naming_what_is_missing():
    base = {"database_url": "postgresql://127.0.0.1:1/x", "kafka_bootstrap_servers": "127.0.0.1:1"}
    with pytest.raises(ValidationError, match="PAYMENTS_PROVIDER=stripe needs PAYMENTS_STRIPE_SECRET_KEY and "
                                              "PAYMENTS_STRIPE_WEBHOOK_SECRET"):
        PaymentsSettings(**base, provider="stripe")
    with pytest.raises(ValidationError, match="needs PAYMENTS_STRIPE_WEBHOOK_SECRET"):
        PaymentsSettings(**base, provider="stripe", stripe_secret_key="sk_test_1")
    assert PaymentsSettings(**base).provider == "test"  # the built-in test provider is the default
    assert PaymentsSettings(**base, provider="stripe", stripe_secret_key="sk_test_1",
                            stripe_webhook_secret="whsec_1").provider == "stripe"


def test_a_production_process_refuses_the_test_provider_which_takes_no_money(monkeypatch):
    from loginless.payments import bootstrap
    from loginless.shared.runtime import run_service

    base = {"database_url": "postgresql://127.0.0.1:1/x", "kafka_bootstrap_servers": "127.0.0.1:1"}
    with pytest.raises(ValidationError, match="in production set PAYMENTS_PROVIDER=stripe"):
        PaymentsSettings(**base, environment="production")
    assert PaymentsSettings(**base, environment="production", provider="stripe", stripe_secret_key="sk_live_1",
                            stripe_webhook_secret="whsec_1").provider == "stripe"
    monkeypatch.setenv("PAYMENTS_ENVIRONMENT", "production")
    monkeypatch.delenv("PAYMENTS_PROVIDER", raising=False)
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", base["database_url"])
    with pytest.raises(SystemExit) as stopped:
        run_service(bootstrap, argv=["api"])
    assert str(stopped.value).startswith("payments: cannot start: settings: Value error, PAYMENTS_PROVIDER=test")


def _delivered(event: dict) -> tuple[bytes, str]:
    payload, headers = signed_webhook(event, SECRET)
    return payload, headers["stripe-signature"]


def test_the_worker_runs_the_sweep_beside_its_jobs_and_stripe_is_wired_when_chosen():
    from loginless.payments.bootstrap import create_worker, provider_for

    base = {"database_url": "postgresql://127.0.0.1:1/x", "kafka_bootstrap_servers": "127.0.0.1:1"}
    worker = create_worker(PaymentsSettings(**base, sweep_seconds=30))
    assert [task.__name__ for task in worker.task_factories] == ["work_through_jobs", "sweep_pending"]
    chosen = PaymentsSettings(**base, provider="stripe", stripe_secret_key="sk_test_1", stripe_webhook_secret="whsec_1")
    assert isinstance(provider_for(chosen), StripeProvider) and provider_for(PaymentsSettings(**base)).name == "test"


def test_the_process_refuses_to_start_with_stripe_and_no_keys_saying_which(monkeypatch):
    from loginless.payments import bootstrap
    from loginless.shared.runtime import run_service

    monkeypatch.setenv("PAYMENTS_PROVIDER", "stripe")
    monkeypatch.setenv("PAYMENTS_STRIPE_SECRET_KEY", "sk_test_1")
    monkeypatch.delenv("PAYMENTS_STRIPE_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", "postgresql://127.0.0.1:1/x")
    monkeypatch.setenv("PAYMENTS_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    for role in ("api", "worker"):
        with pytest.raises(SystemExit) as stopped:
            run_service(bootstrap, argv=[role])
        assert str(stopped.value) == ("payments: cannot start: settings: Value error, PAYMENTS_PROVIDER=stripe needs "
                                      "PAYMENTS_STRIPE_WEBHOOK_SECRET")
        assert "sk_test_1" not in str(stopped.value)  # the secrets given are never repeated


def test_the_decider_records_the_page_a_payment_was_handed_to_once_and_a_refund_reported_twice_once():
    from datetime import date
    from decimal import Decimal

    from loginless.payments import domain, money
    from loginless.payments.domain import INVOICE

    def run(state, command):  # noqa: ANN001, ANN202
        return INVOICE.replay(INVOICE.decide(state, command), state)

    amounts = money.compute("EUR", [money.LineIn("Advice", Decimal(1), Decimal(100), "E", Decimal(0))])
    invoice = run(run(None, domain.CreateInvoice(
        invoice_id="inv_1", tenant_id="t1", account_id="acc_1", number="1", currency="EUR",
        issue_date=date(2026, 12, 6), due_date=date(2026, 12, 31), lines=amounts.lines, discounts=(), withholdings=(),
        taxes=amounts.taxes, totals=amounts.totals, notes=None, bank=None, creditor_reference=None,
        partial_payments=False, minimum_partial_minor=None, payer_name=None, payer_email=None, payer_language=None,
        now=STARTED)), domain.IssueInvoice(STARTED))
    invoice = run(invoice, domain.StartPayment("pay_1", 10000, "card", "stripe", None, None, None, STARTED))

    opened = domain.RecordCheckout("pay_1", "cs_1", STARTED)
    assert [type(e).__name__ for e in INVOICE.decide(invoice, opened)] == ["PaymentCheckoutOpened"]
    invoice = run(invoice, opened)
    assert invoice.payment("pay_1").provider_reference == "cs_1" and INVOICE.decide(invoice, opened) == []

    invoice = run(invoice, domain.ConfirmPayment("pay_1", "pi_1", 10000, "EUR", STARTED))
    refund = domain.RefundPayment("re_1", "pay_1", 2500, "requested_by_customer", STARTED)
    invoice = run(invoice, refund)
    assert INVOICE.decide(invoice, refund) == [] and invoice.paid_minor == 7500


# Stripe's currency table, as its documentation lists it ("Supported currencies"): the zero-decimal currencies, the
# three-decimal ones (amounts ending in 0), and its special case ISK (whole krónur, written with two decimals).
STRIPE_ZERO_DECIMAL = "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()
STRIPE_THREE_DECIMAL = "BHD JOD KWD OMR TND".split()


@pytest.mark.parametrize("currency", STRIPE_ZERO_DECIMAL)
def test_stripes_zero_decimal_currencies_are_whole_units_here_and_there(currency):
    assert money.exponent(currency) == 0
    assert stripe_amount(500, currency) == 500 and amount_from_stripe(500, currency) == 500


@pytest.mark.parametrize("currency", STRIPE_THREE_DECIMAL)
def test_stripes_three_decimal_currencies_are_charged_in_steps_of_ten_and_never_rounded(currency):
    assert money.exponent(currency) == 3
    assert stripe_amount(5120, currency) == 5120
    with pytest.raises(ProviderFailed, match="steps of 0.010"):
        stripe_amount(5124, currency)  # the decider fixed 5.124: Stripe would want 5.120 or 5.130


def test_isk_is_whole_kronur_here_and_two_decimal_at_stripe():
    assert money.exponent("ISK") == 0
    assert stripe_amount(5, "ISK") == 500 and amount_from_stripe(500, "ISK") == 5
    assert amount_from_stripe(550, "ISK") != 5  # a fraction of a króna never passes for the amount asked


def test_every_other_currency_invoices_take_is_two_decimal_at_stripe_too_and_the_rest_are_refused():
    others = money.TWO_DECIMAL
    assert others.isdisjoint(STRIPE_ZERO_DECIMAL + STRIPE_THREE_DECIMAL + ["ISK"])
    assert all(money.exponent(c) == 2 and stripe_amount(1050, c) == 1050 for c in others)
    for currency in money.THREE_DECIMAL - set(STRIPE_THREE_DECIMAL):  # ISO three-decimal, not charged by Stripe
        with pytest.raises(ProviderFailed, match="does not charge"):
            stripe_amount(1000, currency)


async def test_an_isk_invoice_is_handed_over_in_stripes_units_and_its_payment_read_back_in_ours(fake, provider):
    page = await provider.checkout(a_checkout(amount_minor=12_500, currency="ISK"))
    (_, params), = fake.created
    assert params["line_items"][0]["price_data"]["unit_amount"] == 1_250_000

    intent_id = fake.pay(page.reference)
    (report,) = (await provider.receive(*_delivered(fake.event("payment_intent.succeeded", intent_id)))).reports
    assert (report.outcome, report.amount_minor, report.currency) == ("succeeded", 12_500, "ISK")


async def test_a_kwd_amount_stripe_cannot_take_exactly_is_refused_before_the_guest_is_handed_over(fake, provider):
    with pytest.raises(ProviderFailed):
        await provider.checkout(a_checkout(amount_minor=5_124, currency="KWD"))
    assert fake.created == []
