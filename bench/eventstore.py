"""Event store and relay benchmark: append throughput and latency against raw INSERTs, and relay lag.

Run against the real stack: ``make bench`` (or source var/stack.env and ``uv run python bench/eventstore.py``).
Everything is measured in the same run on the same machine, so the ratios mean something on a noisy host.

Targets: append (+ outbox) >= 0.5 x the raw INSERT rate; relay lag (commit -> broker ack) p99 <= 100 ms at
a steady 1,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
import uuid

import asyncpg

from loginless.shared.eventstore import EventMetadata, EventStore, KafkaSink, OutboxRelay, migrate
from loginless.shared.messaging.topics import ensure_topics
from loginless.testkit.sample import TallyIncremented

META = EventMetadata(tenant_id="bench", correlation_id="bench")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed_loop(concurrency: int, seconds: float, operation) -> tuple[float, list[float]]:
    """Run ``operation(worker, n)`` in ``concurrency`` loops for ``seconds``; return ops/s and latencies (ms)."""
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def loop(worker: int) -> None:
        n = 0
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            await operation(worker, n)
            latencies.append((time.perf_counter() - started) * 1000)
            n += 1

    began = time.perf_counter()
    await asyncio.gather(*(loop(w) for w in range(concurrency)))
    return len(latencies) / (time.perf_counter() - began), latencies


async def bench_appends(pool: asyncpg.Pool, store: EventStore, schema: str, seconds: float,
                        rounds: int) -> list[dict]:
    await pool.execute(f'CREATE TABLE "{schema}".raw_insert (id bigserial PRIMARY KEY, stream_id text, data jsonb)')
    payload = json.dumps(TallyIncremented(tally_id="x", number=1).model_dump())
    results = []
    for concurrency in (1, 8, 32):
        async def raw_insert(worker: int, n: int) -> None:
            await pool.execute(f'INSERT INTO "{schema}".raw_insert (stream_id, data) VALUES ($1, $2::jsonb)',
                               f"w{worker}", payload)

        def appender(run: str):  # noqa: ANN202
            async def append(worker: int, n: int) -> None:
                stream = f"{run}-w{worker}"  # one stream per writer: no conflicts, the pure append cost
                await store.append(stream, n, [TallyIncremented(tally_id=stream, number=n + 1)], META)
            return append

        # Alternate short rounds of each and keep the medians: a noisy neighbour then hurts both alike.
        raw_rates, append_rates, raw_latency, append_latency = [], [], [], []
        for _ in range(rounds):
            rate, latency = await timed_loop(concurrency, seconds / rounds, raw_insert)
            raw_rates.append(rate)
            raw_latency += latency
            rate, latency = await timed_loop(concurrency, seconds / rounds, appender(uuid.uuid4().hex[:8]))
            append_rates.append(rate)
            append_latency += latency
        raw_rate, append_rate = statistics.median(raw_rates), statistics.median(append_rates)
        results.append({
            "writers": concurrency,
            "raw_insert_per_s": round(raw_rate),
            "append_per_s": round(append_rate),
            "ratio": round(append_rate / raw_rate, 2),
            "append_p50_ms": round(percentile(append_latency, 0.5), 2),
            "append_p99_ms": round(percentile(append_latency, 0.99), 2),
            "raw_p50_ms": round(percentile(raw_latency, 0.5), 2),
            "raw_p99_ms": round(percentile(raw_latency, 0.99), 2),
        })
    return results


class AckTimingSink(KafkaSink):
    """Records when the broker acknowledged each event, by event id."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.acked_at: dict[str, float] = {}

    async def publish(self, rows) -> None:
        await super().publish(rows)
        now = time.perf_counter()
        for row in rows:
            self.acked_at[json.loads(row.value)["id"]] = now


async def paced(rate: float, seconds: float, writers: int, action) -> None:
    """Call ``action(writer, n)`` at ``rate`` per second in total, spread over ``writers`` loops."""
    interval = writers / rate
    began = time.perf_counter()

    async def loop(worker: int) -> None:
        n = 0
        next_at = began + worker * interval / writers
        while next_at < began + seconds:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            await action(worker, n)
            n += 1
            next_at += interval

    await asyncio.gather(*(loop(w) for w in range(writers)))


