"""Kafka messaging: the FastStream broker and inbox-deduplicated consumers with a dead-letter topic."""

from loginless.shared.kafka_connection import KafkaConnection
from loginless.shared.messaging.broker import build_broker, events_topic
from loginless.shared.messaging.inbox import EventHandler, InboxConsumer, dead_letter_topic

__all__ = ["EventHandler", "InboxConsumer", "KafkaConnection", "build_broker", "dead_letter_topic", "events_topic"]
