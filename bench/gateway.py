"""Gateway benchmark: guest requests per second and p50/p99 latency through the gateway, beside its baselines.

Each server runs as its own uvicorn process (one worker), measured in the same run on the same machine:

- ``bare``     a bare Litestar hello-world: what one Litestar process serves with nothing to do;
- ``service``  the same hello-world on ``create_service_app``: the plumbing every loginless service carries
               (request ids, request logging, Prometheus, problem details), to tell it apart from the gateway's own;
- ``upstream`` the trivial owning service the gateway proxies to, called directly;
- ``forwarder`` the cheapest possible proxy in front of ``upstream``: raw ASGI with the gateway's HTTP client and
               nothing else, so ``gateway / forwarder`` is what resolving the link costs and ``forwarder / bare``
               what any Python proxy hop costs on this machine;
- ``gateway``  ``python -m loginless.gateway api``: ``/g/{link_id}/...`` with a valid cookie, the link's state read
               from the read model in real PostgreSQL, the request signed and proxied to ``upstream``.

Load comes from ``wrk`` when it is installed (``apt-get install wrk``), else from an httpx load generator, in a
process of its own either way. Rounds of each target alternate so a noisy neighbour hurts all alike; medians are
reported. Targets: gateway >= 0.8 x bare throughput, p99 <= 5 ms at moderate load (issue 3); service <= 1.5 x bare's
CPU per request (issue 14).

Run against real infrastructure:
``uv run python -m loginless.devstack test --infra-only -- uv run python bench/gateway.py``
(``--profile`` also samples the gateway with pyinstrument, if installed, and prints where its time goes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
from servers import (
    SERVICE_OF_ACTION,
    free_port,
    gateway_environment,
    guest_cookie,
    process_environment,
    seed_link,
    wait_until_up,
)

LINK_ID = "lnk_bench_0001"
SERVICE_CPU_TARGET = 1.5  # issue 14: the service plumbing at most 1.5 x a bare Litestar app's CPU per request

WRK_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('{"requests": %d, "duration_us": %d, "errors": %d, "non_2xx": %d, '
    .. '"p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, errors, summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
"""


# ---- the servers ------------------------------------------------------------------------------------------


def bare_app():
    from litestar import Litestar, get

    @get("/", media_type="text/plain")
    async def hello() -> str:
        return "Hello, world!"

    return Litestar([hello])


