"""SMS through Twilio's REST API, against a local fake of it on a real socket that checks each request (method,
the account's path, Basic auth, the form) and answers as Twilio does; links' real delivery path on real
PostgreSQL records the outcome as events.

Bad answers tried: 400 with Twilio's 21211 (an invalid 'To' number), 503 then 429 before a 201, and a server that
never answers (longer than LINKS_SMS_TIMEOUT_SECONDS).

The fake is the standard library's threading HTTP server: it needs no dependency, and a handler thread can hold
an answer back for the hanging case without touching the test's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
from prometheus_client import REGISTRY

from loginless.links.bootstrap import create_worker, sms_sender
from loginless.links.delivery import DeliveryWorker
from loginless.links.messages import MessageComposer
from loginless.links.settings import LinksSettings
from loginless.shared.mail import SmtpEmailSender
from loginless.testkit.waiting import eventually

from .conftest import INTERNAL

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "5a" * 16
AUTH_TOKEN = "twilio-auth-token-" + "7" * 14
SENDER = "+15005550006"
HANG = "hang"


@dataclass
class ReceivedRequest:
    method: str
    path: str
    authorization: str
    content_type: str
    form: dict[str, str]


@dataclass
class FakeTwilio:
    """Answers each POST with the next of ``answers`` ((status, JSON) or HANG: no answer until the test ends),
    then with 201 and a new message SID; records every request."""

    url: str = ""
    answers: list[tuple[int, dict] | str] = field(default_factory=list)
    requests: list[ReceivedRequest] = field(default_factory=list)
    sids: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def answer(self, request: ReceivedRequest) -> tuple[int, dict] | str:
        self.requests.append(request)
        if self.answers:
            return self.answers.pop(0)
        sid = f"SM{len(self.requests):032x}"
        self.sids.append(sid)
        return 201, {"sid": sid, "status": "queued", "to": request.form.get("To"), "account_sid": ACCOUNT,
                     "api_version": "2010-04-01", "error_code": None}


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 -- the standard library's name
            length = int(self.headers.get("Content-Length", "0"))
            request = ReceivedRequest(
                "POST", self.path, self.headers.get("Authorization", ""), self.headers.get("Content-Type", ""),
                dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)))
            answer = fake.answer(request)
            if answer == HANG:
                fake.release.wait(60)
                return
            status, document = answer
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # the test's output stays quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()
    thread.join(10)


def twilio_error(status: int, code: int, message: str) -> tuple[int, dict]:
    return status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status}


@pytest.fixture
def twilio_settings(settings: LinksSettings, fake_twilio: FakeTwilio) -> LinksSettings:
    return LinksSettings(**settings.model_dump() | {
        "sms_provider": "twilio", "twilio_api_url": fake_twilio.url, "twilio_account_sid": ACCOUNT,
        "twilio_auth_token": AUTH_TOKEN, "twilio_from": SENDER, "sms_timeout_seconds": 1.0})


@pytest.fixture
async def twilio_delivery(ctx, twilio_settings):
    """The worker's delivery loop with the Twilio adapter the worker builds; ``deliver_due()`` runs one round."""
    settings = twilio_settings
    async with sms_sender(settings) as sms:
        yield DeliveryWorker(
            ctx, composer=MessageComposer(settings.smtp_from),
            email=SmtpEmailSender(settings.smtp_url, timeout=settings.smtp_timeout_seconds), sms=sms,
            max_attempts=settings.delivery_max_attempts, retry_seconds=settings.delivery_retry_seconds,
            poll_seconds=settings.delivery_poll_seconds, send_timeout_seconds=settings.sms_timeout_seconds)


def sms_deliveries(outcome: str) -> float:
    """How many SMS sends this process counted with ``outcome`` (loginless_links_deliveries_total)."""
    return REGISTRY.get_sample_value("loginless_links_deliveries_total",
                                     {"channel": "sms", "outcome": outcome}) or 0.0


async def event_data(pool, settings, link_id: str, name: str) -> dict:
    row = await pool.fetchrow(f'SELECT data FROM "{settings.schema}".events WHERE stream_id = $1 AND type LIKE $2',
                              link_id, f"%.{name}.%")
    return json.loads(row["data"])


