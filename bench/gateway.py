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
               from the read model in real PostgreSQL (its worker reporting it fresh), the request signed and proxied
               to ``upstream``;
- ``nginx``    Debian's nginx straight to the owning service, asking nobody (``bench/nginx-straight.conf.template``);
- ``nginx-auth`` the same nginx in forward-auth mode as shipped (``deploy/nginx/loginless.conf.template``): each
               request admitted by the gateway's ``/auth/forward``, whose answers nginx keeps to the end of the
               second, then sent to the owning service with the assertion. Its CPU is nginx's and the gateway's.

Behind nginx the owning service is ``service`` by default: a page on the plumbing every loginless service carries,
as a guest's request meets it. ``--nginx-upstream upstream`` puts the raw ASGI ``upstream`` there instead, the worst
case for the ratio: a service that does nothing at all, so that nginx's own work is most of the request.

The requests of ``--guests`` guests, each with the cookie of a link of their own, take turns, so the forward-auth
cache holds one answer per guest. Load comes from ``wrk`` when it is
installed (``apt-get install wrk``), else from an httpx load generator, in a process of its own either way. Rounds
of each target alternate so a noisy neighbour hurts all alike; medians are reported. Targets: gateway >= 0.8 x bare
throughput, p99 <= 5 ms at moderate load (issue 3); nginx-auth >= 0.8 x nginx and p99 <= 5 ms at 8 concurrent
guests, service <= 1.5 x bare's CPU per request (issue 14).

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
    start_gateway_worker,
    wait_until_ok,
    wait_until_up,
)

NGINX_STRAIGHT_TEMPLATE = Path(__file__).with_name("nginx-straight.conf.template")
FORWARD_AUTH_TARGET = 0.8  # nginx-auth / nginx throughput, at 8 concurrent guests
P99_TARGET_MS = 5.0
SERVICE_CPU_TARGET = 1.5  # the service plumbing's CPU per request against a bare Litestar app's

# The guests' requests take turns: each asks for the next guest's page, with the cookie of that guest's link.
WRK_GUESTS = """
local guests = {%s}
local turn = 0
request = function()
  turn = turn %% #guests + 1
  local guest = guests[turn]
  if guest[2] == "" then return wrk.format(nil, guest[1]) end
  return wrk.format(nil, guest[1], {["Cookie"] = guest[2]})
end
"""

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

    @get("/guest/{rest:path}", media_type="text/plain")
    async def guest_page(rest: str) -> str:
        """Where nginx sends a guest: the cheapest page a service built like every loginless service can have."""
        return "ok"

    settings = GatewaySettings(database_url=os.environ["DATABASE_URL"],
                               kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    return create_service_app(settings, route_handlers=[hello, guest_page])


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


# A guest: the path they ask for and their cookie ("" for none).
Guest = tuple[str, str]


def wrk_load(url: str, guests: list[Guest], concurrency: int, seconds: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_GUESTS % ", ".join(f"{{{json.dumps(path)}, {json.dumps(cookie)}}}" for path, cookie in guests)
                     + WRK_REPORT)
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "5s", "-s", script.name]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    result = json.loads(output.strip().splitlines()[-1])
    return {"requests": result["requests"], "rps": result["requests"] / (result["duration_us"] / 1e6),
            "p50_ms": result["p50_us"] / 1000, "p99_ms": result["p99_us"] / 1000,
            "errors": result["errors"] + result["non_2xx"]}


