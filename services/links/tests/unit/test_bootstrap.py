"""Wiring without I/O: a process without its secrets refuses to start, and the contract lists every event."""

import base64

import pytest

from loginless.events.schemas import published_events
from loginless.links.bootstrap import PUBLISHED_EVENTS, create_app, create_worker
from loginless.links.settings import LinksSettings

pytestmark = pytest.mark.unit

DATA_KEY = base64.b64encode(bytes(32)).decode()
PEPPERS = "p1:" + "x" * 32


@pytest.mark.parametrize("factory", [create_app, create_worker])
@pytest.mark.parametrize(("secrets", "named"), [
    ({"data_key": DATA_KEY}, "LINKS_TOKEN_PEPPERS"),
    ({"token_peppers": PEPPERS}, "LINKS_DATA_KEY"),
])
def test_a_process_without_its_secrets_refuses_to_start(factory, secrets, named):
    settings = LinksSettings(database_url="postgresql://unused/db", **secrets)
    with pytest.raises(ValueError, match=named):
        factory(settings)


def test_settings_document_the_action_defaults_and_the_schema_override(monkeypatch):
    monkeypatch.setenv("LINKS_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("LINKS_DATABASE_SCHEMA", "links_staging")
    settings = LinksSettings()
    assert settings.schema == "links_staging"
    days = {action: lifetime.days for action, lifetime in settings.default_lifetimes().items()}
    assert days == {"view": 30, "upload": 14, "sign": 7, "pay": 30, "request": 14}
    assert settings.max_expiry_seconds // 86400 == 365


def test_a_deployment_may_change_the_default_lifetimes_but_not_the_signing_links():
    settings = LinksSettings(database_url="postgresql://x@h/db", default_lifetime_seconds={"view": 3600})
    assert settings.default_lifetimes()["view"].total_seconds() == 3600
    assert settings.default_lifetimes()["upload"].days == 14
    for wrong in ({"sign": 3600}, {"pay": 0}, {"fly": 60}):
        with pytest.raises(ValueError):
            LinksSettings(database_url="postgresql://x@h/db", default_lifetime_seconds=wrong)


def test_every_links_event_in_the_catalog_is_declared_as_published():
    catalog = {cls for cls in published_events().values() if cls.service == "links"}
    assert set(PUBLISHED_EVENTS) == catalog
