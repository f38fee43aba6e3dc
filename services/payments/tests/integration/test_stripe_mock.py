"""The Stripe adapter's calls, made by the official SDK against stripe-mock (Stripe's own mock, which checks every
request against Stripe's OpenAPI description; the test stack runs it): the shapes Stripe's API accepts, the
idempotency key on the creating call, and a guest handed from the pay page to the session stripe-mock made.
stripe-mock keeps no state, so what Stripe later says of a payment is tested with the stateful fake
(``test_stripe_webhooks.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe
from litestar.testing import AsyncTestClient

from loginless.payments.bootstrap import create_app
from loginless.payments.ports import Checkout, ProviderFailed, Refund
from loginless.payments.stripeprovider import StripeProvider, StripeSdkApi
from loginless.testkit import endpoints

from .test_guest_pay import pay_form
from .test_invoices import issue

# The SDK hands httpx its form body as text, which httpx asks to be passed otherwise: the SDK's affair, not ours.
pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes/text content")]


@pytest.fixture(scope="module")
def stripe_mock_url() -> str:
    """stripe-mock's HTTP address (``STRIPE_MOCK_URL``, from the test stack); under ``CI=true`` its absence fails."""
    return endpoints.endpoint("STRIPE_MOCK_URL")


@dataclass(frozen=True)
class Sent:
    method: str
    url: httpx.URL
    headers: dict[str, str]  # names in lower case
    body: str | None


class RecordingHttpClient(stripe.HTTPXClient):
    """The SDK's own httpx client, keeping each request as it leaves the SDK."""

    def __init__(self) -> None:
        super().__init__(timeout=20)
        self.sent: list[Sent] = []

    async def request_async(self, method: str, url: str, headers: Mapping[str, str], post_data=None):  # noqa: ANN001, ANN201
        self.sent.append(Sent(method.upper(), httpx.URL(url), {k.lower(): v for k, v in headers.items()},
                              post_data.decode() if isinstance(post_data, bytes) else post_data))
        return await super().request_async(method, url, headers, post_data)


@pytest.fixture
def http_client() -> RecordingHttpClient:
    return RecordingHttpClient()


@pytest.fixture
def sent(http_client: RecordingHttpClient) -> list[Sent]:
    return http_client.sent


@pytest.fixture
def api(stripe_mock_url: str, http_client: RecordingHttpClient) -> StripeSdkApi:
    return StripeSdkApi("sk_test_123", api_base=stripe_mock_url, http_client=http_client)


@pytest.fixture
def provider(api: StripeSdkApi) -> StripeProvider:
    return StripeProvider(api, webhook_secret="whsec_unused", public_url="https://pay.firm.test")


async def test_the_checkout_session_is_created_with_the_shape_stripe_accepts_and_the_attempts_key(provider, sent):
    page = await provider.checkout(Checkout(
        payment_id="pay_shape1", invoice_id="inv_shape", tenant_id="ten_1", amount_minor=99049, currency="EUR",
        description="Invoice 2026-001", return_url="/g/lnk_1", payer_email="luis@example.test",
        started_at=datetime.now(UTC)))

    assert page.reference.startswith("cs_") and page.url.startswith("https://checkout.stripe.com/")
    (request,) = sent
    assert (request.method, request.url.path) == ("POST", "/v1/checkout/sessions")
    assert request.headers["idempotency-key"] == "pay_shape1/checkout"
    assert request.headers["authorization"] == "Bearer sk_test_123"
    form = {key: values[0] for key, values in parse_qs(request.body or "").items()}
    assert form["line_items[0][price_data][unit_amount]"] == "99049"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["payment_intent_data[metadata][payment_id]"] == "pay_shape1"
    assert form["metadata[invoice_id]"] == "inv_shape" and form["client_reference_id"] == "pay_shape1"
    assert form["success_url"] == "https://pay.firm.test/g/lnk_1/?payment=pay_shape1"
    assert form["cancel_url"] == "https://pay.firm.test/g/lnk_1/?payment=pay_shape1&canceled=1"


