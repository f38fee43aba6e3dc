"""SMS without a network: the Twilio request links builds, how each answer is classified (given up or retried),
the settings each provider needs, and the file outbox refused in production.

Bad inputs tried: Twilio's 400 with 21211 (invalid 'To') and 21610 (recipient unsubscribed), 404, 400 with a body
that is not JSON, 401 (our credentials), 408, 429, 500, 503, a 301, a read timeout, a refused connection; settings with
the outbox in production, Twilio without account, sender or credentials, half an API key, malformed SIDs, and a
plain-HTTP API address in production.
"""

import base64
import os
import subprocess
import sys
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import ValidationError

from loginless.links.messages import SmsMessage
from loginless.links.senders import (
    NoSmsSender,
    SmsProviderUnavailable,
    SmsRefused,
    TwilioSmsSender,
)
from loginless.links.settings import LinksSettings
from loginless.shared.mail import PermanentDeliveryError

pytestmark = pytest.mark.unit

ACCOUNT = "AC" + "1f" * 16
KEY = "SK" + "2e" * 16
SERVICE = "MG" + "3d" * 16
TOKEN = "auth-token-" + "9" * 21
URL = "https://guests.example.test/l/" + "t" * 43
MESSAGE = SmsMessage(to="+34655444333", body=f"Ortega & Lane: a secure link to pay an invoice: {URL}",
                     link_id="0c8a4d1e-0000-4000-8000-000000000001")


class FakeTwilio:
    """An httpx transport that records each request and answers what the test says."""

    def __init__(self, answer: httpx.Response | Exception) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def sender(self, **options) -> TwilioSmsSender:
        options = {"account_sid": ACCOUNT, "username": ACCOUNT, "password": TOKEN, "sender": "+15005550006"} | options
        return TwilioSmsSender(**options, api_url="https://api.twilio.test", timeout=3,
                               transport=httpx.MockTransport(self.handle))


