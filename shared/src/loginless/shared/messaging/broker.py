"""The FastStream Kafka broker every service builds: consumers commit offsets only after processing."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.kafka import KafkaBroker


def events_topic(service: str, prefix: str = "") -> str:
    """``<prefix><service>.events``: the one topic a service publishes its integration events to."""
    return f"{prefix}{service}.events"


def build_broker(bootstrap_servers: str, *, client_id: str) -> KafkaBroker:
    # NACK_ON_ERROR: commit after the handler returns; on an exception seek back so the message is redelivered.
    # Never ACK_FIRST, which commits before processing and loses the message if the process dies mid-way.
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        acks="all",
        enable_idempotence=True,
    )
