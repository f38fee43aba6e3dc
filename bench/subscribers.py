"""Subscriber latency: a guest acts, and how long until a subscriber outside loginless sees the event.

Measured on the running stack, in the same run and on the same machine:

- ``guest action``  a guest opens a link through the gateway (``GET /l/{token}``, the request's start is the
                    clock's zero); the subscriber -- a plain Kafka consumer group reading ``links.events`` with the
                    ``loginless-events`` package, as docs/subscribing.md shows -- receives that link's ``LinkOpened``.
                    The way in between: gateway → links (append + outbox, one transaction) → relay → Kafka → consumer.
- ``raw Kafka``     the baseline: an idempotent ``acks=all`` producer sends a message, the same kind of consumer
                    receives it. What any Kafka hop costs here.

Both run at the same steady rate. Target (issue 17): guest action → subscriber p99 <= 250 ms.

Run: ``uv run python -m loginless.devstack test -- uv run python bench/subscribers.py`` (the whole stack, since a
guest acts through the gateway), or against ``make run`` with ``LOGINLESS_STACK_ENV=var/stack.env``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from loginless.events import CloudEvent
from loginless.shared.messaging.topics import ensure_topics


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stack_env() -> dict[str, str]:
    path = Path(os.environ.get("LOGINLESS_STACK_ENV", "var/stack.env"))
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


class Arrivals:
    """A consumer group of its own on ``topic``, from the end; when each awaited key arrived (perf_counter)."""

    def __init__(self, bootstrap_servers: str, topic: str, *, wanted_type: str | None) -> None:
        self.consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap_servers, auto_offset_reset="latest",
                                         group_id=f"bench-{uuid.uuid4().hex[:8]}", enable_auto_commit=False)
        self.wanted_type = wanted_type
        self.arrived: dict[str, float] = {}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.consumer.start()
        while not self.consumer.assignment():  # joined the group: later messages will be seen
            await asyncio.sleep(0.05)
        await self.consumer.seek_to_end()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.consumer:
            now = time.perf_counter()
            if self.wanted_type is None:
                self.arrived.setdefault(message.key.decode(), now)
                continue
            event = CloudEvent.from_message(message.value)
            if event.type == self.wanted_type:
                self.arrived.setdefault(event.subject, now)
            await self.consumer.commit()

    async def wait_for(self, keys: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(key not in self.arrived for key in keys) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()


async def steadily(count: int, rate: float, act) -> dict[str, float]:
    """Call ``act(n)`` ``count`` times, ``rate`` per second, each in a task of its own; ``{key: started}``."""
    started: dict[str, float] = {}
    tasks = []
    began = time.perf_counter()
    for n in range(count):
        await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(act(n, started)))
    await asyncio.gather(*tasks)
    return started


def latencies(started: dict[str, float], arrived: dict[str, float]) -> list[float]:
    return [(arrived[key] - at) * 1000 for key, at in started.items() if key in arrived]


async def guest_actions(env: dict[str, str], count: int, rate: float) -> tuple[list[float], int]:
    staff = httpx.AsyncClient(base_url=env["LINKS_URL"], timeout=30,
                              headers={"Authorization": f"Bearer {env['DEV_API_KEY']}"})
    links = []
    for batch in range(0, count, 50):  # the links exist before the clock starts: only the guest's act is timed
        issued = await staff.post("/v1/links", json={
            "action": "view", "resource_id": f"bench-{uuid.uuid4().hex[:8]}",
            "recipients": [{"email": f"g{n}@bench.test"} for n in range(batch, min(count, batch + 50))]})
        issued.raise_for_status()
        links.extend((link["link_id"], link["url"]) for link in issued.json()["links"])
    await staff.aclose()

    arrivals = Arrivals(env["KAFKA_BOOTSTRAP_SERVERS"], "links.events", wanted_type="loginless.links.LinkOpened.v1")
    await arrivals.start()
    guests = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64))

    answered: dict[str, float] = {}

    async def open_link(n: int, started: dict[str, float]) -> None:
        link_id, url = links[n]
        started[link_id] = time.perf_counter()
        answer = await guests.get(url)
        answered[link_id] = time.perf_counter()
        assert answer.status_code == 200, answer.text

    started = await steadily(count, rate, open_link)
    await arrivals.wait_for(list(started), timeout=30)
    await guests.aclose()
    await arrivals.stop()
    print(f"  (the guest's own request: p50 {percentile(latencies(started, answered), 0.5):.1f} ms,"
          f" p99 {percentile(latencies(started, answered), 0.99):.1f} ms)")
    return latencies(started, arrivals.arrived), count - len(arrivals.arrived.keys() & started.keys())


async def raw_kafka(bootstrap_servers: str, count: int, rate: float) -> tuple[list[float], int]:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap_servers, [topic], partitions=6)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True,
                                linger_ms=0)
    await producer.start()
    arrivals = Arrivals(bootstrap_servers, topic, wanted_type=None)
    await arrivals.start()

    async def produce(n: int, started: dict[str, float]) -> None:
        key = f"k{n}"
        started[key] = time.perf_counter()
        await producer.send_and_wait(topic, b"{}", key=key.encode())

    started = await steadily(count, rate, produce)
    await arrivals.wait_for(list(started), timeout=30)
    await producer.stop()
    await arrivals.stop()
    return latencies(started, arrivals.arrived), count - len(arrivals.arrived.keys() & started.keys())


def summary(name: str, samples: list[float], missing: int) -> dict:
    return {"name": name, "n": len(samples), "missing": missing, "p50": percentile(samples, 0.50),
            "p99": percentile(samples, 0.99), "mean": statistics.fmean(samples)}


async def run(args: argparse.Namespace) -> None:
    env = stack_env()
    print(f"# subscribers benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}, {os.cpu_count()} cores;"
          f" {args.count} events per round at {args.rate}/s, {args.rounds} rounds")
    # A short round first, not counted: the gateway's, links' and the consumer group's first requests open
    # connections and fill caches, which is start-up, not steady state.
    await raw_kafka(env["KAFKA_BOOTSTRAP_SERVERS"], 50, args.rate)
    await guest_actions(env, 50, args.rate)
    rows = []
    for _ in range(args.rounds):  # alternate, so a noisy neighbour hurts both alike
        rows.append(summary("raw Kafka", *await raw_kafka(env["KAFKA_BOOTSTRAP_SERVERS"], args.count, args.rate)))
        rows.append(summary("guest action", *await guest_actions(env, args.count, args.rate)))
    print(f"{'round':<14}{'n':>6}{'missing':>9}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for row in rows:
        print(f"{row['name']:<14}{row['n']:>6}{row['missing']:>9}{row['p50']:>10.1f}{row['p99']:>10.1f}"
              f"{row['mean']:>10.1f}")
    for name in ("raw Kafka", "guest action"):
        mine = [row for row in rows if row["name"] == name]
        print(f"median of rounds, {name}: p50 {statistics.median(r['p50'] for r in mine):.1f} ms,"
              f" p99 {statistics.median(r['p99'] for r in mine):.1f} ms")
    guest = statistics.median(r["p99"] for r in rows if r["name"] == "guest action")
    raw = statistics.median(r["p99"] for r in rows if r["name"] == "raw Kafka")
    print(f"guest action p99 / raw Kafka p99: {guest / raw:.1f} x; target p99 <= 250 ms:"
          f" {'met' if guest <= 250 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="events per round")
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