async def test_the_worker_sends_a_links_sms_through_twilio_and_records_its_message_sid(
        client, staff, issue, fake_twilio, twilio_settings, clock, pool, settings, stream_types):
    link = (await issue(client, staff, action="pay", recipients=[
        {"phone": "+34 655 444 333", "language": "es", "delivery": "sms"}]))[0]
    stop = asyncio.Event()
    worker = asyncio.create_task(create_worker(twilio_settings, clock=clock).run(stop))
    try:
        async def delivered() -> bool:
            return await stream_types(link["link_id"]) == ["LinkIssued", "LinkDelivered"]

        await eventually(delivered, timeout=30, message="LinkDelivered")
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)

    [request] = fake_twilio.requests
    assert (request.method, request.path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    assert request.authorization == "Basic " + base64.b64encode(f"{ACCOUNT}:{AUTH_TOKEN}".encode()).decode()
    assert request.content_type == "application/x-www-form-urlencoded"
    assert set(request.form) == {"To", "From", "Body"}
    assert (request.form["To"], request.form["From"]) == ("+34655444333", SENDER)  # E.164
    assert link["url"] in request.form["Body"] and "pagar una factura" in request.form["Body"]
    data = await event_data(pool, settings, link["link_id"], "LinkDelivered")
    assert (data["channel"], data["attempts"], data["provider_message_id"]) == ("sms", 1, fake_twilio.sids[0])
    view = (await client.get(f"/v1/links/{link['link_id']}", headers=staff.headers)).json()
    assert view["delivery_status"] == "delivered"


async def test_a_number_twilio_refuses_fails_the_delivery_at_once_and_is_not_tried_again(
        client, staff, issue, fake_twilio, twilio_delivery, pool, settings, stream_types):
    fake_twilio.answers = [twilio_error(400, 21211, "The 'To' number +34600000001 is not a valid phone number.")]
    link = (await issue(client, staff, recipients=[{"phone": "+34 600 000 001", "delivery": "sms"}]))[0]
    refused, retried = sms_deliveries("refused"), sms_deliveries("retried")

    await twilio_delivery.deliver_due()
    for _ in range(3):  # later rounds find nothing left to send
        assert await twilio_delivery.deliver_due() == 0

    assert len(fake_twilio.requests) == 1
    assert (sms_deliveries("refused") - refused, sms_deliveries("retried") - retried) == (1, 0)
    assert await stream_types(link["link_id"]) == ["LinkIssued", "LinkDeliveryFailed"]
    failed = await event_data(pool, settings, link["link_id"], "LinkDeliveryFailed")
    assert failed["attempts"] == 1 and "21211" in failed["reason"] and "HTTP 400" in failed["reason"]
    assert link["url"] not in failed["reason"] and "+34600000001" not in failed["reason"]
    assert await pool.fetchval(f'SELECT count(*) FROM "{settings.schema}".pending_deliveries') == 0
    view = (await client.get(f"/v1/links/{link['link_id']}", headers=staff.headers)).json()
    assert (view["delivery_status"], view["status"]) == ("failed", "active")


async def test_a_busy_or_failing_twilio_is_retried_until_it_takes_the_message(
        client, staff, issue, fake_twilio, twilio_delivery, pool, settings, stream_types):
    fake_twilio.answers = [twilio_error(503, 20503, "Service unavailable"),
                           twilio_error(429, 20429, "Too many requests")]
    link = (await issue(client, staff, recipients=[{"phone": "+34 611 222 333", "delivery": "sms"}]))[0]
    sent, retried = sms_deliveries("sent"), sms_deliveries("retried")

    async def delivered() -> bool:
        await twilio_delivery.deliver_due()
        return await stream_types(link["link_id"]) == ["LinkIssued", "LinkDelivered"]

    await eventually(delivered, timeout=30, message="LinkDelivered after two refusals")

    assert len(fake_twilio.requests) == 3
    assert (sms_deliveries("sent") - sent, sms_deliveries("retried") - retried) == (1, 2)
    assert all(request.form["Body"] == fake_twilio.requests[0].form["Body"] for request in fake_twilio.requests)
    data = await event_data(pool, settings, link["link_id"], "LinkDelivered")
    assert (data["attempts"], data["provider_message_id"]) == (3, fake_twilio.sids[0])


async def test_a_twilio_that_never_answers_is_a_timeout_retried_later_not_a_delivery(
        client, staff, issue, fake_twilio, twilio_delivery, pool, settings, stream_types):
    fake_twilio.answers = [HANG]
    link = (await issue(client, staff, recipients=[{"phone": "+34 622 333 444", "delivery": "sms"}]))[0]

    assert await twilio_delivery.deliver_due() == 1  # returns after LINKS_SMS_TIMEOUT_SECONDS, not when answered

    assert await stream_types(link["link_id"]) == ["LinkIssued"]
    pending = await pool.fetchrow(f'SELECT attempts, last_error FROM "{settings.schema}".pending_deliveries '
                                  "WHERE link_id = $1", link["link_id"])
    assert pending["attempts"] == 1 and "did not answer within 1 s" in pending["last_error"]

    async def delivered() -> bool:
        await twilio_delivery.deliver_due()
        return await stream_types(link["link_id"]) == ["LinkIssued", "LinkDelivered"]

    await eventually(delivered, timeout=30, message="LinkDelivered on the next attempt")
    assert len(fake_twilio.requests) == 2


async def test_a_one_time_code_goes_through_twilio_and_the_code_it_carries_is_accepted(
        client, staff, issue, fake_twilio, twilio_delivery, stream_types):
    link = (await issue(client, staff, verification="sms",
                        recipients=[{"email": "v@example.test", "phone": "+34 633 444 555"}]))[0]
    path = f"/internal/v1/links/{link['link_id']}/verification-code"

    assert (await client.post(path, headers=INTERNAL)).status_code == 202
    assert await twilio_delivery.deliver_due() == 1

    [request] = fake_twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json" and request.form["To"] == "+34633444555"
    code = re.search(r"\b(\d{6})\b", request.form["Body"])[1]
    checked = await client.post(f"{path}/check", json={"code": code}, headers=INTERNAL)
    assert (checked.status_code, checked.json()) == (200, {"verified": True})
    assert await stream_types(link["link_id"]) == ["LinkIssued"]  # codes are not announced
