"""A subscriber with no loginless code at all: confluent-kafka and the CloudEvents SDK.

    pip install confluent-kafka cloudevents
    python confluent_cloudevents_subscriber.py --bootstrap-servers 127.0.0.1:19092 --group my-crm links.events

loginless publishes CloudEvents 1.0 in structured mode (the whole event is the message's JSON value,
``content-type: application/cloudevents+json``), keyed by the event's ``subject``. Prints one JSON line per event;
commits each offset after the event is handled; skips ids it has handled (delivery is at least once). The data of
each type is described by the JSON Schemas in docs/events/schemas (also inside the loginless-events wheel).
"""

from __future__ import annotations

import argparse
import json
import sys

from cloudevents.core.bindings import kafka as cloudevents_kafka
from confluent_kafka import Consumer, KafkaError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("topics", nargs="+")
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--group", required=True, help="the consumer group: one per subscribing application")
    options = parser.parse_args()
    consumer = Consumer({"bootstrap.servers": options.bootstrap_servers, "group.id": options.group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(options.topics)
    seen: set[str] = set()
    try:
        while True:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                if message.error().code() != KafkaError.UNKNOWN_TOPIC_OR_PART:  # a topic not created yet
                    print(f"kafka: {message.error()}", file=sys.stderr, flush=True)
                continue
            event = cloudevents_kafka.from_kafka_event(cloudevents_kafka.KafkaMessage(
                headers=dict(message.headers() or []), key=message.key(), value=message.value()))
            if event.get_id() not in seen:
                seen.add(event.get_id())
                print(json.dumps({"type": event.get_type(), "subject": event.get_subject(), "id": event.get_id(),
                                  "tenantid": event.get_extension("tenantid"), "data": event.get_data()}),
                      flush=True)
            consumer.commit(message=message, asynchronous=False)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
