"""The gateway behind Debian's nginx with the shipped configuration (deploy/nginx): nginx must do to requests and
responses everything the gateway's own proxy does. A real gateway on real PostgreSQL, a small owning service that
shows what reached it, and nginx started from ``loginless.devstack.nginx.render_config``.

Bad inputs tried: headers a guest may not send (a forged assertion, prefix, language, device proof, Authorization,
X-Forwarded-*), a request without a cookie right after an admitted one (the cached answer must not serve it), a
service's Set-Cookie and security headers, a service that cannot be reached.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from litestar import Litestar, Request, Response, route
from litestar.params import FromPath

from loginless.devstack.nginx import nginx_command, render_config
from loginless.shared.web.assertion import ASSERTION_HEADER, AssertionVerifier
from loginless.testkit.fake_services import serve
from loginless.testkit.network import free_port

from ..conftest import SERVICES

pytestmark = pytest.mark.integration

FORGED = {"x-loginless-assertion": "forged.assertion.value", "x-forwarded-prefix": "/elsewhere",
          "x-loginless-language": "es", "x-loginless-device-proven": "1", "authorization": "Bearer guest",
          "x-forwarded-for": "198.51.100.7", "x-forwarded-host": "evil.example", "forwarded": "for=198.51.100.7"}


def owning_service(public_key: str) -> Litestar:
    """Guest pages at ``/{service}/guest/...``: each answer shows what arrived, and misbehaves as asked."""

    @route(["/{service:str}/guest", "/{service:str}/guest/{path:path}"], http_method=["GET", "POST"],
           status_code=200)
    async def page(request: Request, service: FromPath[str]) -> Response:
        assertion = AssertionVerifier(public_key, audience=service).verify(request.headers.get(ASSERTION_HEADER))
        headers = {"set-cookie": "service_session=1; Path=/", "referrer-policy": "unsafe-url",
                   "cache-control": "public, max-age=3600", "content-security-policy": "sandbox"}
        if request.url.path.endswith("/answers"):  # the browser gave the link's first answers
            headers["x-loginless-device-proven"] = "1"
        if request.url.path.endswith("/next"):
            return Response(None, status_code=303, headers={**headers, "location": "/guest/done?step=2"})
        return Response({"resource_id": assertion.resource_id, "path": request.scope["raw_path"].decode(),
                         "query": request.url.query, "headers": dict(request.headers),
                         "body": (await request.body()).decode()}, headers=headers)

    return Litestar([page])


@asynccontextmanager
async def nginx_in_front(tmp_path, gateway_url: str, service_urls: dict[str, str]) -> AsyncIterator[str]:
    port = free_port()
    config = render_config(tmp_path / "nginx", listen_port=port, gateway_url=gateway_url,
                           service_urls=service_urls)
    errors = open(tmp_path / "nginx-errors.log", "wb")  # noqa: SIM115 -- closed with the process
    process = subprocess.Popen(nginx_command(config), stdout=subprocess.DEVNULL, stderr=errors)
    try:
        for _ in range(500):
            if process.poll() is not None:
                raise RuntimeError(f"nginx stopped: {(tmp_path / 'nginx-errors.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        errors.close()
        print((tmp_path / "nginx-errors.log").read_text())  # shown when a test fails


@pytest.fixture
async def behind_nginx(start_gateway, assertion_keys, tmp_path):
    _, public_key = assertion_keys
    unreachable = f"http://127.0.0.1:{free_port()}"
    async with serve(owning_service(public_key)) as service_url:
        routes = {action: {"service": service, "url": f"{service_url}/{service}"}
                  for action, service in SERVICES.items()}
        routes["pay"] = {"service": "payments", "url": f"{unreachable}/payments"}  # a service that is down
        async with start_gateway(forward_auth_enabled=True, routes=routes) as gateway:
            upstreams = {service: service_url for service in SERVICES.values()} | {"payments": unreachable}
            async with nginx_in_front(tmp_path, gateway.url, upstreams) as nginx_url:
                yield gateway, nginx_url


async def test_the_service_gets_what_the_gateway_vouches_for_and_nothing_the_guest_forged(behind_nginx):
    gateway, nginx_url = behind_nginx
    token, link = gateway.links.add_link(action="view")
    async with httpx.AsyncClient(base_url=nginx_url, timeout=30) as http:
        cookie = await gateway.enter(http, token)  # /l/{token} is the gateway's, through nginx
        answer = await http.post(f"/g/{link.link_id}/files/a%20b?lang=es&x=1", content=b"the guest's body",
                                 headers={"cookie": cookie, **FORGED})
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert seen["resource_id"] == link.resource_id  # the service verified the gateway's assertion, not the forged one
    assert (seen["path"], seen["query"], seen["body"]) == ("/documents/guest/files/a%20b", "lang=es&x=1",
                                                           "the guest's body")
    headers = seen["headers"]
    assert "cookie" not in headers and "authorization" not in headers and "forwarded" not in headers
    assert "x-loginless-device-proven" not in headers
    assert headers["x-forwarded-prefix"] == f"/g/{link.link_id}"
    assert headers["x-loginless-language"] == "es"  # the guest's choice, as the gateway passed it on
    assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-forwarded-host"] != "evil.example"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    assert answer.headers["x-request-id"] == headers["x-request-id"]
    # The service's cookie and weaker headers never reach the guest; the language switch is remembered.
    cookies = answer.headers.get_list("set-cookie")
    assert not any(cookie.startswith("service_session") for cookie in cookies)
    assert any(cookie.startswith("loginless_lang=es") for cookie in cookies)
    assert not any(cookie.startswith("loginless_device") for cookie in cookies)  # the service did not say so
    assert (answer.headers["referrer-policy"], answer.headers["cache-control"]) == ("no-referrer", "no-store")
    assert (answer.headers["x-robots-tag"], answer.headers["x-content-type-options"]) == ("noindex, nofollow",
                                                                                          "nosniff")
    policies = answer.headers.get_list("content-security-policy")
    assert "sandbox" in policies and any("default-src 'self'" in policy for policy in policies)


async def test_redirects_come_back_under_the_link_and_the_device_proof_follows_the_services_word(behind_nginx):
    gateway, nginx_url = behind_nginx
    token, link = gateway.links.add_link(action="request")
    async with httpx.AsyncClient(base_url=nginx_url, timeout=30) as http:
        cookie = await gateway.enter(http, token)
        moved = await http.get(f"/g/{link.link_id}/next", headers={"cookie": cookie})
        proven = await http.post(f"/g/{link.link_id}/answers", headers={"cookie": cookie})
    assert (moved.status_code, moved.headers["location"]) == (303, f"/g/{link.link_id}/done?step=2")
    assert not any(cookie.startswith("service_session") for cookie in moved.headers.get_list("set-cookie"))
    [device] = [cookie for cookie in proven.headers.get_list("set-cookie") if cookie.startswith("loginless_device=")]
    assert f"Path=/g/{link.link_id}/" in device and "HttpOnly" in device and "SameSite=Strict" in device


async def test_a_cached_answer_never_serves_another_guest(behind_nginx):
    gateway, nginx_url = behind_nginx
    token, link = gateway.links.add_link(action="view")
    _, other = gateway.links.add_link(action="view")
    async with httpx.AsyncClient(base_url=nginx_url, timeout=30) as http:
        cookie = await gateway.enter(http, token)
        admitted = [await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie}) for _ in range(3)]
    async with httpx.AsyncClient(base_url=nginx_url, timeout=30) as strangers:  # no cookie jar of the guest's
        without = await strangers.get(f"/g/{link.link_id}/")
        other_cookie = await strangers.get(f"/g/{link.link_id}/",
                                           headers={"cookie": gateway.cookie_for(other.link_id)})
    assert [answer.status_code for answer in admitted] == [200] * 3
    for refused in (without, other_cookie):  # the gateway's own page, as without nginx
        assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
        assert link.resource_id not in refused.text


async def test_a_service_that_cannot_be_reached_gets_the_gateways_503_page(behind_nginx):
    gateway, nginx_url = behind_nginx
    token, link = gateway.links.add_link(action="pay")
    async with httpx.AsyncClient(base_url=nginx_url, timeout=30) as http:
        cookie = await gateway.enter(http, token)
        answer = await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie})
        posted = await http.post(f"/g/{link.link_id}/pay", content=b"amount=10", headers={"cookie": cookie})
    # A form is never sent a second time: the gateway is asked for the page of the same address instead.
    for page in (answer, posted):
        assert page.status_code == 503 and "text/html" in page.headers["content-type"]
        assert page.headers["retry-after"] == "30"