def twilio_error(status: int, code: int | None) -> httpx.Response:
    if code is None:
        return httpx.Response(status, text="<html>upstream trouble</html>")
    return httpx.Response(status, json={
        "code": code, "status": status, "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "message": f"The 'To' number {MESSAGE.to} is not a valid phone number. {MESSAGE.body}"})


async def test_a_message_is_one_form_post_to_the_accounts_messages_with_basic_auth_and_gives_its_sid():
    twilio = FakeTwilio(httpx.Response(201, json={"sid": "SM" + "a" * 32, "status": "queued"}))

    sid = await twilio.sender().send(MESSAGE)

    assert sid == "SM" + "a" * 32
    [request] = twilio.requests
    assert (request.method, request.url.path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert dict(parse_qsl(request.content.decode())) == {"To": "+34655444333", "From": "+15005550006",
                                                        "Body": MESSAGE.body}


async def test_a_messaging_service_picks_the_sender_and_an_api_key_signs_in_instead_of_the_account():
    twilio = FakeTwilio(httpx.Response(201, json={"sid": "SM" + "b" * 32}))

    await twilio.sender(username=KEY, password="key-secret", sender="", messaging_service_sid=SERVICE).send(MESSAGE)

    [request] = twilio.requests
    assert request.url.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"  # the account, not the key
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{KEY}:key-secret".encode()).decode()
    form = dict(parse_qsl(request.content.decode()))
    assert form["MessagingServiceSid"] == SERVICE and "From" not in form


@pytest.mark.parametrize(("status", "code"), [(400, 21211), (400, 21610), (404, 20404), (400, None)])
async def test_a_message_twilio_refuses_is_given_up_at_once_naming_the_code_never_the_text(status, code):
    with pytest.raises(SmsRefused) as refused:
        await FakeTwilio(twilio_error(status, code)).sender().send(MESSAGE)

    assert isinstance(refused.value, PermanentDeliveryError)  # the delivery loop gives up, no retry
    assert (refused.value.http_status, refused.value.provider_code) == (status, code)
    described = str(refused.value)
    assert f"HTTP {status}" in described and (code is None or str(code) in described)
    assert MESSAGE.to not in described and URL not in described and "t" * 43 not in described


@pytest.mark.parametrize(("status", "code"), [
    (401, 20003), (408, None), (429, 20429), (500, None), (503, 20503), (301, None)])
async def test_an_answer_that_may_change_is_retried_later(status, code):
    with pytest.raises(SmsProviderUnavailable) as unavailable:
        await FakeTwilio(twilio_error(status, code)).sender().send(MESSAGE)

    assert not isinstance(unavailable.value, PermanentDeliveryError)
    assert unavailable.value.http_status == status and URL not in str(unavailable.value)


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("timed out"), httpx.ConnectError("connection refused")])
async def test_no_answer_is_retried_later_and_the_error_holds_nothing_of_the_request(failure):
    with pytest.raises(SmsProviderUnavailable) as unavailable:
        await FakeTwilio(failure).sender().send(MESSAGE)

    assert unavailable.value.__cause__ is None and unavailable.value.__suppress_context__
    assert URL not in str(unavailable.value) and TOKEN not in str(unavailable.value)


async def test_without_a_provider_every_sms_is_given_up():
    with pytest.raises(PermanentDeliveryError, match="LINKS_SMS_PROVIDER=none"):
        await NoSmsSender().send(MESSAGE)


# ---- settings ----------------------------------------------------------------------------------------------


def links_settings(**values) -> LinksSettings:
    return LinksSettings(database_url="postgresql://unused/db", **values)


TWILIO = {"sms_provider": "twilio", "twilio_account_sid": ACCOUNT, "twilio_auth_token": TOKEN,
          "twilio_from": "+15005550006"}


def test_the_file_outbox_is_the_development_default_and_refused_in_production():
    assert (links_settings().environment, links_settings().sms_provider) == ("development", "outbox-file")
    with pytest.raises(ValidationError, match="LINKS_SMS_PROVIDER=outbox-file .* development only"):
        links_settings(environment="production")
    assert links_settings(environment="production", sms_provider="none").sms_provider == "none"
    assert links_settings(environment="production", **TWILIO).twilio_credentials() == (ACCOUNT, TOKEN)


@pytest.mark.parametrize(("left_out", "named"), [
    ("twilio_account_sid", "LINKS_TWILIO_ACCOUNT_SID"),
    ("twilio_from", "LINKS_TWILIO_FROM or LINKS_TWILIO_MESSAGING_SERVICE_SID"),
    ("twilio_auth_token", "LINKS_TWILIO_AUTH_TOKEN, or LINKS_TWILIO_KEY_SID and LINKS_TWILIO_KEY_SECRET"),
])
def test_twilio_without_one_of_its_settings_is_refused_naming_it(left_out, named):
    with pytest.raises(ValidationError, match=named):
        links_settings(**{name: value for name, value in TWILIO.items() if name != left_out})


def test_an_api_key_signs_in_whole_or_not_at_all():
    with_key = TWILIO | {"twilio_auth_token": "", "twilio_key_sid": KEY, "twilio_key_secret": "key-secret"}
    assert links_settings(**with_key).twilio_credentials() == (KEY, "key-secret")
    for half in ({"twilio_key_sid": KEY}, {"twilio_key_secret": "key-secret"}):
        with pytest.raises(ValidationError, match="LINKS_TWILIO_KEY_SID and LINKS_TWILIO_KEY_SECRET"):
            links_settings(**TWILIO | half)


@pytest.mark.parametrize("wrong", [
    {"twilio_account_sid": "AC123"}, {"twilio_key_sid": "AC" + "0" * 32, "twilio_key_secret": "s"},
    {"twilio_messaging_service_sid": "SK" + "0" * 32}, {"twilio_api_url": "api.twilio.com"},
    {"twilio_api_url": "http://127.0.0.1:9/2010-04-01"}, {"sms_provider": "vonage"}, {"sms_timeout_seconds": 0},
])
def test_malformed_twilio_settings_are_refused(wrong):
    with pytest.raises(ValidationError):
        links_settings(**TWILIO | wrong)


def test_production_talks_to_twilio_only_over_https():
    with pytest.raises(ValidationError, match="LINKS_TWILIO_API_URL must be https"):
        links_settings(environment="production", **TWILIO, twilio_api_url="http://127.0.0.1:8080")
    assert links_settings(**TWILIO, twilio_api_url="http://127.0.0.1:8080").twilio_api_url.startswith("http://")


@pytest.mark.parametrize("role", ["api", "worker"])
def test_a_production_process_with_the_file_outbox_refuses_to_start_in_one_line_naming_the_setting(role):
    environment = {"PATH": os.environ["PATH"], "LINKS_ENVIRONMENT": "production",
                   "LINKS_DATABASE_URL": "postgresql://unused@127.0.0.1:9/db"}

    started = subprocess.run([sys.executable, "-m", "loginless.links", role], env=environment, capture_output=True,
                             text=True, timeout=120, check=False)

    assert started.returncode != 0
    assert started.stderr.count("\n") == 1 and started.stderr.startswith("links: cannot start: sms_provider:")
    assert "LINKS_SMS_PROVIDER=outbox-file" in started.stderr and "development only" in started.stderr