async def bench_relay_lag(dsn: str, store: EventStore, bootstrap: str, rate: float, seconds: float) -> dict:
    from aiokafka import AIOKafkaProducer

    sink = AckTimingSink(bootstrap, client_id="bench-relay")
    relay = OutboxRelay(dsn, schema=store.schema, sink=sink)
    committed_at: dict[str, float] = {}
    run = uuid.uuid4().hex[:6]
    await ensure_topics(bootstrap, [store.topic, store.topic + ".raw"])
    relay_task = asyncio.create_task(relay.run())
    await asyncio.wait_for(relay.is_active.wait(), 30)
    [warm_up] = await store.append(f"warm-{run}", 0, [TallyIncremented(tally_id="w", number=1)], META)
    while str(warm_up.event_id) not in sink.acked_at:
        await asyncio.sleep(0.01)

    async def append(worker: int, n: int) -> None:
        stream = f"lag-{run}-{worker}"
        [recorded] = await store.append(stream, n, [TallyIncremented(tally_id=stream, number=n + 1)], META)
        committed_at[str(recorded.event_id)] = time.perf_counter()

    await paced(rate, seconds, 20, append)
    deadline = time.perf_counter() + 30
    while not set(committed_at) <= set(sink.acked_at) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    relay_task.cancel()
    lags = [(sink.acked_at[i] - committed_at[i]) * 1000 for i in committed_at if i in sink.acked_at]

    # Baseline: the same rate produced straight to Kafka with the same producer settings.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
    await producer.start()
    raw: list[float] = []

    async def produce(worker: int, n: int) -> None:
        started = time.perf_counter()
        await producer.send_and_wait(store.topic + ".raw", b"x" * 400, key=f"{worker}".encode())
        raw.append((time.perf_counter() - started) * 1000)

    await paced(rate, seconds, 20, produce)
    await producer.stop()
    return {
        "events": len(committed_at),
        "acked": len(lags),
        "rate_per_s": rate,
        "lag_p50_ms": round(percentile(lags, 0.5), 2),
        "lag_p99_ms": round(percentile(lags, 0.99), 2),
        "raw_produce_p50_ms": round(percentile(raw, 0.5), 2),
        "raw_produce_p99_ms": round(percentile(raw, 0.99), 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="duration of each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per append measurement")
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s for the relay-lag measurement")
    options = parser.parse_args()
    dsn = os.environ["DATABASE_URL"]
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=40)
    try:
        async with pool.acquire() as connection:
            await migrate(connection, schema, [])
        store = EventStore(pool, schema=schema, topic=f"{schema}.events")
        print(f"# eventstore benchmark  {time.strftime('%Y-%m-%d %H:%M')}  {platform.node()}  "
              f"{os.cpu_count()} cpus  python {platform.python_version()}")
        print("\nappends (1 event per transaction, with outbox row) vs raw single-row INSERT, same run:")
        print(f"{'writers':>7} {'raw/s':>8} {'append/s':>9} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7}"
              f" {'raw p50':>8} {'raw p99':>8}")
        for row in await bench_appends(pool, store, schema, options.seconds, options.rounds):
            target = "ok" if row["ratio"] >= 0.5 else "BELOW TARGET 0.5"
            print(f"{row['writers']:>7} {row['raw_insert_per_s']:>8} {row['append_per_s']:>9} {row['ratio']:>6}"
                  f" {row['append_p50_ms']:>7} {row['append_p99_ms']:>7} {row['raw_p50_ms']:>8}"
                  f" {row['raw_p99_ms']:>8}  {target}")
        lag = await bench_relay_lag(dsn, store, bootstrap, options.rate, options.seconds * 2)
        target = "ok" if lag["lag_p99_ms"] <= 100 else "ABOVE TARGET 100 ms"
        print(f"\nrelay lag, commit -> broker ack, at {lag['rate_per_s']:.0f} events/s "
              f"({lag['acked']}/{lag['events']} acked): p50 {lag['lag_p50_ms']} ms, p99 {lag['lag_p99_ms']} ms"
              f"  {target}")
        print(f"baseline: raw aiokafka send_and_wait at the same rate: p50 {lag['raw_produce_p50_ms']} ms, "
              f"p99 {lag['raw_produce_p99_ms']} ms")
    finally:
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
