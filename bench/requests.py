"""Requests benchmark: a guest's autosave (one answer changed, saved through the guest API) at 8 concurrent guests,
against a bare asyncpg upsert of one JSON row in the same run.

Run against real PostgreSQL and S3: ``source var/stack.env`` of a stack (``make run``, or ``python -m
loginless.devstack test --infra-only -- uv run python bench/requests.py``). The service runs in a process of its own
(this script with ``--serve``: the requests app under uvicorn, as ``python -m loginless.requests api`` runs it, with
the links service's in-memory fake), and the guests are HTTP clients in this one, so the service's CPU is its own.
What is measured is the save as a guest's script makes it: the gateway's assertion checked, the request and its
draft loaded, the answer judged against its question, the recipient's lock taken and the versioned draft row
written, the new state answered. Rounds of each alternate and the medians are kept, so a noisy neighbour hurts both
alike.

Target: autosave p99 <= 50 ms at 8 concurrent guests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import uvicorn

from loginless.requests.bootstrap import create_app
from loginless.requests.settings import RequestsSettings
from loginless.shared.web.assertion import (
    ASSERTION_HEADER,
    FORWARDED_PREFIX_HEADER,
    AssertionSigner,
    GuestAssertion,
    GuestRecipient,
    generate_key_pair,
)
from loginless.testkit.fake_documents import FakeDocuments
from loginless.testkit.fake_links import FakeLinks
from loginless.testkit.network import free_port

GUESTS = 8
QUESTIONNAIRE = {"sections": [{"id": "s", "title": {"en": "S"}, "questions": [
    {"id": "full_name", "type": "short_text", "label": {"en": "Name"}},
    {"id": "iban", "type": "iban", "label": {"en": "IBAN"}},
    {"id": "married", "type": "yes_no", "label": {"en": "Married?"}},
    {"id": "spouse", "type": "short_text", "label": {"en": "Spouse"},
     "condition": {"question": "married", "equals": True}},
    {"id": "notes", "type": "long_text", "label": {"en": "Notes"}},
]}]}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed_loop(concurrency: int, seconds: float, operation) -> tuple[float, list[float]]:  # noqa: ANN001
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


TENANT = "bench-firm"
API_KEY = "ll_benchkey0001_" + "b" * 43


def serve(port: int) -> None:
    """The service alone in this process, its settings from the environment the client passes."""
    settings = RequestsSettings(**json.loads(os.environ["BENCH_REQUESTS_SETTINGS"]))
    links = FakeLinks(public_url="http://gateway.test", clock=lambda: datetime.now(UTC))
    links.add_tenant(TENANT, name="Bench Firm")
    links.add_api_key(TENANT, API_KEY)
    app = create_app(settings, links=links, documents=FakeDocuments())
    if not (profile := os.environ.get("BENCH_PROFILE")):
        uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
        return
    # --profile: the server under cProfile (one thread: the event loop's), written out once uvicorn has stopped.
    import cProfile

    with cProfile.Profile() as profiler:
        uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    profiler.dump_stats(profile)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time of each kind, all rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--profile", metavar="FILE", help="run the service under cProfile and write its stats here")
    args = parser.parse_args()

    private_key, public_key = generate_key_pair()
    schema = f"bench_requests_{uuid.uuid4().hex[:8]}"
    settings = dict(
        database_url=os.environ["DATABASE_URL"], kafka_bootstrap_servers="127.0.0.1:1",
        s3_endpoint=os.environ["S3_ENDPOINT"], s3_access_key=os.environ["S3_ACCESS_KEY"],
        s3_secret_key=os.environ["S3_SECRET_KEY"], s3_bucket=f"bench-requests-{secrets.token_hex(4)}",
        database_schema=schema, assertion_public_key=public_key, log_level="WARNING", log_json=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)],
                              env={**os.environ, "BENCH_REQUESTS_SETTINGS": json.dumps(settings),
                                   **({"BENCH_PROFILE": args.profile} if args.profile else {})})
    staff = {"Authorization": f"Bearer {API_KEY}"}
    signer = AssertionSigner(private_key)
    pool = await asyncpg.create_pool(settings["database_url"], min_size=GUESTS, max_size=GUESTS)
    limits = httpx.Limits(max_connections=GUESTS, max_keepalive_connections=GUESTS)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits) as client:
            for _ in range(600):  # until it listens (ready it is not: this bench gives it no Kafka)
                try:
                    if (await client.get("/health/live")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            created = await client.post("/v1/templates", headers=staff,
                                        json={"title": "Bench", "definition": QUESTIONNAIRE})
            template_id = created.json()["template_id"]
            guests = []
            for worker in range(GUESTS):  # one request each: guests never wait for one another's lock
                sent = (await client.post("/v1/requests", headers=staff, json={
                    "template_id": template_id, "require_login": False,
                    "recipients": [{"email": f"guest{worker}@example.test"}]})).json()
                assertion = signer.sign(GuestAssertion(
                    link_id=sent["recipients"][0]["link_id"], tenant_id=TENANT, action="request",
                    resource_id=sent["client_request_id"],
                    recipient=GuestRecipient(email=f"guest{worker}@example.test"),
                    link_expires_at=datetime.now(UTC) + timedelta(days=1), audience="requests"))
                guests.append({ASSERTION_HEADER: assertion,
                               FORWARDED_PREFIX_HEADER: f"/g/{sent['recipients'][0]['link_id']}"})
            versions: list[dict[str, int]] = [{} for _ in range(GUESTS)]

            async def autosave(worker: int, n: int) -> None:
                # What the page's script sends as a guest types: one answer, with the version it last saw.
                question, value = [("full_name", f"Ana {n}"), ("notes", f"note {n} " * 20),
                                   ("iban", "ES91 2100 0418 4502 0005 1332" if n % 2 else "GB82WEST12345698765432"),
                                   ("married", n % 2 == 0)][n % 4]
                response = await client.post("/guest/api/answers", headers=guests[worker], json={
                    "answers": {question: value}, "versions": {question: versions[worker].get(question, 0)}})
                assert response.status_code == 200, response.text
                versions[worker] = {q: a["version"] for q, a in response.json()["answers"].items()}

            await pool.execute(f'CREATE TABLE "{schema}".bare_answers (guest int, question text, value jsonb,'
                               ' version int NOT NULL DEFAULT 1, PRIMARY KEY (guest, question))')

            async def bare_upsert(worker: int, n: int) -> None:
                await pool.execute(
                    f'INSERT INTO "{schema}".bare_answers AS a (guest, question, value) VALUES ($1, $2, $3::jsonb)'
                    " ON CONFLICT (guest, question) DO UPDATE SET value = EXCLUDED.value, version = a.version + 1",
                    worker, f"q{n % 4}", json.dumps(f"Ana {n}"))

            await timed_loop(GUESTS, 1.0, autosave)  # warm-up: connections, caches
            ours, bare, our_latency, bare_latency = [], [], [], []
            for _ in range(args.rounds):
                rate, latency = await timed_loop(GUESTS, args.seconds / args.rounds, bare_upsert)
                bare.append(rate)
                bare_latency += latency
                rate, latency = await timed_loop(GUESTS, args.seconds / args.rounds, autosave)
                ours.append(rate)
                our_latency += latency
    finally:
        server.terminate()
        server.wait(timeout=30)
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()

    our_rate, bare_rate = statistics.median(ours), statistics.median(bare)
    p99 = percentile(our_latency, 0.99)
    print(f"# requests benchmark  {time.strftime('%Y-%m-%d %H:%M')}  {platform.node()}  "
          f"{os.cpu_count()} cpus  load {os.getloadavg()[0]:.1f}")
    print(f"{GUESTS} concurrent guests, {args.rounds} rounds of {args.seconds / args.rounds:.0f} s each, medians:")
    print(f"{'':<28} {'saves/s':>8} {'p50 ms':>7} {'p99 ms':>7}")
    print(f"{'autosave (guest API)':<28} {our_rate:>8.0f} {percentile(our_latency, 0.5):>7.1f} {p99:>7.1f}")
    print(f"{'bare asyncpg upsert':<28} {bare_rate:>8.0f} {percentile(bare_latency, 0.5):>7.1f} "
          f"{percentile(bare_latency, 0.99):>7.1f}")
    print(f"ratio autosave / bare: {our_rate / bare_rate:.2f}   target p99 <= 50 ms: "
          f"{'met' if p99 <= 50 else 'NOT met'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        asyncio.run(main())
