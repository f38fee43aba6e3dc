"""Invalid-token attempts are limited per address and counted; no token ever reaches a log line or a metric."""

import asyncio
import json
import os
import secrets
import sys
from collections import Counter

import httpx
import pytest

from loginless.gateway.bootstrap import create_app
from loginless.links.views import ClientIn, IssueLinksIn, RecipientIn
from loginless.testkit.fake_services import GuestEchoService, serve
from loginless.testkit.links_service import links_settings, served_links
from loginless.testkit.network import free_port
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration

SCANNER = {"x-forwarded-for": "198.51.100.66"}
NEIGHBOUR = {"x-forwarded-for": "198.51.100.77"}


async def test_only_invalid_tokens_are_refused_past_the_limit_and_the_limit_releases_after_the_window(start_gateway):
    async with start_gateway(invalid_token_limit=3, invalid_token_window_seconds=600,
                             trusted_proxy_hops=1) as gateway:
        token, link = gateway.links.add_link()
        async with gateway.client() as http:
            failures = [await http.get(f"/l/{secrets.token_urlsafe(32)}", headers=SCANNER) for _ in range(2)]
            failures.append(await http.get("/l/malformed", headers=SCANNER))
            limited_unknown = await http.get(f"/l/{secrets.token_urlsafe(32)}", headers=SCANNER)
            limited_malformed = await http.get("/l/malformed", headers=SCANNER)
            valid_from_the_same_address = await http.get(f"/l/{token}", headers=SCANNER)
            neighbour_unknown = await http.get(f"/l/{secrets.token_urlsafe(32)}", headers=NEIGHBOUR)

            gateway.monotonic.advance(559)
            still_limited = await http.get(f"/l/{secrets.token_urlsafe(32)}", headers=SCANNER)
            gateway.monotonic.advance(2)
            released = await http.get(f"/l/{secrets.token_urlsafe(32)}", headers=SCANNER)
            metrics = (await http.get("/metrics")).text

    assert [failure.status_code for failure in failures] == [404, 404, 404]
    assert (limited_unknown.status_code, limited_malformed.status_code) == (429, 429)
    # The clock stands at 10,000 s: the first failure's bucket (a tenth of the window) leaves the window 560 s later.
    assert limited_unknown.headers["retry-after"] == "560"
    assert "Please try again in 10 minutes." in limited_unknown.text
    assert valid_from_the_same_address.status_code == 200  # only failures are ever refused
    assert ("use", link.link_id) in gateway.links.calls
    assert neighbour_unknown.status_code == 404  # one client's failures never count against another
    assert still_limited.status_code == 429 and still_limited.headers["retry-after"] == "1"
    assert released.status_code == 404
    assert 'loginless_gateway_invalid_token_attempts_total{reason="unknown"}' in metrics
    assert 'loginless_gateway_invalid_token_attempts_total{reason="malformed"}' in metrics
    assert "loginless_gateway_rate_limited_total" in metrics
    assert token not in metrics


@pytest.mark.timeout(600)  # 10,000 requests: about 20 s on an idle two-core machine, minutes on a busy one
async def test_after_ten_thousand_unknown_tokens_from_one_address_its_valid_link_opens_on_another_replica(
        start_gateway):
    """Two replicas on one database: the failures one counted, the other refuses (the limit is shared, not
    per process); and neither ever refuses the valid link, whatever the address did."""
    # Quiet: 10,000 lines of "invalid link token" would only slow it down on a busy machine.
    async with start_gateway(invalid_token_limit=20, trusted_proxy_hops=1, log_level="WARNING") as first:
        second_app = create_app(first.settings, rate_limit_clock=first.monotonic, links=first.links)
        token, link = first.links.add_link()
        async with serve(second_app) as second_url, httpx.AsyncClient(base_url=second_url, timeout=30) as other_replica:
            answers: Counter[int] = Counter()
            port = int(first.url.rsplit(":", 1)[1])
            for statuses in await asyncio.gather(*(scan(port, 2_500) for _ in range(4))):
                answers.update(statuses)  # 10,000 unknown tokens, on the first replica
            refused_elsewhere = await other_replica.get(f"/l/{secrets.token_urlsafe(32)}", headers=SCANNER)
            entered = await other_replica.get(f"/l/{token}", headers=SCANNER)
            landed = await other_replica.get(f"/g/{link.link_id}/", headers={
                **SCANNER, "cookie": entered.headers["set-cookie"].split(";")[0]})
    assert answers == {404: 20, 429: 10_000 - 20}  # the limit: 20
    assert refused_elsewhere.status_code == 429  # counted once, for every replica
    assert entered.status_code == 200
    assert landed.status_code == 200


