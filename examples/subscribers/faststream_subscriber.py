"""A subscriber written with FastStream and the loginless-events package (and nothing else of loginless).

    pip install loginless-events "faststream[kafka]"
    python faststream_subscriber.py --bootstrap-servers 127.0.0.1:19092 --group my-crm links.events documents.events

Prints one JSON line per event it handles. Offsets are committed only after the handler returns
(``AckPolicy.NACK_ON_ERROR``), so an event is never lost; delivery is at least once, so events are de-duplicated
by their CloudEvents ``id`` (a real subscriber keeps the ids it handled in its own database, with the effect).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker

from loginless.events import CloudEvent, UnknownEventType, event_class


def app(bootstrap_servers: str, group: str, topics: list[str]) -> FastStream:
    broker = KafkaBroker(bootstrap_servers)
    seen: set[str] = set()

    @broker.subscriber(*topics, group_id=group, auto_offset_reset="earliest", ack_policy=AckPolicy.NACK_ON_ERROR)
    async def handle(body: bytes) -> None:
        event = CloudEvent.from_message(body)
        if event.id in seen:
            return  # delivered again (a rebalance, a retry): handled already
        try:
            payload = event_class(event.type).model_validate(event.data)
        except UnknownEventType:
            return  # a type newer than this package (say a v2 during an upgrade): skipped, never a stalled partition
        seen.add(event.id)
        print(json.dumps({"type": event.type, "subject": event.subject, "id": event.id,
                          "tenantid": event.tenantid, "payload": type(payload).__name__}), flush=True)

    return FastStream(broker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("topics", nargs="+")
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--group", required=True, help="the consumer group: one per subscribing application")
    options = parser.parse_args()
    asyncio.run(app(options.bootstrap_servers, options.group, options.topics).run())


if __name__ == "__main__":
    main()