def httpx_load(url: str, guests: list[Guest], concurrency: int, seconds: float) -> dict:
    """The same measurement with httpx, in a process of its own (``load`` sub-command)."""
    command = [sys.executable, __file__, "load", url, "--concurrency", str(concurrency), "--seconds", str(seconds),
               "--guest-list", json.dumps(guests)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


async def _httpx_load(url: str, guests: list[Guest], concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    turn = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=5) as http:
        stop_at = time.perf_counter() + seconds

        async def loop() -> None:
            nonlocal errors, turn
            while time.perf_counter() < stop_at:
                turn += 1
                path, cookie = guests[turn % len(guests)]
                started = time.perf_counter()
                response = await http.get(url + path, headers={"Cookie": cookie} if cookie else {})
                latencies.append(time.perf_counter() - started)
                errors += response.status_code >= 400

        began = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {"requests": len(ordered), "rps": len(ordered) / elapsed, "p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, "errors": errors}


# ---- the run ----------------------------------------------------------------------------------------------


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(times.user + times.system for times in (process.cpu_times() for process in processes))


def _ratio(row: dict, measured: str, baseline: str, key: str = "rps") -> float:
    if measured not in row or baseline not in row:
        return float("nan")  # a run limited by --targets
    return round(row[measured][key] / row[baseline][key], 2)


def _nginx(name: str, directory: Path, *, port: int, gateway_url: str, upstream_url: str,
           template: Path | None = None) -> subprocess.Popen:
    """nginx with the shipped forward-auth configuration (or ``template``) in front of ``upstream_url``, as every
    action's service, one worker process like the Python servers."""
    from loginless.devstack.nginx import nginx_command, render_config

    config = render_config(directory / name, listen_port=port, gateway_url=gateway_url,
                           service_urls={service: upstream_url for service in SERVICE_OF_ACTION.values()},
                           **({"template": template} if template else {}))
    return subprocess.Popen(nginx_command(config), stdout=subprocess.DEVNULL,
                            stderr=(directory / f"{name}.log").open("wb"))


def run(args: argparse.Namespace) -> None:
    from loginless.shared.web.assertion import generate_key_pair

    load = wrk_load if shutil.which("wrk") and not args.httpx else httpx_load
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        args.targets = [name for name in args.targets if not name.startswith("nginx")]
        print("# nginx is not installed (apt-get install nginx): its targets are left out")
    names = ("bare", "service", "upstream", "forwarder", "gateway", "nginx", "nginx-auth")
    ports = {name: free_port() for name in names}
    logs = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    processes: dict[str, subprocess.Popen] = {}
    private_key, _ = generate_key_pair()
    try:
        upstream_url = f"http://127.0.0.1:{ports['upstream']}"
        gateway_url = f"http://127.0.0.1:{ports['gateway']}"
        for kind in ("bare", "service", "upstream", "forwarder"):
            processes[kind] = subprocess.Popen(
                [sys.executable, __file__, "serve", kind, "--port", str(ports[kind]), "--upstream", upstream_url],
                env=process_environment(),  # every server with what the gateway gets from the launcher
                stdout=subprocess.DEVNULL, stderr=(logs / f"{kind}.log").open("wb"))
        gateway_command = [sys.executable, "-m", "loginless.gateway", "api"]
        if args.profile:
            gateway_command = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(logs / "profile.txt"),
                               "-m", "loginless.gateway", "api"]
        # The gateway's own routes are for its embedded proxy (``gateway``); forward-auth names the same services,
        # which nginx finds at its own upstreams.
        gateway_env = {**gateway_environment(ports["gateway"], private_key, {
            service: upstream_url for service in SERVICE_OF_ACTION.values()}),
            "GATEWAY_FORWARD_AUTH_ENABLED": "true", "GATEWAY_TRUSTED_PROXY_HOPS": "1"}
        processes["gateway"] = subprocess.Popen(gateway_command, env=gateway_env,
                                                stdout=(logs / "gateway.log").open("wb"), stderr=subprocess.STDOUT)
        processes["gateway-worker"] = start_gateway_worker(gateway_env, logs / "gateway-worker.log")
        behind_nginx = f"http://127.0.0.1:{ports[args.nginx_upstream]}"
        if "nginx" in args.targets:
            processes["nginx"] = _nginx("nginx", logs, port=ports["nginx"], gateway_url=gateway_url,
                                        upstream_url=behind_nginx, template=NGINX_STRAIGHT_TEMPLATE)
        if "nginx-auth" in args.targets:
            processes["nginx-auth"] = _nginx("nginx-auth", logs, port=ports["nginx-auth"], gateway_url=gateway_url,
                                             upstream_url=behind_nginx)
        for kind, process in processes.items():
            if kind in ports:
                wait_until_up(f"http://127.0.0.1:{ports[kind]}/", process)
        link_ids = [f"lnk_bench_{number:04d}" for number in range(1, args.guests + 1)]
        for link_id in link_ids:
            asyncio.run(seed_link(link_id, tenant_id="tenant-bench", action="view", resource_id="doc_bench"))

        guests = [(f"/g/{link_id}/bench", guest_cookie(link_id)) for link_id in link_ids]
        anonymous = [(path, "") for path, _ in guests]  # the same paths, for servers that ask for no cookie

        def at(name: str) -> str:
            return f"http://127.0.0.1:{ports[name]}"

        targets = {
            "bare": (at("bare"), [("/", "")]),
            "service": (at("service"), [("/", "")]),
            "upstream": (at("upstream"), [("/guest/bench", "")]),
            "forwarder": (at("forwarder"), [("/", "")]),
            "gateway": (gateway_url, guests),
            "nginx": (at("nginx"), anonymous),
            "nginx-auth": (at("nginx-auth"), guests),
        }
        targets = {name: target for name, target in targets.items() if name in args.targets}
        for name in ("forwarder", "gateway", "nginx", "nginx-auth"):  # each proxy answers what the service says
            if name in targets:
                url, (path, cookie) = targets[name][0], targets[name][1][-1]
                check = wait_until_ok(url + path, {"Cookie": cookie} if cookie else {})
                assert check.status_code == 200 and check.text == "ok", (name, check.status_code, check.text[:300])
        # The processes whose CPU a target's requests cost: nginx's master and worker, and for forward-auth the
        # gateway too.
        path_of = {name: [name] for name in targets} | {"nginx-auth": ["nginx-auth", "gateway"]}
        cpu_of = {}
        for name in targets:
            cpu_of[name] = [psutil.Process(processes[part].pid) for part in path_of[name]]
            cpu_of[name] += [child for part in path_of[name] if part.startswith("nginx")  # not its cache loader,
                             for child in psutil.Process(processes[part].pid).children()  # which comes and goes
                             if "worker process" in " ".join(child.cmdline())]
        for url, target_guests in targets.values():  # warm up: connection pools, caches
            load(url, target_guests, 8, 1)

        print(f"# gateway benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load: {load.__name__}, "
              f"{args.guests} guests, behind nginx: {args.nginx_upstream}")
        print(f"# {args.seconds:.0f} s per target and concurrency, in {args.rounds} alternating rounds; medians;"
              " latency and CPU per request (of the processes on the path) in ms")
        print(f"{'conc':>4}  {'target':<10} {'rps':>7} {'p50':>6} {'p99':>6} {'cpu':>5} {'errors':>6}")
        summary = []
        for concurrency in args.concurrency:
            rounds: dict[str, list[dict]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (url, target_guests) in targets.items():
                    cpu_before = _cpu_seconds(cpu_of[name])
                    result = load(url, target_guests, concurrency, args.seconds / args.rounds)
                    # CPU time per request on the path: unlike throughput, barely moved by neighbours.
                    result["cpu_ms"] = (_cpu_seconds(cpu_of[name]) - cpu_before) * 1000 / max(1, result["requests"])
                    rounds[name].append(result)
            row = {"concurrency": concurrency}
            for name, results in rounds.items():
                row[name] = {key: round(statistics.median(result[key] for result in results), 3)
                             for key in ("rps", "p50_ms", "p99_ms", "cpu_ms")}
                row[name]["errors"] = sum(result["errors"] for result in results)
                print(f"{concurrency:>4}  {name:<10} {row[name]['rps']:>7.0f} {row[name]['p50_ms']:>6.2f}"
                      f" {row[name]['p99_ms']:>6.2f} {row[name]['cpu_ms']:>5.2f} {row[name]['errors']:>6}")
            row["ratios"] = {
                "gateway/bare": _ratio(row, "gateway", "bare"),
                "forwarder/bare": _ratio(row, "forwarder", "bare"),
                "gateway/forwarder": _ratio(row, "gateway", "forwarder"),
                "nginx-auth/nginx": _ratio(row, "nginx-auth", "nginx"),
                "service/bare cpu": _ratio(row, "service", "bare", "cpu_ms"),
            }
            print(f"{concurrency:>4}  ratios: " + ", ".join(f"{name} {value:.2f}" for name, value in
                                                          row["ratios"].items()))
            summary.append(row)
        for row in summary:
            if row["concurrency"] == 8 and "nginx-auth" in row:
                met = row["ratios"]["nginx-auth/nginx"] >= FORWARD_AUTH_TARGET and \
                    row["nginx-auth"]["p99_ms"] <= P99_TARGET_MS
                print(f"# forward-auth at 8 guests: {row['ratios']['nginx-auth/nginx']:.2f} x nginx straight "
                      f"(target >= {FORWARD_AUTH_TARGET}), p99 {row['nginx-auth']['p99_ms']:.2f} ms "
                      f"(target <= {P99_TARGET_MS:.0f}): {'met' if met else 'not met'}")
            if "service" in row and "bare" in row:
                value = row["ratios"]["service/bare cpu"]
                print(f"# service plumbing at concurrency {row['concurrency']}: {value:.2f} x bare's CPU per request "
                      f"(target <= {SERVICE_CPU_TARGET}): {'met' if value <= SERVICE_CPU_TARGET else 'not met'}")
        print(json.dumps(summary))
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGINT)  # pyinstrument writes its report on a clean stop; nginx stops
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
    load_command.add_argument("--guest-list", default="[]", help="JSON: [[path, cookie], ...]")
    parser.add_argument("--seconds", type=float, default=9.0, help="per target and concurrency level")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--targets", nargs="+",
                        default=["bare", "service", "upstream", "forwarder", "gateway", "nginx", "nginx-auth"],
                        help="which servers to load (each ratio needs both of its targets)")
    parser.add_argument("--guests", type=int, default=8, help="guests, each with a link of their own")
    parser.add_argument("--nginx-upstream", choices=["service", "upstream"], default="service",
                        help="the owning service behind nginx: a page on the services' plumbing, or the raw ASGI one")
    parser.add_argument("--httpx", action="store_true", help="use the httpx load generator even if wrk exists")
    parser.add_argument("--profile", action="store_true", help="profile the gateway with pyinstrument")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.kind, args.port, args.upstream)
    elif args.command == "load":
        print(json.dumps(asyncio.run(_httpx_load(args.url, json.loads(args.guest_list), args.concurrency,
                                                 args.seconds))))
    else:
        run(args)


if __name__ == "__main__":
    main()
