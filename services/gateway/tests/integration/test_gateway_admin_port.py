"""The gateway as deployed with an admin port (``GATEWAY_ADMIN_PORT``), as real processes: its public port
serves guests and a bare liveness answer only, with the gateway's headers on every answer; metrics, the OpenAPI
document and the readiness answer naming each dependency are on the admin port, for the api and the worker (whose
metrics include its consumer's lag)."""

import asyncio
import json
import os
import signal
import sys

import httpx
import pytest

from loginless.shared.messaging.topics import ensure_topics
from loginless.testkit.network import free_port
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def environment(database_url, kafka_bootstrap_servers, assertion_keys, schema) -> dict[str, str]:
    private_key, _ = assertion_keys
    return {
        **os.environ, "GATEWAY_DATABASE_URL": database_url, "GATEWAY_DATABASE_SCHEMA": schema,
        "GATEWAY_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers, "GATEWAY_TOPIC_PREFIX": f"{schema}.",
        "GATEWAY_LINKS_URL": f"http://127.0.0.1:{free_port()}", "GATEWAY_INTERNAL_API_SECRET": "internal-secret",
        "GATEWAY_ASSERTION_PRIVATE_KEY": private_key, "GATEWAY_COOKIE_SECRET": "cookie-secret-of-the-admin-test-01",
        "GATEWAY_ROUTES": json.dumps({action: {"service": "documents", "url": f"http://127.0.0.1:{free_port()}"}
                                      for action in ("view", "upload", "sign", "pay", "request")}),
    }


async def start(role: str, environment: dict[str, str], log_path) -> asyncio.subprocess.Process:
    with log_path.open("wb") as log:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "loginless.gateway", role,
                                                    env=environment, stdout=log, stderr=log)


async def stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), 30)


async def answers(url: str, status: int = 200) -> bool:
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(url)).status_code == status
    except httpx.TransportError:
        return False


async def test_the_public_port_serves_guests_and_liveness_and_the_admin_port_the_rest(environment, tmp_path):
    public, admin = free_port(), free_port()
    api = await start("api", environment | {"GATEWAY_HTTP_PORT": str(public), "GATEWAY_ADMIN_PORT": str(admin)},
                      tmp_path / "api.log")
    try:
        await eventually(lambda: answers(f"http://127.0.0.1:{admin}/health/ready"), timeout=60,
                         message="the gateway api ready on its admin port")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{public}", timeout=10) as http:
            on_public = {path: await http.get(path) for path in
                         ("/health/live", "/robots.txt", "/health/ready", "/metrics", "/schema/openapi.json")}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{admin}", timeout=10) as http:
            on_admin = {path: await http.get(path) for path in
                        ("/health/live", "/health/ready", "/metrics", "/schema/openapi.json", "/robots.txt")}
    finally:
        await stop(api)

    assert on_public["/health/live"].json() == {"status": "alive"}
    assert "Disallow: /l/" in on_public["/robots.txt"].text
    for path in ("/health/ready", "/metrics", "/schema/openapi.json"):
        answer = on_public[path]
        assert answer.status_code == 404, path
        assert answer.headers["referrer-policy"] == "no-referrer" and "content-security-policy" in answer.headers
        assert "postgresql" not in answer.text and "loginless_" not in answer.text
    assert on_admin["/health/live"].status_code == 200
    assert on_admin["/health/ready"].json()["checks"] == {"postgresql": "ok", "kafka": "ok"}
    assert "loginless_http_requests_total" in on_admin["/metrics"].text
    assert on_admin["/schema/openapi.json"].json()["info"]["title"] == "loginless gateway"
    assert on_admin["/robots.txt"].status_code == 404


async def test_a_worker_serves_liveness_readiness_naming_its_dependencies_and_metrics_on_its_admin_port(
        environment, tmp_path, kafka_bootstrap_servers, schema):
    links_events = f"{schema}.links.events"  # what the worker's consumer reads: its lag is reported from the start
    await ensure_topics(kafka_bootstrap_servers, [links_events], partitions=2)
    admin, down_admin = free_port(), free_port()
    worker = await start("worker", environment | {"GATEWAY_ADMIN_PORT": str(admin)}, tmp_path / "worker.log")
    # A second worker whose Kafka is nowhere: alive, but not ready, and its answer says why.
    cut_off = await start("worker", environment | {"GATEWAY_ADMIN_PORT": str(down_admin),
                                                   "GATEWAY_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"},
                          tmp_path / "cut-off-worker.log")
    try:
        await eventually(lambda: answers(f"http://127.0.0.1:{admin}/health/ready"), timeout=60,
                         message="the worker ready on its admin port")
        await eventually(lambda: answers(f"http://127.0.0.1:{down_admin}/health/live"), timeout=60,
                         message="the cut-off worker alive")
        group = f"{schema}.gateway-link-state"  # the consumer group is the deployment's own, under its topic prefix
        lag = f'loginless_consumer_lag_messages{{consumer="{group}",topic="{links_events}"}} 0.0'
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{admin}", timeout=10) as http:
            ready, other = await http.get("/health/ready"), await http.get("/v1/anything")

            async def lag_reported() -> httpx.Response | None:  # the first report follows the consumer's first join
                metrics = await http.get("/metrics")
                return metrics if lag in metrics.text else None

            metrics = await eventually(lag_reported, timeout=60, message="the consumer's lag on the admin port")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{down_admin}", timeout=10) as http:
            not_ready = await http.get("/health/ready")
    finally:
        exit_codes = [await stop(worker), await stop(cut_off)]

    assert ready.json()["checks"] == {"postgresql": "ok", "kafka": "ok"}
    assert "loginless_outbox_relay_active" in metrics.text
    assert other.status_code == 404
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["postgresql"] == "ok"
    assert not_ready.json()["checks"]["kafka"].startswith("unavailable")
    assert exit_codes == [0, 0]  # SIGTERM still stops a worker gracefully with its admin server running
