"""CloudEvents envelopes and the event catalog, without I/O."""

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from loginless.events import CloudEvent, IntegrationEvent, UnknownEventType, event_class
from loginless.events.payloads.links import LinkIssued
from loginless.shared.eventstore import Upcasters

pytestmark = pytest.mark.unit


def test_type_names_follow_the_published_pattern():
    assert LinkIssued.type_name() == "loginless.links.LinkIssued.v1"
    assert LinkIssued.source() == "/loginless/links"
    assert event_class("loginless.links.LinkIssued.v1") is LinkIssued


def test_unknown_type_is_an_explicit_error():
    with pytest.raises(UnknownEventType):
        event_class("loginless.links.NoSuchThing.v1")


def test_a_type_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="registered twice"):
        class LinkIssuedAgain(IntegrationEvent, service="links", name="LinkIssued", version=1):
            pass


def test_structured_mode_message_carries_the_whole_event_keyed_by_subject():
    event = CloudEvent(source="/loginless/links", type="loginless.links.LinkIssued.v1", subject="link-1",
                       data={"a": 1}, tenantid="t1", correlationid="c1")
    key, value, headers = event.to_message()
    assert key == b"link-1"
    assert ("content-type", b"application/cloudevents+json") in headers
    body = json.loads(value)
    assert body["specversion"] == "1.0"
    assert body["datacontenttype"] == "application/json"
    assert body["tenantid"] == "t1" and body["correlationid"] == "c1"
    assert "causationid" not in body  # absent attributes are omitted, not null
    assert CloudEvent.from_message(value) == event


def test_a_message_missing_required_attributes_is_rejected():
    with pytest.raises(ValidationError):
        CloudEvent.from_message(b'{"type": "x", "source": "/s"}')


def test_payloads_refuse_unknown_fields_and_wrong_types():
    now = datetime.now(UTC)
    valid = dict(link_id="l", tenant_id="t", action="sign", resource_id="r", expires_at=now, issued_at=now)
    LinkIssued(**valid)
    with pytest.raises(ValidationError):
        LinkIssued(**valid, token="secret")
    with pytest.raises(ValidationError):
        LinkIssued(**{**valid, "action": "delete"})


class Renamed(IntegrationEvent, service="unittest", name="Renamed", version=1):
    title: str


class RenamedV2(IntegrationEvent, service="unittest", name="Renamed", version=2):
    name: str
    language: str


def test_upcasters_bring_old_versions_to_the_current_one_step_by_step():
    upcasters = Upcasters()

    @upcasters.register("unittest", "Renamed", from_version=1)
    def title_to_name(data):
        return {"name": data["title"], "language": "es"}

    event = upcasters.upcast("loginless.unittest.Renamed.v1", {"title": "hola"})
    assert isinstance(event, RenamedV2)
    assert event.name == "hola" and event.language == "es"


def test_without_an_upcaster_the_stored_version_is_used_as_is():
    event = Upcasters().upcast("loginless.unittest.Renamed.v1", {"title": "hola"})
    assert isinstance(event, Renamed)
