"""Wiring without I/O: a process without its secrets refuses to start, and the contract lists every event."""

import base64

import pytest

from loginless.links.bootstrap import PUBLISHED_EVENTS, create_app, create_worker
from loginless.links.settings import LinksSettings
from loginless.shared.events.schemas import published_events

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
    days = [seconds // 86400 for seconds in (settings.default_expiry_seconds_view,
                                             settings.default_expiry_seconds_upload,
                                             settings.default_expiry_seconds_pay,
                                             settings.default_expiry_seconds_request)]
    assert days == [30, 14, 30, 14] and settings.max_expiry_seconds // 86400 == 365


def test_every_links_event_in_the_catalog_is_declared_as_published():
    catalog = {cls for cls in published_events().values() if cls.service == "links"}
    assert set(PUBLISHED_EVENTS) == catalog
