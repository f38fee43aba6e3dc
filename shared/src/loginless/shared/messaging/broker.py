"""The FastStream Kafka broker every service builds: consumers commit offsets only after processing."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from loginless.shared.kafka_connection import KafkaConnection


def events_topic(service: str, prefix: str = "") -> str:
    """``<prefix><service>.events``: the one topic a service publishes its integration events to."""
    return f"{prefix}{service}.events"


def build_broker(connection: KafkaConnection | str, *, client_id: str) -> KafkaBroker:
    connection = KafkaConnection.of(connection)
    # NACK_ON_ERROR: commit after the handler returns; on an exception seek back so the message is redelivered.
    # Never ACK_FIRST, which commits before processing and loses the message if the process dies mid-way.
    return KafkaBroker(
        connection.bootstrap_servers,
        security=connection.security(),
        client_id=client_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        acks="all",
        enable_idempotence=True,
    )