def service_app():
    from litestar import get

    from loginless.gateway.settings import GatewaySettings
    from loginless.shared.web import create_service_app

    @get("/", media_type="text/plain")
    async def hello() -> str:
        return "Hello, world!"

    settings = GatewaySettings(database_url=os.environ["DATABASE_URL"],
                               kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    return create_service_app(settings, route_handlers=[hello])


async def upstream_app(scope, receive, send) -> None:
    """The cheapest possible owning service (raw ASGI), so what is measured is the gateway."""
    if scope["type"] == "lifespan":
        await receive()  # startup
        await send({"type": "lifespan.startup.complete"})
        await receive()  # shutdown
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def forwarder_app(upstream_url: str):
    """The cheapest proxy there can be with the gateway's HTTP client: no link, cookie, header or log work at all.
    What it costs over ``bare`` is the hop itself; what ``gateway`` costs over it is resolving the link."""
    from loginless.gateway.upstream import UpstreamPool, UpstreamRequest

    host, port = upstream_url.removeprefix("http://").split(":")
    pool = UpstreamPool(host, int(port))

    async def forward(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await upstream_app(scope, receive, send)
            return
        response = await pool.send(UpstreamRequest(scope["method"], b"/guest/bench", []))
        try:
            await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
            async for chunk in response.body():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    return forward


def serve(kind: str, port: int, upstream_url: str = "") -> None:
    import uvicorn

    from loginless.shared.web.logging import configure_logging

    configure_logging(as_json=True, level="WARNING")
    app = {"bare": bare_app, "service": service_app, "upstream": lambda: upstream_app,
           "forwarder": lambda: forwarder_app(upstream_url)}[kind]()
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


# ---- the load generators ----------------------------------------------------------------------------------


def wrk_load(url: str, headers: dict[str, str], concurrency: int, seconds: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_REPORT)
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "5s", "-s", script.name]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    result = json.loads(output.strip().splitlines()[-1])
    return {"requests": result["requests"], "rps": result["requests"] / (result["duration_us"] / 1e6),
            "p50_ms": result["p50_us"] / 1000, "p99_ms": result["p99_us"] / 1000,
            "errors": result["errors"] + result["non_2xx"]}


def httpx_load(url: str, headers: dict[str, str], concurrency: int, seconds: float) -> dict:
    """The same measurement with httpx, in a process of its own (``load`` sub-command)."""
    command = [sys.executable, __file__, "load", url, "--concurrency", str(concurrency), "--seconds", str(seconds),
               "--headers", json.dumps(headers)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


async def _httpx_load(url: str, headers: dict[str, str], concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=5) as http:
        stop_at = time.perf_counter() + seconds

        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = await http.get(url)
                latencies.append(time.perf_counter() - started)
                errors += response.status_code >= 400

        began = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {"requests": len(ordered), "rps": len(ordered) / elapsed, "p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, "errors": errors}


# ---- the run ----------------------------------------------------------------------------------------------


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _ratio(row: dict, measured: str, baseline: str) -> float:
    if measured not in row or baseline not in row:
        return float("nan")  # a run limited by --targets
    return round(row[measured]["rps"] / row[baseline]["rps"], 2)


def run(args: argparse.Namespace) -> None:
    from loginless.shared.web.assertion import generate_key_pair

    load = wrk_load if shutil.which("wrk") and not args.httpx else httpx_load
    ports = {name: free_port() for name in ("bare", "service", "upstream", "forwarder", "gateway")}
    logs = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    processes: dict[str, subprocess.Popen] = {}
    private_key, _ = generate_key_pair()
    try:
        upstream_url = f"http://127.0.0.1:{ports['upstream']}"
        for kind in ("bare", "service", "upstream", "forwarder"):
            processes[kind] = subprocess.Popen(
                [sys.executable, __file__, "serve", kind, "--port", str(ports[kind]), "--upstream", upstream_url],
                env=process_environment(),  # every server with what the gateway gets from the launcher
                stdout=subprocess.DEVNULL, stderr=(logs / f"{kind}.log").open("wb"))
        gateway_command = [sys.executable, "-m", "loginless.gateway", "api"]
        if args.profile:
            gateway_command = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(logs / "profile.txt"),
                               "-m", "loginless.gateway", "api"]
        processes["gateway"] = subprocess.Popen(
            gateway_command, env=gateway_environment(ports["gateway"], private_key, {
                service: upstream_url for service in SERVICE_OF_ACTION.values()}),
            stdout=(logs / "gateway.log").open("wb"), stderr=subprocess.STDOUT)
        for kind, process in processes.items():
            wait_until_up(f"http://127.0.0.1:{ports[kind]}/", process)
        asyncio.run(seed_link(LINK_ID, tenant_id="tenant-bench", action="view", resource_id="doc_bench"))

        cookie = guest_cookie(LINK_ID)
        targets = {
            "bare": (f"http://127.0.0.1:{ports['bare']}/", {}),
            "service": (f"http://127.0.0.1:{ports['service']}/", {}),
            "upstream": (f"http://127.0.0.1:{ports['upstream']}/guest/bench", {}),
            "forwarder": (f"http://127.0.0.1:{ports['forwarder']}/", {}),
            "gateway": (f"http://127.0.0.1:{ports['gateway']}/g/{LINK_ID}/bench", {"Cookie": cookie}),
        }
        targets = {name: target for name, target in targets.items() if name in args.targets}
        for name in ("forwarder", "gateway"):  # each proxy answers with what the trivial service says
            if name in targets:
                check = httpx.get(targets[name][0], headers=targets[name][1])
                assert check.status_code == 200 and check.text == "ok", (name, check.status_code, check.text[:300])
        for url, headers in targets.values():  # warm up: connection pools, caches, the JIT-less interpreter's
            load(url, headers, 8, 1)

        print(f"# gateway benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load: {load.__name__}")
        print(f"# {args.seconds:.0f} s per target and concurrency, in {args.rounds} alternating rounds; medians;"
              " latency and CPU per request (of the server process) in ms")
        header = f"{'conc':>4}  " + "  ".join(f"{name + ' rps':>12} {'p50':>6} {'p99':>6} {'cpu':>5}"
                                              for name in targets)
        print(header + f"  {'gw/bare':>7} {'fwd/bare':>8} {'gw/fwd':>6}")
        summary = []
        for concurrency in args.concurrency:
            rounds: dict[str, list[dict]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (url, headers) in targets.items():
                    server = psutil.Process(processes[name].pid)
                    cpu_before = _cpu_seconds(server)
                    result = load(url, headers, concurrency, args.seconds / args.rounds)
                    # CPU time per request of the server process: unlike throughput, barely moved by neighbours.
                    result["cpu_ms"] = (_cpu_seconds(server) - cpu_before) * 1000 / max(1, result["requests"])
                    rounds[name].append(result)
            row = {"concurrency": concurrency}
            for name, results in rounds.items():
                row[name] = {key: round(statistics.median(result[key] for result in results), 3)
                             for key in ("rps", "p50_ms", "p99_ms", "cpu_ms")}
                row[name]["errors"] = sum(result["errors"] for result in results)
            row["gateway_vs_bare"] = _ratio(row, "gateway", "bare")
            row["forwarder_vs_bare"] = _ratio(row, "forwarder", "bare")
            row["gateway_vs_forwarder"] = _ratio(row, "gateway", "forwarder")
            if "service" in row and "bare" in row:  # the plumbing every service carries, in CPU per request
                row["service_vs_bare_cpu"] = round(row["service"]["cpu_ms"] / row["bare"]["cpu_ms"], 2)
            summary.append(row)
            print(f"{concurrency:>4}  " + "  ".join(
                f"{row[name]['rps']:>12.0f} {row[name]['p50_ms']:>6.2f} {row[name]['p99_ms']:>6.2f}"
                f" {row[name]['cpu_ms']:>5.2f}"
                for name in targets) + f"  {row['gateway_vs_bare']:>7.2f} {row['forwarder_vs_bare']:>8.2f}"
                                       f" {row['gateway_vs_forwarder']:>6.2f}")
        errors = {name: sum(row[name]["errors"] for row in summary) for name in targets}
        print(f"# errors (non-2xx or failed requests): {errors}")
        for row in summary:
            if "service_vs_bare_cpu" in row:
                print(f"# service / bare CPU per request at concurrency {row['concurrency']}: "
                      f"{row['service_vs_bare_cpu']:.2f} (target <= {SERVICE_CPU_TARGET})")
        print(json.dumps(summary))
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGINT)  # pyinstrument writes its report on a clean stop
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if args.profile and (logs / "profile.txt").exists():
            print((logs / "profile.txt").read_text())
        print(f"# server logs in {logs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    serve_command = commands.add_parser("serve")
    serve_command.add_argument("kind", choices=["bare", "service", "upstream", "forwarder"])
    serve_command.add_argument("--port", type=int, required=True)
    serve_command.add_argument("--upstream", default="")
    load_command = commands.add_parser("load")
    load_command.add_argument("url")
    load_command.add_argument("--concurrency", type=int, required=True)
    load_command.add_argument("--seconds", type=float, required=True)
    load_command.add_argument("--headers", default="{}")
    parser.add_argument("--seconds", type=float, default=9.0, help="per target and concurrency level")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--targets", nargs="+", default=["bare", "service", "upstream", "forwarder", "gateway"],
                        help="which servers to load (the ratios need bare, forwarder and gateway)")
    parser.add_argument("--httpx", action="store_true", help="use the httpx load generator even if wrk exists")
    parser.add_argument("--profile", action="store_true", help="profile the gateway with pyinstrument")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.kind, args.port, args.upstream)
    elif args.command == "load":
        print(json.dumps(asyncio.run(_httpx_load(args.url, json.loads(args.headers), args.concurrency,
                                                 args.seconds))))
    else:
        run(args)


if __name__ == "__main__":
    main()
