"""One guest request is one trace across real processes: the gateway's api, links' api (and its append), links'
worker (the relay's publish) and the gateway's worker (its consumer's handling), exported over OTLP/HTTP to a
receiver in this test; the event carries the trace in its ``traceparent`` and the log lines carry its id."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import signal
import sys
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from loginless.links.tokens import new_api_key
from loginless.testkit.fake_services import request_body, serve
from loginless.testkit.network import free_port
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration


class OwningService:
    """A service behind the gateway: answers every guest page, noting the ``traceparent`` each request came with."""

    def __init__(self) -> None:
        self.traceparents: list[str | None] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        self.traceparents.append(headers.get(b"traceparent", b"").decode() or None)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<p>guest page</p>"})


class OtlpReceiver:
    """What an OpenTelemetry collector receives: ``(trace id, service, span name, span kind)`` of every span."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str, int]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = await request_body(receive)
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend((s.trace_id.hex(), attributes.get("service.name", ""), s.name, s.kind)
                                  for s in scope_spans.spans)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/x-protobuf")]})
        await send({"type": "http.response.body", "body": b""})

    def of_trace(self, trace_id: str) -> set[tuple[str, str]]:
        return {(service, name) for trace, service, name, _ in self.spans if trace == trace_id}


async def start(service: str, role: str, environment: dict[str, str], logs: Path) -> asyncio.subprocess.Process:
    with (logs / f"{service}-{role}.log").open("wb") as log:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", f"loginless.{service}", role,
                                                    env=environment, stdout=log, stderr=log)


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"{url}/health/ready")).status_code == 200
    except httpx.TransportError:
        return False


async def test_a_guest_request_its_append_the_relays_publish_and_a_consumers_handling_are_one_trace(
        database_url, kafka_bootstrap_servers, assertion_keys, tmp_path):
    receiver, documents = OtlpReceiver(), OwningService()
    private_key, _ = assertion_keys
    run = uuid.uuid4().hex[:8]
    links_port, gateway_port = free_port(), free_port()
    links_url, gateway_url = f"http://127.0.0.1:{links_port}", f"http://127.0.0.1:{gateway_port}"
    async with serve(receiver) as receiver_url, serve(documents) as documents_url:
        tracing = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url, "OTEL_BSP_SCHEDULE_DELAY": "200",
                   "LOGINLESS_ENV": "test"}
        links_env = {**os.environ, **tracing, **{f"LINKS_{key}": value for key, value in {
            "DATABASE_URL": database_url, "DATABASE_SCHEMA": f"links_traces_{run}",
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers, "TOPIC_PREFIX": f"traces{run}.",
            "INTERNAL_API_SECRET": "internal-secret", "TOKEN_PEPPERS": f"p1:{secrets.token_urlsafe(32)}",
            "DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(), "PUBLIC_URL": gateway_url,
            "HTTP_PORT": str(links_port)}.items()}}
        gateway_env = {**os.environ, **tracing, **{f"GATEWAY_{key}": value for key, value in {
            "DATABASE_URL": database_url, "DATABASE_SCHEMA": f"gateway_traces_{run}",
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers, "TOPIC_PREFIX": f"traces{run}.",
            "LINKS_URL": links_url, "INTERNAL_API_SECRET": "internal-secret", "PUBLIC_URL": gateway_url,
            "ASSERTION_PRIVATE_KEY": private_key, "COOKIE_SECRET": "cookie-secret-of-the-traces-test-01",
            "HTTP_PORT": str(gateway_port),
            "ROUTES": json.dumps({action: {"service": "documents", "url": documents_url}
                                  for action in ("view", "upload", "sign", "pay", "request")})}.items()}}
        processes = [await start("links", "api", links_env, tmp_path)]
        try:
            await eventually(lambda: ready(links_url), timeout=60, message="links ready")
            api_key = new_api_key().value
            made = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "loginless.links", "ensure-tenant", "--tenant-id", f"firm-{run}", "--name",
                "Traced Firm", "--api-key", api_key, env=links_env)
            assert await made.wait() == 0
            processes += [await start("links", "worker", links_env, tmp_path),
                          await start("gateway", "api", gateway_env, tmp_path),
                          await start("gateway", "worker", gateway_env, tmp_path)]
            await eventually(lambda: ready(gateway_url), timeout=60, message="gateway ready")
            async with httpx.AsyncClient(timeout=15) as http:
                issued = await http.post(f"{links_url}/v1/links", headers={"Authorization": f"Bearer {api_key}"},
                                         json={"action": "view", "resource_id": "doc-traced",
                                               "recipients": [{"email": "traced@example.test"}]})
                [link] = issued.json()["links"]
                trace_id = secrets.token_hex(16)  # the trace the guest's edge started
                parent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
                opened = await http.get(link["url"], headers={"traceparent": parent})
                page = await http.get(f"{gateway_url}/g/{link['link_id']}/", headers={"traceparent": parent})
            assert opened.status_code == 200 and page.text == "<p>guest page</p>"
            [forwarded] = documents.traceparents  # the proxy lane's own span, in the guest's trace
            assert forwarded.startswith(f"00-{trace_id}-") and forwarded != parent

            wanted = {("loginless-gateway", "GET /l/redacted"),  # the route's template: the token is not in it
                      ("loginless-gateway", "proxy to documents"),
                      ("loginless-links", "POST /internal/v1/links/{link_id}/opened"),
                      ("loginless-links", "POST /internal/v1/links/{link_id}/use"),
                      ("loginless-links", f"publish traces{run}.links.events"),
                      # The gateway's consumer reads LinkUsed (link state) and skips LinkOpened (an access record).
                      ("loginless-gateway", "process loginless.links.LinkUsed.v1")}

            async def whole_trace() -> bool:
                return wanted <= receiver.of_trace(trace_id)

            await eventually(whole_trace, timeout=60, interval=0.2, message="every span of the guest's trace")
        finally:
            for process in processes:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                await asyncio.wait_for(process.wait(), 30)

    connection = await asyncpg.connect(database_url)
    try:
        stored = await connection.fetchval(
            f'SELECT message_value FROM "links_traces_{run}".outbox'
            " WHERE convert_from(message_value, 'UTF8') LIKE $1", "%LinkOpened%")
        for schema in (f"links_traces_{run}", f"gateway_traces_{run}"):
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()
    event = json.loads(bytes(stored))
    assert event["traceparent"].startswith(f"00-{trace_id}-") and event["causationid"]
    links_log = (tmp_path / "links-api.log").read_text()
    assert f'"trace_id":"{trace_id}"' in links_log.replace(" ", "")  # the api's log lines of that request
