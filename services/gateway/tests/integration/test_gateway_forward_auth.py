"""/auth/forward: the gateway's admission asked the way nginx, ingress-nginx, Traefik and Envoy ask it.

Bad inputs tried: no header naming the original request (400), a path outside /g/, a path with dot segments
(plain and percent-encoded), a path whose link id is not the cookie's, a forged cookie, no cookie, a revoked link, a
code-form path, and a guest asking a gateway that has forward-auth switched off.
"""

import time

import pytest

from loginless.gateway.forward_auth import FORWARD_AUTH_DECISIONS
from loginless.gateway.guest_cookie import Grant
from loginless.gateway.read_model import LinkFacts
from loginless.shared.web.assertion import AssertionVerifier

from ..conftest import TENANT

pytestmark = pytest.mark.integration

PROMISED_HEADERS = {"referrer-policy": "no-referrer", "x-robots-tag": "noindex, nofollow",
                    "x-content-type-options": "nosniff", "x-frame-options": "DENY"}


@pytest.fixture
async def gateway(start_gateway):
    async with start_gateway(forward_auth_enabled=True) as running:
        yield running


def nginx(uri: str, cookie: str | None, method: str = "GET") -> dict[str, str]:
    """An auth subrequest as deploy/nginx/loginless.conf.template makes it."""
    return {"x-original-uri": uri, "x-original-method": method, **({"cookie": cookie} if cookie else {})}


def traefik(uri: str, cookie: str | None, method: str = "GET") -> dict[str, str]:
    return {"x-forwarded-method": method, "x-forwarded-proto": "https", "x-forwarded-host": "guests.example",
            "x-forwarded-uri": uri, "x-forwarded-for": "203.0.113.9", **({"cookie": cookie} if cookie else {})}


def ingress_nginx(uri: str, cookie: str | None, method: str = "GET") -> dict[str, str]:
    return {"x-original-url": f"https://guests.example{uri}", "x-original-method": method,
            "x-sent-from": "nginx-ingress-controller", **({"cookie": cookie} if cookie else {})}


def decisions(outcome: str) -> float:
    return FORWARD_AUTH_DECISIONS.labels(outcome)._value.get()


@pytest.mark.parametrize("shape", [nginx, traefik, ingress_nginx])
async def test_an_admitted_guest_gets_the_assertion_and_where_to_send_the_request(gateway, shape):
    token, link = gateway.links.add_link(action="sign")
    admitted_before = decisions("admitted")
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        asked = time.time()
        answer = await http.get("/auth/forward", headers=shape(f"/g/{link.link_id}/page/2?x=1", cookie, "POST"))
        answered = time.time()
    assert answer.status_code == 200 and answer.content == b""
    assertion = AssertionVerifier(gateway.assertion_public_key, audience="signing").verify(
        answer.headers["x-loginless-assertion"])
    assert (assertion.link_id, assertion.resource_id, assertion.tenant_id) == (link.link_id, link.resource_id, TENANT)
    assert answer.headers["x-loginless-service"] == "signing"
    assert answer.headers["x-loginless-upstream-path"] == "/signing/guest/page/2?x=1"  # the route's path included
    assert answer.headers["x-forwarded-prefix"] == f"/g/{link.link_id}"
    # Cacheable to the end of this second at most: the one-second revocation promise.
    expires = int(answer.headers["x-accel-expires"].removeprefix("@"))
    assert int(asked) + 1 <= expires <= int(answered) + 1  # the end of the second it was given in
    # The device proof the proxy sets only if the service says the browser proved itself.
    device_cookie = answer.headers["x-loginless-device-cookie"]
    assert device_cookie.startswith("loginless_device=") and f"Path=/g/{link.link_id}/" in device_cookie
    for name, value in PROMISED_HEADERS.items():  # the guest's security headers, for the proxy to pass on
        assert answer.headers[name] == value
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert decisions("admitted") == admitted_before + 1


async def test_envoy_asks_with_the_original_path_after_the_prefix(gateway):
    token, link = gateway.links.add_link(action="view")
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        answer = await http.get(f"/auth/forward/g/{link.link_id}/files/a%20b.pdf?download=1",
                                headers={"cookie": cookie})
        elsewhere = await http.get(f"/auth/forward/g/{link.link_id}/%2e%2e/other/", headers={"cookie": cookie})
    assert answer.status_code == 200
    assert answer.headers["x-loginless-upstream-path"] == "/documents/guest/files/a%20b.pdf?download=1"
    assert (elsewhere.status_code, elsewhere.headers["x-loginless-refusal"]) == (403, "not_found")


async def test_the_guests_language_and_a_switch_go_along(gateway):
    token, link = gateway.links.add_link(action="view")
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        switched = await http.get("/auth/forward", headers=nginx(f"/g/{link.link_id}/?lang=es", cookie))
        remembered = await http.get("/auth/forward",
                                    headers=nginx(f"/g/{link.link_id}/", f"{cookie}; loginless_lang=es"))
        forged = await http.get("/auth/forward", headers={**nginx(f"/g/{link.link_id}/", cookie),
                                                          "x-loginless-language": "es"})
    assert switched.headers["x-loginless-language"] == "es"
    assert switched.headers["x-loginless-set-cookie"].startswith("loginless_lang=es")
    assert remembered.headers["x-loginless-language"] == "es" and "x-loginless-set-cookie" not in remembered.headers
    assert "x-loginless-language" not in forged.headers  # a guest's own header is not the gateway's word


