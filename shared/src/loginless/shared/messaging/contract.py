"""What each service tells AsyncAPI about the events it publishes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

from faststream.kafka import KafkaBroker

from loginless.events import IntegrationEvent


def declare_event_publisher(broker: KafkaBroker, service: str, events: Sequence[type[IntegrationEvent]],
                            *, topic_prefix: str = "") -> None:
    """Declare ``<service>.events`` with the union of its payloads (each a CloudEvent's ``data``)."""
    types = ", ".join(event.type_name() for event in events)
    broker.publisher(
        f"{topic_prefix}{service}.events",
        title=f"{service}.events",
        description=(
            "CloudEvents 1.0 in structured mode (content-type application/cloudevents+json), one event per "
            f"message, key = subject (the aggregate id). The schema shown is the `data` attribute; types: {types}."
        ),
        schema=Union[tuple(events)] if len(events) > 1 else events[0],  # noqa: UP007
    )
