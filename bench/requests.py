"""Requests benchmark: a guest's autosave (one answer changed, saved through the guest API) at 8 concurrent guests,
against a bare asyncpg upsert of one JSON row in the same run -- at the page's pace and at saturation.

Run against real PostgreSQL and S3: ``source var/stack.env`` of a stack (``make run``, or ``python -m
loginless.devstack test --infra-only -- uv run python bench/requests.py``). The service runs in a process of its own
(this script with ``--serve``: the requests app under uvicorn, as ``python -m loginless.requests api`` runs it, with
the links service's in-memory fake), and the guests are HTTP clients in this one, so the service's CPU is its own.
What is measured is the save as a guest's script makes it: the gateway's assertion checked, the request read, the
answer judged against its question, then the one statement that takes the recipient's lock, checks versions and
writes the draft row, and the new state answered.

Two loads, each beside the bare upsert under the same load:

* **paced** -- what the target is about: each guest saves as the page's script does at its fastest, one save per
  ``PAGE_SAVE_INTERVAL`` (the script saves 800 ms after the last keystroke, or at once when a field is left; its saves
  go one after another), with a random phase and +-10 % jitter so eight guests do not move in step. Latency p50/p99.
* **saturation** -- how many answers per second one service process saves: the eight guests save back to back.

Rounds of each alternate (bare, ours) so a noisy neighbour hurts both alike. ``--profile FILE`` runs the service
under cProfile. Target: autosave p99 <= 50 ms at 8 concurrent guests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
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
PAGE_SAVE_INTERVAL = 0.8  # seconds: questionnaire.js's debounce of a text answer (frontend/src/questionnaire.js)
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


async def timed_loop(concurrency: int, seconds: float, operation, *,  # noqa: ANN001
                     pace: float | None = None) -> tuple[float, list[float]]:
    """Run ``operation(worker, n)`` in ``concurrency`` loops for ``seconds``: back to back, or with ``pace``, each
    loop starting a save every ``pace`` seconds (+-10 %), or as soon as the last one ended when it took longer.
    Returns operations per second and every latency (ms)."""
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def loop(worker: int) -> None:
        n = 0
        if pace is not None:
            await asyncio.sleep(random.uniform(0, pace))
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            await operation(worker, n)
            latencies.append((time.perf_counter() - started) * 1000)
            n += 1
            if pace is not None:
                await asyncio.sleep(max(0.0, started + pace * random.uniform(0.9, 1.1) - time.perf_counter()))

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
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="measured time of each kind at saturation, all rounds")
    parser.add_argument("--paced-seconds", type=float, default=60.0,
                        help="measured time of each kind at the page's pace, all rounds")
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
            links = []
            for worker in range(GUESTS):  # one request each: guests never wait for one another's lock
                sent = (await client.post("/v1/requests", headers=staff, json={
                    "template_id": template_id, "require_login": False,
                    "recipients": [{"email": f"guest{worker}@example.test"}]})).json()
                links.append((sent["recipients"][0]["link_id"], sent["client_request_id"]))
            signed: dict[int, tuple[float, dict[str, str]]] = {}

            def guest_headers(worker: int) -> dict[str, str]:
                """What the gateway sends along: its assertion, signed anew every 30 s as the gateway does (an
                assertion lives 60 s)."""
                at, headers = signed.get(worker, (0.0, {}))
                if time.monotonic() - at > 30:
                    link_id, request_id = links[worker]
                    headers = {ASSERTION_HEADER: signer.sign(GuestAssertion(
                        link_id=link_id, tenant_id=TENANT, action="request", resource_id=request_id,
                        recipient=GuestRecipient(email=f"guest{worker}@example.test"),
                        link_expires_at=datetime.now(UTC) + timedelta(days=1), audience="requests")),
                        FORWARDED_PREFIX_HEADER: f"/g/{link_id}"}
                    signed[worker] = (time.monotonic(), headers)
                return headers

            versions: list[dict[str, int]] = [{} for _ in range(GUESTS)]

            async def autosave(worker: int, n: int) -> None:
                # What the page's script sends as a guest types: one answer, with the version it last saw.
                question, value = [("full_name", f"Ana {n}"), ("notes", f"note {n} " * 20),
                                   ("iban", "ES91 2100 0418 4502 0005 1332" if n % 2 else "GB82WEST12345698765432"),
                                   ("married", n % 2 == 0)][n % 4]
                response = await client.post("/guest/api/answers", headers=guest_headers(worker), json={
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
            paced: dict[str, list[float]] = {"ours": [], "bare": []}
            paced_rates: dict[str, list[float]] = {"ours": [], "bare": []}
            saturated: dict[str, list[float]] = {"ours": [], "bare": []}
            saturated_rates: dict[str, list[float]] = {"ours": [], "bare": []}
            for _ in range(args.rounds):
                for kind, operation in (("bare", bare_upsert), ("ours", autosave)):
                    rate, latency = await timed_loop(GUESTS, args.paced_seconds / args.rounds, operation,
                                                     pace=PAGE_SAVE_INTERVAL)
                    paced_rates[kind].append(rate)
                    paced[kind] += latency
                for kind, operation in (("bare", bare_upsert), ("ours", autosave)):
                    rate, latency = await timed_loop(GUESTS, args.seconds / args.rounds, operation)
                    saturated_rates[kind].append(rate)
                    saturated[kind] += latency
    finally:
        server.terminate()
        server.wait(timeout=30)
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()

    def row(name: str, rate: float, latency: list[float]) -> str:
        return f"{name:<28} {rate:>8.1f} {percentile(latency, 0.5):>7.1f} {percentile(latency, 0.99):>7.1f}"

    header = f"{'':<28} {'saves/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
    print(f"# requests benchmark  {time.strftime('%Y-%m-%d %H:%M')}  {platform.node()}  "
          f"{os.cpu_count()} cpus  load {os.getloadavg()[0]:.1f}")
    print(f"paced: {GUESTS} guests, each saving every {PAGE_SAVE_INTERVAL} s (the page's pace), {args.rounds} rounds "
          f"of {args.paced_seconds / args.rounds:.0f} s; {len(paced['ours'])} saves:")
    print(header)
    print(row("autosave (guest API)", statistics.median(paced_rates["ours"]), paced["ours"]))
    print(row("bare asyncpg upsert", statistics.median(paced_rates["bare"]), paced["bare"]))
    p99 = percentile(paced["ours"], 0.99)
    print(f"p99 autosave / bare: {p99 / percentile(paced['bare'], 0.99):.1f}   "
          f"target p99 <= 50 ms at the page's pace: {'met' if p99 <= 50 else 'NOT met'}")
    print(f"saturation: {GUESTS} guests saving back to back, {args.rounds} rounds of "
          f"{args.seconds / args.rounds:.0f} s, saves/s the median of rounds:")
    print(header)
    ours, bare = statistics.median(saturated_rates["ours"]), statistics.median(saturated_rates["bare"])
    print(row("autosave (guest API)", ours, saturated["ours"]))
    print(row("bare asyncpg upsert", bare, saturated["bare"]))
    print(f"answers saved per second, autosave / bare: {ours / bare:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        asyncio.run(main())
