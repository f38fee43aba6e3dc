"""loginless's integration events: CloudEvents 1.0 envelopes around versioned pydantic payloads.

A subscriber needs only this package (``pip install loginless-events``; pydantic is its one dependency):
``CloudEvent.from_message(value)`` reads a Kafka message's value, ``event_class(event.type)`` names the payload
model of its type, and ``json_schemas/`` holds every type's JSON Schema for subscribers in other languages.
docs/subscribing.md shows it in use.
"""

from loginless.events.catalog import IntegrationEvent, UnknownEventType, event_class, registered_events
from loginless.events.envelope import CLOUDEVENTS_CONTENT_TYPE, CloudEvent

# Imported here so that every published type is known to ``event_class`` as soon as the package is.
from loginless.events import payloads  # noqa: E402, F401  isort: skip

__all__ = [
    "CLOUDEVENTS_CONTENT_TYPE",
    "CloudEvent",
    "IntegrationEvent",
    "UnknownEventType",
    "event_class",
    "registered_events",
]
