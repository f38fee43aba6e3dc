"""Requests benchmark: the database work of one autosave -- the one statement it is now
(``migrations/0002_save_answers.sql``) against the transaction of six round trips it replaced (begin, the link's
advisory lock, the request's events, the draft, the upsert, commit) -- beside a bare round trip (``SELECT 1``) and
a bare autocommitted upsert of one JSON row, on one real PostgreSQL, in the same run.

The four alternate call by call, so a loaded machine slows them alike; each takes a pooled connection and gives it
back (the pool's reset on release included), as the service does. Run with ``DATABASE_URL`` of a stack
(``source var/stack.env``): ``uv run --frozen python bench/requests_save.py [--calls 400]``.
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
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

import loginless.requests
from loginless.shared.eventstore.migrations import advisory_key, migrate

MIGRATIONS = Path(loginless.requests.__file__).parent / "migrations"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="calls of each kind")
    args = parser.parse_args()
    schema = f"bench_save_{uuid.uuid4().hex[:8]}"
    s = f'"{schema}"'
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection:
            await migrate(connection, schema, [MIGRATIONS])
            await connection.execute(
                f"INSERT INTO {s}.client_requests (client_request_id, tenant_id, title, template_id, template_version,"
                " require_login, sent_at) VALUES ('req_1', 't', 'T', 'tpl_1', 1, false, now())")
            await connection.execute(f"INSERT INTO {s}.request_recipients (client_request_id, recipient_id, tenant_id,"
                                     " position) VALUES ('req_1', 'rcp_1', 't', 0)")
            await connection.execute(f"CREATE TABLE {s}.bare (k text PRIMARY KEY, value jsonb)")
        lock = advisory_key("requests", "req_1", "lnk_1")
        events = f"SELECT * FROM {s}.events WHERE stream_id = $1 ORDER BY version"
        upsert = (f"INSERT INTO {s}.drafts AS d (client_request_id, recipient_id, question_id, tenant_id, value,"
                  " version, saved_at) VALUES ($1, $2, $3, $4, $5, 1, $6) ON CONFLICT (client_request_id,"
                  " recipient_id, question_id) DO UPDATE SET value = EXCLUDED.value, saved_at = EXCLUDED.saved_at,"
                  " version = d.version + (CASE WHEN d.value = EXCLUDED.value THEN 0 ELSE 1 END) RETURNING version")

        async def six_round_trips(n: int) -> None:
            async with pool.acquire() as connection, connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", lock)
                await connection.fetch(events, "req_1")
                await connection.fetch(f"SELECT question_id, value, version, saved_at FROM {s}.drafts"
                                       " WHERE client_request_id = $1 AND recipient_id = $2", "req_1", "rcp_1")
                await connection.fetchval(upsert, "req_1", "rcp_1", "q", "t", json.dumps(f"a{n}"), datetime.now(UTC))

        async def one_statement(n: int) -> None:
            async with pool.acquire() as connection:
                await connection.fetch(events, "req_1")  # read before, outside the lock, as the service does
                await connection.fetch(
                    f"SELECT * FROM {s}.save_answers($1, $2, $3, $4, $5::jsonb, $6, $7)", "req_1", "rcp_1", lock, "t",
                    json.dumps([{"question_id": "q", "value": f"b{n}", "base_version": None}]), datetime.now(UTC),
                    None)

        async def bare_round_trip(n: int) -> None:
            async with pool.acquire() as connection:
                await connection.fetchval("SELECT 1")

        async def bare_upsert(n: int) -> None:
            async with pool.acquire() as connection:
                await connection.execute(f"INSERT INTO {s}.bare VALUES ('k', $1) ON CONFLICT (k) DO UPDATE"
                                         " SET value = EXCLUDED.value", json.dumps(n))

        kinds = {"six round trips (before)": six_round_trips, "one statement (now)": one_statement,
                 "bare SELECT 1": bare_round_trip, "bare upsert (autocommit)": bare_upsert}
        times: dict[str, list[float]] = {name: [] for name in kinds}
        for n in range(args.calls + 20):
            for name, call in kinds.items():
                started = time.perf_counter()
                await call(n)
                if n >= 20:  # the first calls warm the statement caches
                    times[name].append((time.perf_counter() - started) * 1000)
    finally:
        async with pool.acquire() as connection:
            await connection.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")
        await pool.close()

    print(f"# requests save (database work)  {time.strftime('%Y-%m-%d %H:%M')}  {platform.node()}  "
          f"{os.cpu_count()} cpus  load {os.getloadavg()[0]:.1f}; {args.calls} calls each, alternating")
    print(f"{'':<28} {'p50 ms':>7} {'p90 ms':>7}")
    for name, samples in times.items():
        ordered = sorted(samples)
        print(f"{name:<28} {statistics.median(samples):>7.2f} {ordered[int(0.9 * len(ordered))]:>7.2f}")
    before, now = (statistics.median(times[name]) for name in ("six round trips (before)", "one statement (now)"))
    print(f"one statement / six round trips: {now / before:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
