"""Integration events: CloudEvents envelopes around versioned pydantic payloads."""

from loginless.shared.events.catalog import IntegrationEvent, UnknownEventType, event_class, registered_events
from loginless.shared.events.envelope import CLOUDEVENTS_CONTENT_TYPE, CloudEvent

__all__ = [
    "CLOUDEVENTS_CONTENT_TYPE",
    "CloudEvent",
    "IntegrationEvent",
    "UnknownEventType",
    "event_class",
    "registered_events",
]
