"""CloudEvents 1.0 envelopes in structured mode: how every integration event travels on Kafka.

One event per message; the message value is the whole CloudEvent as JSON, the key is its ``subject``
(the aggregate id, so one aggregate's events keep their order on one partition).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event with the loginless extension attributes."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    specversion: str = "1.0"
    type: str
    subject: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    data: dict[str, Any]
    tenantid: str
    correlationid: str
    causationid: str | None = None
    traceparent: str | None = None

    def to_message(self) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        """Key, value and headers of the Kafka message carrying this event."""
        value = self.model_dump_json(exclude_none=True).encode()
        return self.subject.encode(), value, [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]

    @classmethod
    def from_message(cls, value: bytes) -> CloudEvent:
        return cls.model_validate_json(value)
