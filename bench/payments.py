"""Benchmark: a guest paying an invoice on the built-in test provider, against raw asyncpg inserts.

    DATABASE_URL=postgresql://… uv run python bench/payments.py [--payments 200] [--concurrency 8]

The payments app runs in process on the given PostgreSQL (a schema of its own, dropped afterwards), links replaced
by its in-memory fake and the gateway's assertion signed here, as the service's integration tests run it. For each
of ``--payments`` invoices (issued through the staff API beforehand) a guest **opens the link** (the pay page),
**submits the form**, **opens the test provider's page** and **approves**, which reports back as the provider's
signed webhook; the journey ends when the invoice's ``InvoicePaid`` is committed. Measured:

- payments per second, end to end, ``--concurrency`` guests at a time;
- the webhook's own time to ``InvoicePaid`` (verify, deduplicate, decide, append, project): p50 and p99;
- the baseline, in the same run on the same database: raw asyncpg inserts of one row per payment, one transaction
  each, at the same concurrency -- the ratio says how many plain commits one payment costs.

Results print as a table; copy them into docs/benchmarks.md with the date and machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar.testing import AsyncTestClient

from loginless.payments import handlers
from loginless.payments.bootstrap import create_app
from loginless.payments.settings import PaymentsSettings
from loginless.payments.testprovider import TestProvider
from loginless.shared.web.assertion import (
    ASSERTION_HEADER,
    FORWARDED_PREFIX_HEADER,
    AssertionSigner,
    GuestAssertion,
    GuestRecipient,
    generate_key_pair,
)
from loginless.testkit.fake_links import FakeLinks

INVOICE = {"account_id": "bench", "currency": "EUR", "issue_date": "2026-12-06", "due_date": "2026-12-31",
           "lines": [{"description": "Advice", "unit_price": "100", "tax_rate": "21"}],
           "payer": {"email": "payer@example.test"}}


async def main(count: int, concurrency: int) -> None:
    database_url = os.environ["DATABASE_URL"]
    private_key, public_key = generate_key_pair()
    schema = f"payments_bench_{uuid.uuid4().hex[:8]}"
    settings = PaymentsSettings(database_url=database_url, kafka_bootstrap_servers="127.0.0.1:1",
                                database_schema=schema, assertion_public_key=public_key, log_level="WARNING")
    links = FakeLinks(public_url="http://gateway.bench")
    tenant_id = links.add_tenant(name="Bench Firm")
    staff = {"Authorization": f"Bearer {links.add_api_key(tenant_id)}"}
    webhook_times: list[float] = []
    original = handlers.receive_webhook

    async def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            webhook_times.append(time.perf_counter() - started)

    handlers.receive_webhook = timed
    try:
        async with AsyncTestClient(create_app(settings, links=links, provider=TestProvider(b"bench")),
                                   timeout=60) as client:
            link_ids = []
            for _ in range(count):
                created = await client.post("/v1/invoices", json={**INVOICE, "number": uuid.uuid4().hex[:12]},
                                            headers=staff)
                issued = await client.post(f"/v1/invoices/{created.json()['invoice_id']}/issue", headers=staff)
                link_ids.append(issued.json()["link_ids"][0])

            def headers(link_id: str) -> dict[str, str]:
                link = links.state_of(link_id)
                assertion = GuestAssertion(
                    link_id=link_id, tenant_id=tenant_id, action="pay", resource_id=link.resource_id,
                    recipient=GuestRecipient(email=None, language="en"),
                    link_expires_at=datetime.now(UTC) + timedelta(days=1), audience="payments")
                return {ASSERTION_HEADER: AssertionSigner(private_key).sign(assertion),
                        FORWARDED_PREFIX_HEADER: f"/g/{link_id}"}

            async def journey(link_id: str) -> None:
                h = headers(link_id)
                page = (await client.get("/guest/", headers=h)).text
                attempt = re.search(r'name="attempt" value="(pay_[0-9a-f]+)"', page).group(1)
                handed = await client.post("/guest/pay", data={"attempt": attempt, "name": "Bench",
                                                               "email": "bench@example.test"}, headers=h,
                                         follow_redirects=False)
                path = "/guest/" + handed.headers["location"].split("/", 3)[3]
                await client.get(path, headers=h)
                done = await client.post(path, data={"choice": "approve"}, headers=h, follow_redirects=False)
                assert done.status_code == 303

            ours = await _timed_in_parallel([journey(link_id) for link_id in link_ids], concurrency)
            pool = await asyncpg.create_pool(database_url, min_size=1, max_size=concurrency)
            await pool.execute(f'CREATE TABLE "{schema}".bench_rows (id uuid PRIMARY KEY, amount bigint)')

            async def insert() -> None:
                async with pool.acquire() as connection, connection.transaction():
                    await connection.execute(f'INSERT INTO "{schema}".bench_rows VALUES ($1, 12100)', uuid.uuid4())

            bare = await _timed_in_parallel([insert() for _ in range(count)], concurrency)
            paid = await pool.fetchval(f"""SELECT count(*) FROM "{schema}".events WHERE type LIKE '%InvoicePaid%'""")
            await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await pool.close()
    finally:
        handlers.receive_webhook = original
    assert paid == count, f"{paid} InvoicePaid for {count} payments"
    quantiles = statistics.quantiles(webhook_times, n=100)
    print("| payments | concurrency | payments/s | webhook→InvoicePaid p50 | p99 | raw inserts/s | ratio |")
    print(f"| {count} | {concurrency} | {count / ours:.1f} | {quantiles[49] * 1000:.1f} ms | "
          f"{quantiles[98] * 1000:.1f} ms | {count / bare:.0f} | {bare / ours:.3f} |")


async def _timed_in_parallel(work: list, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(item) -> None:  # noqa: ANN001
        async with gate:
            await item

    started = time.perf_counter()
    await asyncio.gather(*(one(item) for item in work))
    return time.perf_counter() - started


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.payments, arguments.concurrency))