async def test_the_reads_of_a_webhook_and_of_the_sweep_are_calls_stripe_accepts(provider, api, sent):
    # stripe-mock answers fixtures, which carry none of our metadata: accepted calls, and nothing reported.
    assert await provider.status("pay_shape2", "inv_shape", "cs_test_123") == ()
    assert (await api.payment_intent("pi_123"))["object"] == "payment_intent"
    assert isinstance(await api.refunds("pi_123"), list)
    assert (await api.dispute("dp_123"))["object"] == "dispute"
    paths = [(r.method, r.url.path, r.url.params.get_list("expand[0]") or r.url.params.get_list("expand[]"),
              "idempotency-key" in r.headers) for r in sent]
    assert paths[0][:2] == ("GET", "/v1/checkout/sessions/cs_test_123") and paths[0][2] == ["payment_intent"]
    assert [p[:2] for p in paths[1:]] == [("GET", "/v1/payment_intents/pi_123"), ("GET", "/v1/refunds"),
                                          ("GET", "/v1/disputes/dp_123")]
    assert not any(p[3] for p in paths)  # Stripe ignores idempotency keys on reads: none are sent


async def test_closing_the_page_of_a_guest_who_left_by_the_cancel_link_is_a_call_stripe_accepts(provider, sent):
    # stripe-mock's fixture session carries none of our metadata: an accepted expiry, then nothing reported.
    assert await provider.cancel("pay_shape5", "inv_shape", "cs_test_123") == ()

    expire, read_back = sent
    assert (expire.method, expire.url.path) == ("POST", "/v1/checkout/sessions/cs_test_123/expire")
    assert (read_back.method, read_back.url.path) == ("GET", "/v1/checkout/sessions/cs_test_123")


async def test_a_refund_staff_ask_for_is_a_call_stripe_accepts_with_the_refund_as_idempotency_key(provider, sent):
    await provider.refund(Refund(refund_id="re_shape1", payment_id="pay_shape4", invoice_id="inv_shape",
                                 tenant_id="ten_1", provider_payment_id="pi_123", amount_minor=1000,
                                 currency="EUR", reason="Discount agreed"))

    (request,) = sent
    assert (request.method, request.url.path) == ("POST", "/v1/refunds")
    assert request.headers["idempotency-key"] == "re_shape1/refund"
    form = {key: values[0] for key, values in parse_qs(request.body or "").items()}
    assert (form["payment_intent"], form["amount"], form["metadata[refund_id]"]) == ("pi_123", "1000", "re_shape1")


async def test_a_call_of_a_shape_stripe_does_not_accept_is_refused_as_a_provider_failure(api):
    with pytest.raises(ProviderFailed):
        await api.create_checkout_session(
            {"mode": "payment", "success_url": "https://pay.firm.test/", "line_items": [
                {"quantity": 1, "price_data": {"currency": "eur", "unit_amount": "ninety",
                                               "product_data": {"name": "x"}}}]},
            idempotency_key="pay_shape3/checkout")


@pytest.fixture
async def mock_client(harness, provider) -> AsyncIterator[AsyncTestClient]:  # noqa: ANN001
    app = create_app(harness.settings, links=harness.links, provider=provider)
    async with AsyncTestClient(app, timeout=60) as http:
        yield http


async def test_a_guest_is_handed_to_the_session_stripe_made_and_it_is_recorded(mock_client, harness, tenant, sent):
    issued = await issue(mock_client, tenant)
    headers = harness.guest_headers(issued["link_ids"][0])
    form = pay_form((await mock_client.get("/guest/", headers=headers)).text)

    handed = await mock_client.post("/guest/pay", data=form, headers=headers, follow_redirects=False)

    assert handed.status_code == 303 and urlsplit(handed.headers["location"]).hostname == "checkout.stripe.com"
    assert [r.headers["idempotency-key"] for r in sent] == [f"{form['attempt']}/checkout"]
    assert (await harness.events(issued["invoice_id"]))[-2:] == ["PaymentStarted", "PaymentCheckoutOpened"]
    invoice = (await mock_client.get(f"/v1/invoices/{issued['invoice_id']}", headers=tenant.headers)).json()
    assert invoice["processing_minor"] == 99049