async def test_a_browser_already_proven_gets_no_second_device_cookie_and_its_assertion_says_so(gateway):
    token, link = gateway.links.add_link(action="request")
    device = gateway.cookie_for(link.link_id, Grant.DEVICE).replace("loginless_link=", "loginless_device=")
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        answer = await http.get("/auth/forward", headers=nginx(f"/g/{link.link_id}/", f"{cookie}; {device}"))
    assert answer.status_code == 200 and "x-loginless-device-cookie" not in answer.headers
    assertion = AssertionVerifier(gateway.assertion_public_key, audience="requests").verify(
        answer.headers["x-loginless-assertion"])
    assert assertion.device_proven


async def test_refusals_are_401_or_403_with_the_reason_and_never_cached(gateway):
    token, link = gateway.links.add_link(action="view")
    _, other = gateway.links.add_link(action="view")
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        answers = {
            "no_pass": await http.get("/auth/forward", headers=nginx(f"/g/{link.link_id}/", None)),
            "forged": await http.get("/auth/forward", headers=nginx(f"/g/{link.link_id}/",
                                                                    cookie[:-3] + "abc")),
            "another link's cookie": await http.get("/auth/forward", headers=nginx(f"/g/{other.link_id}/", cookie)),
            "dots": await http.get("/auth/forward", headers=nginx(f"/g/{link.link_id}/a/../../{other.link_id}/",
                                                                  cookie)),
            "encoded dots": await http.get("/auth/forward", headers=nginx(f"/g/{link.link_id}/%2e%2e/x", cookie)),
            "outside /g/": await http.get("/auth/forward", headers=nginx("/l/abc", cookie)),
            "code form": await http.get("/auth/forward", headers=nginx(f"/g/{link.link_id}/verify", cookie)),
            "no slash": await http.get("/auth/forward", headers=nginx(f"/g/{link.link_id}", cookie)),
        }
    expected = {"no_pass": (401, "no_pass"), "forged": (401, "no_pass"), "another link's cookie": (401, "no_pass"),
                "dots": (403, "not_found"), "encoded dots": (403, "not_found"), "outside /g/": (403, "not_found"),
                "code form": (403, "gateway_page"), "no slash": (403, "gateway_page")}
    for case, answer in answers.items():
        assert (answer.status_code, answer.headers.get("x-loginless-refusal")) == expected[case], case
        assert answer.headers["x-accel-expires"] == "0", case
        assert "x-loginless-assertion" not in answer.headers, case


async def test_a_revoked_link_is_refused_as_closed(gateway):
    token, link = gateway.links.add_link(action="view")
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        await gateway.links.revoke(TENANT, link.link_id)
        await gateway.link_states.merge(LinkFacts.from_view(await gateway.links.get(link.link_id)))  # the event
        answer = await http.get("/auth/forward", headers=nginx(f"/g/{link.link_id}/", cookie))
    assert (answer.status_code, answer.headers["x-loginless-refusal"]) == (403, "closed")


async def test_with_answer_page_the_refusal_is_the_page_embedded_mode_shows(gateway):
    """For Traefik and Envoy, which hand the auth answer to the guest as it is."""
    token, link = gateway.links.add_link(action="view")
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        unknown = await http.get("/auth/forward/g/nosuchlink/", headers={"cookie": cookie,
                                                                         "x-loginless-answer": "page"})  # Envoy
        no_pass = await http.get("/auth/forward?answer=page", headers=traefik(f"/g/{link.link_id}/", None))
        returning = await http.get("/auth/forward?answer=page", headers={
            **traefik(f"/g/{link.link_id}/", None), "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate",
            "sec-fetch-dest": "document"})
    assert no_pass.status_code == 403 and "text/html" in no_pass.headers["content-type"]
    assert no_pass.headers["x-loginless-refusal"] == "no_pass"
    assert unknown.status_code == 403 and "text/html" in unknown.headers["content-type"]  # no cookie for it
    # The same-site step is a 200 page; a proxy would let a 2xx through, so it comes as 403 (shown all the same).
    assert returning.status_code == 403 and f"/g/{link.link_id}/" in returning.text
    for name, value in PROMISED_HEADERS.items():
        assert no_pass.headers[name] == value


async def test_a_request_that_does_not_say_which_request_it_asks_about_is_a_400_problem(gateway):
    async with gateway.client() as http:
        missing = await http.get("/auth/forward")
        relative = await http.get("/auth/forward", headers={"x-original-uri": "g/abc/"})
    for answer in (missing, relative):
        assert answer.status_code == 400
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == 400


async def test_switched_off_the_endpoint_is_not_there(start_gateway):
    async with start_gateway() as gateway, gateway.client() as http:
        token, link = gateway.links.add_link(action="view")
        cookie = await gateway.enter(http, token)
        answer = await http.get("/auth/forward", headers=nginx(f"/g/{link.link_id}/", cookie))
    assert answer.status_code == 404 and "x-loginless-assertion" not in answer.headers
