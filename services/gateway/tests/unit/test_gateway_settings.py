"""Gateway settings: the routing table from the environment, and refusing to start without its secrets."""

import json

import pytest
from pydantic import ValidationError

from loginless.gateway.bootstrap import GatewayMisconfigured, create_app
from loginless.gateway.settings import GatewaySettings
from loginless.shared.web.assertion import generate_key_pair

pytestmark = pytest.mark.unit

ROUTES = {action: {"service": service, "url": f"http://{service}.internal:8080"} for action, service in [
    ("view", "documents"), ("upload", "documents"), ("sign", "signing"), ("pay", "payments"),
    ("request", "requests")]}


def test_the_routing_table_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("GATEWAY_ROUTES", json.dumps(ROUTES))
    monkeypatch.setenv("GATEWAY_INVALID_TOKEN_LIMIT", "5")
    settings = GatewaySettings()
    assert settings.routes["sign"].service == "signing"
    assert settings.routes["pay"].url == "http://payments.internal:8080"
    assert settings.invalid_token_limit == 5
    assert settings.topic_of("links") == "links.events"


def test_a_routing_table_missing_an_action_is_refused(monkeypatch):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("GATEWAY_ROUTES", json.dumps({k: v for k, v in ROUTES.items() if k != "pay"}))
    with pytest.raises(ValidationError, match="pay"):
        GatewaySettings()


def test_the_app_refuses_to_start_without_its_signing_key_or_cookie_secret():
    private_key, _ = generate_key_pair()
    with pytest.raises(GatewayMisconfigured, match="ASSERTION_PRIVATE_KEY"):
        create_app(GatewaySettings(database_url="postgresql://x@h/db", cookie_secret="c" * 32))
    with pytest.raises(ValueError, match="COOKIE_SECRET"):
        create_app(GatewaySettings(database_url="postgresql://x@h/db", assertion_private_key=private_key))


def test_previous_cookie_secrets_come_from_the_environment_as_json_and_still_open_the_door(monkeypatch):
    private_key, _ = generate_key_pair()
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("GATEWAY_COOKIE_SECRET", "n" * 32)
    monkeypatch.setenv("GATEWAY_PREVIOUS_COOKIE_SECRETS", json.dumps(["o" * 32, "p" * 32]))
    settings = GatewaySettings(assertion_private_key=private_key)
    assert [old.get_secret_value() for old in settings.previous_cookie_secrets] == ["o" * 32, "p" * 32]
    assert "o" * 32 not in repr(settings)  # secrets stay out of logs and tracebacks
    monkeypatch.setenv("GATEWAY_PREVIOUS_COOKIE_SECRETS", json.dumps(["short"]))
    with pytest.raises(ValueError, match="PREVIOUS_COOKIE_SECRETS"):
        create_app(GatewaySettings(assertion_private_key=private_key))