async def scan(port: int, count: int) -> Counter[int]:
    """``count`` requests for unknown tokens, one after another on one kept-alive connection, as a scanner would
    send them; the status of each answer. Plain HTTP/1.1 on a socket: httpx would spend more CPU than the gateway."""
    statuses: Counter[int] = Counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            writer.write(f"GET /l/{secrets.token_urlsafe(32)} HTTP/1.1\r\nHost: gateway\r\n"
                         f"X-Forwarded-For: {SCANNER['x-forwarded-for']}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            length = next(int(line.split(":", 1)[1]) for line in header_lines
                          if line.lower().startswith("content-length:"))
            await reader.readexactly(length)
            statuses[int(status_line.split()[1])] += 1
    finally:
        writer.close()
    return statuses


async def test_no_token_appears_in_the_logs_or_metrics(database_url, kafka_bootstrap_servers, assertion_keys,
                                                       tmp_path):
    """The real process (``python -m loginless.gateway api``), so its logs are exactly what production writes; a
    process of its own reaches links over HTTP, so the real links service answers it."""
    private_key, public_key = assertion_keys
    unknown = secrets.token_urlsafe(32)
    log_file = tmp_path / "gateway.log"
    port = free_port()
    own_links = links_settings(database_url, kafka_bootstrap_servers, internal_secret="internal-secret")
    async with served_links(own_links) as links, serve(GuestEchoService(public_key).app()) as echo_url:
        tenant_id, _ = await links.add_tenant("Acme Tax Advisors")
        request = IssueLinksIn(action="view", resource_id="doc-1", recipients=[RecipientIn(email="a@example.test")])
        [link] = (await links.client.issue(tenant_id, request)).links
        [one_time] = (await links.client.issue(tenant_id, request.model_copy(update={"max_uses": 1}))).links
        await links.client.use(one_time.link_id, ClientIn())
        valid, used_up = (issued.url.rsplit("/l/", 1)[1] for issued in (link, one_time))
        tokens = [valid, used_up, unknown, "malformed-token"]
        environment = {
            **os.environ, "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers, "GATEWAY_HTTP_PORT": str(port),
            "GATEWAY_LINKS_URL": links.url, "GATEWAY_LOG_LEVEL": "DEBUG",
            "GATEWAY_INTERNAL_API_SECRET": "internal-secret", "GATEWAY_ASSERTION_PRIVATE_KEY": private_key,
            "GATEWAY_COOKIE_SECRET": "cookie-secret-for-the-log-test-0123",
            "GATEWAY_ROUTES": json.dumps({action: {"service": "documents", "url": f"{echo_url}/documents"}
                                          for action in ("view", "upload", "sign", "pay", "request")}),
        }
        with log_file.open("wb") as output:
            process = await asyncio.create_subprocess_exec(sys.executable, "-m", "loginless.gateway", "api",
                                                           env=environment, stdout=output, stderr=output)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                await eventually(lambda: _is_live(http), timeout=60, message="the gateway process is up")
                for token in tokens:
                    await http.get(f"/l/{token}")
                    await http.post(f"/l/{token}")  # 405 from the router, which logs the path of errors
                await http.get(f"/l/{unknown}/with/more")
                # Tokens where no token belongs: in a /g/ path, behind dot segments, in a query string.
                await http.get(f"/g/{valid}/")
                await http.get(f"/g/lnk_nobody/../../l/{used_up}")
                await http.get(f"/g/lnk_nobody/?token={valid}")
                await http.get(f"/nowhere/{unknown}")
                cookie = (await http.get(f"/l/{valid}")).headers.get("set-cookie", "")
                proxied = await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie.split(";")[0],
                                                                         "x-request-id": "guest-page-1"})
                metrics = (await http.get("/metrics")).text
        finally:
            process.terminate()
            await process.wait()
    logs = log_file.read_text()
    assert link.link_id in logs  # the capture works, and the link id is what gets logged
    assert "/l/redacted" in logs
    # The proxied request took the fast lane: one line of its own, its metric, its request id passed back.
    assert proxied.status_code == 200 and proxied.headers["x-request-id"] == "guest-page-1"
    [proxied_line] = [json.loads(line) for line in logs.splitlines() if "guest request proxied" in line]
    assert (proxied_line["link_id"], proxied_line["status_code"], proxied_line["request_id"]) == (
        link.link_id, 200, "guest-page-1")
    assert 'loginless_gateway_proxied_requests_total{service="documents",status="200"} 1.0' in metrics
    for token in tokens:
        assert token not in logs
        assert token not in metrics


async def _is_live(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/health/live")).status_code == 200
    except httpx.TransportError:
        return False
