"""Opening a link at /l/{token}: 404 for what never was, 410 for what was, a cookie and a token-free URL otherwise."""

import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from loginless.links.views import ClientIn
from loginless.shared.branding import Branding
from loginless.testkit.fake_services import serve

from ..conftest import TENANT

pytestmark = pytest.mark.integration

PROMISED_HEADERS = {
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-robots-tag": "noindex, nofollow",
    "x-content-type-options": "nosniff",
}


def assert_promised_headers(response) -> None:
    for name, value in PROMISED_HEADERS.items():
        assert response.headers.get(name) == value, (response.url, name)
    assert "default-src 'self'" in response.headers["content-security-policy"], response.url
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"], response.url


def firm(gateway) -> Branding:
    return gateway.links.tenants[TENANT]


async def test_malformed_and_unknown_tokens_get_the_very_same_404_page(gateway):
    unknown = secrets.token_urlsafe(32)  # well-formed, but no link has it
    async with gateway.client() as http:
        pages = [await http.get(f"/l/{token}") for token in (unknown, "short", "not/a/token", unknown + "x")]
    assert [page.status_code for page in pages] == [404] * 4
    assert len({page.text for page in pages}) == 1
    assert pages[0].headers["content-type"].startswith("text/html")
    assert "This link doesn't work" in pages[0].text
    assert firm(gateway).name not in pages[0].text  # it reveals nothing about whose link it might have been
    for page in pages:
        assert_promised_headers(page)


async def test_the_404_page_speaks_spanish_when_the_browser_prefers_it_and_offers_a_switch(gateway):
    async with gateway.client() as http:
        spanish = await http.get("/l/short", headers={"accept-language": "es-ES,es;q=0.9,en;q=0.5"})
        english = await http.get("/l/short?lang=en", headers={"accept-language": "es"})
    assert '<html lang="es">' in spanish.text and "Este enlace no funciona" in spanish.text
    assert 'href="?lang=en"' in spanish.text and 'href="?lang=es"' in spanish.text
    assert '<html lang="en">' in english.text and "This link doesn't work" in english.text
    assert "loginless_lang=en" in english.headers["set-cookie"]  # the switcher's choice is remembered


@pytest.mark.parametrize(("state", "language", "expected"), [
    ("expired", "en", "This link has expired."),
    ("expired", "es", "Este enlace ha caducado."),
    ("revoked", "en", "Acme Tax Advisors has withdrawn this link."),
    ("revoked", "es", "Acme Tax Advisors ha retirado este enlace."),
    ("used_up", "en", "This link has already been used as many times as it allows."),
    ("used_up", "es", "Este enlace ya se ha usado todas las veces que permite."),
])
async def test_a_link_that_no_longer_works_gets_a_410_page_naming_the_firm_and_how_to_reach_it(
    gateway, state, language, expected,
):
    token, link = gateway.links.add_link(max_uses=1, expires_in=timedelta(hours=1))
    if state == "expired":
        gateway.links.clock.advance(hours=1)
    elif state == "revoked":
        await gateway.links.revoke(TENANT, link.link_id)
    else:
        await gateway.links.use(link.link_id, ClientIn())
    async with gateway.client() as http:
        page = await http.get(f"/l/{token}", headers={"accept-language": language})
    assert page.status_code == 410
    assert expected in page.text
    assert f'<html lang="{language}">' in page.text
    assert firm(gateway).name in page.text
    assert f'href="mailto:{firm(gateway).contact_email}"' in page.text
    assert token not in page.text
    assert_promised_headers(page)


async def test_a_valid_link_swaps_its_token_for_a_link_scoped_cookie_and_moves_on_to_a_token_free_url(gateway):
    token, link = gateway.links.add_link(action="view", expires_in=timedelta(hours=2))
    async with gateway.client() as http:
        entering = await http.get(f"/l/{token}")
        landing = await http.get(f"/g/{link.link_id}/")
    # 200 with a same-site move on, not a redirect: a click in a mail client would not carry the Strict cookie.
    assert entering.status_code == 200
    target = f"/g/{link.link_id}/"
    assert f'<meta http-equiv="refresh" content="0; url={target}">' in entering.text
    assert f'href="{target}"' in entering.text
    assert token not in entering.text and token not in str(entering.headers)
    cookie = entering.headers["set-cookie"]
    attributes = [attribute.strip().lower() for attribute in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert f"path=/g/{link.link_id}/" in attributes
    assert "secure" not in attributes  # the public URL is plain http here
    max_age = int(next(a for a in attributes if a.startswith("max-age=")).split("=")[1])
    assert max_age == gateway.settings.guest_session_max_seconds  # may outlive the link, whose state ends access
    assert [call for call in gateway.links.calls if call[1] == link.link_id] == [
        ("resolve", link.link_id), ("record_opened", link.link_id), ("use", link.link_id)]
    assert landing.status_code == 200
    echoed = landing.json()
    assert (echoed["audience"], echoed["path"]) == ("documents", "/guest/")
    assert echoed["assertion"]["resource_id"] == link.resource_id
    assert_promised_headers(landing)


async def test_a_link_with_a_use_limit_waits_for_a_click_so_a_mail_scanner_cannot_use_it_up(gateway):
    token, link = gateway.links.add_link(action="sign", max_uses=1, language="es")
    async with gateway.client() as http:
        scanned = await http.get(f"/l/{token}", headers={"accept-language": "en"})  # a mail scanner, first
        opened = await http.get(f"/l/{token}", headers={"accept-language": "en"})  # the recipient
        assert gateway.links.state_of(link.link_id).uses == 0
        clicked = await http.post(f"/l/{token}")
        landing = await http.get(clicked.headers["location"])
        clicked_again = await http.post(f"/l/{token}")
    for page in (scanned, opened):
        assert page.status_code == 200
        assert "set-cookie" not in page.headers  # nothing to enter with: no cookie before the click
        assert '<form method="post"' in page.text and "/g/" not in page.text
        assert firm(gateway).name in page.text
        assert_promised_headers(page)
    # In the language the firm gave the recipient, whatever the browser prefers.
    assert "Puede abrirse 1 vez más." in opened.text and '<html lang="es">' in opened.text
    assert (clicked.status_code, clicked.headers["location"]) == (303, f"/g/{link.link_id}/")
    attributes = [attribute.strip().lower() for attribute in clicked.headers["set-cookie"].split(";")]
    assert {"httponly", "samesite=strict", f"path=/g/{link.link_id}/"} <= set(attributes)
    assert_promised_headers(clicked)
    assert landing.status_code == 200 and landing.json()["assertion"]["action"] == "sign"
    # Opened twice (each visit is an opening), used once: by the click.
    assert [call[0] for call in gateway.links.calls if call[1] == link.link_id] == [
        "resolve", "record_opened", "resolve", "record_opened", "resolve", "use", "resolve"]
    assert gateway.links.state_of(link.link_id).uses == 1
    # links refuses the used-up link; the read model still knows whose language to answer in.
    assert clicked_again.status_code == 410 and "todas las veces que permite" in clicked_again.text


async def test_a_click_with_a_bad_token_is_refused_like_a_visit(gateway):
    """Bad inputs tried: a malformed token, a well-formed unknown one, a revoked link's."""
    revoked_token, revoked = gateway.links.add_link(max_uses=3)
    await gateway.links.revoke(TENANT, revoked.link_id)
    async with gateway.client() as http:
        malformed = await http.post("/l/not-a-token")
        unknown = await http.post(f"/l/{secrets.token_urlsafe(32)}")
        withdrawn = await http.post(f"/l/{revoked_token}")
    assert (malformed.status_code, unknown.status_code, withdrawn.status_code) == (404, 404, 410)
    assert malformed.text == unknown.text
    assert all("set-cookie" not in page.headers for page in (malformed, unknown, withdrawn))
    assert gateway.links.state_of(revoked.link_id).uses == 0


async def test_the_cookie_is_secure_when_the_public_url_is_https(start_gateway):
    async with start_gateway(public_url="https://guests.example.com") as gateway:
        token, _ = gateway.links.add_link()
        async with gateway.client() as http:
            entering = await http.get(f"/l/{token}")
    assert "secure" in [attribute.strip().lower() for attribute in entering.headers["set-cookie"].split(";")]


async def test_each_action_goes_to_its_own_service(gateway):
    async with gateway.client() as http:
        for action, service in [("view", "documents"), ("upload", "documents"), ("sign", "signing"),
                                ("pay", "payments"), ("request", "requests")]:
            token, link = gateway.links.add_link(action=action)
            cookie = await gateway.enter(http, token)
            page = await http.get(f"/g/{link.link_id}/start", headers={"cookie": cookie})
            assert page.status_code == 200
            assert (page.json()["audience"], page.json()["assertion"]["action"]) == (service, action)


async def test_the_guests_language_choice_reaches_the_service_and_is_remembered_from_its_pages_too(gateway):
    token, link = gateway.links.add_link(language="en")
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        untouched = await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie, "accept-language": "de"})
        # The switcher on the service's own page: the gateway passes the choice on and remembers it.
        switched = await http.get(f"/g/{link.link_id}/?lang=es", headers={
            "cookie": cookie, "accept-language": "de", "x-loginless-language": "en"})  # a guest cannot send it
        remembered = await http.get(f"/g/{link.link_id}/next", headers={"cookie": f"{cookie}; loginless_lang=es"})
        forged = await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie, "x-loginless-language": "es"})
    assert "x-loginless-language" not in untouched.json()["headers"]
    assert "x-loginless-language" not in forged.json()["headers"]  # only the gateway says what the guest chose
    assert untouched.json()["headers"]["accept-language"] == "de"  # the browser's own preference, as sent
    assert switched.json()["headers"]["x-loginless-language"] == "es"
    assert switched.json()["query"] == "lang=es"
    assert switched.headers["set-cookie"] == "loginless_lang=es; HttpOnly; Max-Age=31536000; Path=/; SameSite=lax"
    assert remembered.json()["headers"]["x-loginless-language"] == "es"
    assert "set-cookie" not in remembered.headers


async def test_link_a_cookie_never_opens_link_b(gateway):
    token_a, link_a = gateway.links.add_link(resource_id="doc_A")
    _, link_b = gateway.links.add_link(resource_id="doc_B")
    async with gateway.client() as http:
        cookie_a = await gateway.enter(http, token_a)
        http.cookies.clear()
        own = await http.get(f"/g/{link_a.link_id}/", headers={"cookie": cookie_a})
        other = await http.get(f"/g/{link_b.link_id}/", headers={"cookie": cookie_a})
        other_deeper = await http.get(f"/g/{link_b.link_id}/documents/doc_A", headers={"cookie": cookie_a})
    assert own.status_code == 200 and own.json()["assertion"]["resource_id"] == "doc_A"
    assert (other.status_code, other_deeper.status_code) == (403, 403)
    assert "Open your link first" in other.text
    assert_promised_headers(other)


@pytest.mark.parametrize("cookie", [
    None,
    "loginless_link=",
    "loginless_link=garbage",
    "tamper",
])
async def test_a_missing_or_tampered_cookie_is_refused(gateway, cookie):
    token, link = gateway.links.add_link()
    async with gateway.client() as http:
        genuine = await gateway.enter(http, token)
        http.cookies.clear()
        if cookie == "tamper":  # change one character inside the signature (the last one has bits base64 ignores)
            cookie = genuine[:-10] + ("A" if genuine[-10] != "A" else "B") + genuine[-9:]
        page = await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie} if cookie else {})
    assert page.status_code == 403
    assert "Open your link first" in page.text


CROSS_SITE_PAGE_LOAD = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}


async def test_a_guest_sent_back_from_another_site_gets_a_same_site_step_on_which_their_cookie_goes_along(gateway):
    """A payment provider's page sends the guest back to a token-free address; the browser withholds the
    SameSite=Strict cookie from that cross-site load, so the gateway answers with a step to the same address."""
    token, link = gateway.links.add_link()
    address = f"/g/{link.link_id}/pay?payment=pay_1&state=a%26b"
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        http.cookies.clear()
        returning = await http.get(address, headers=CROSS_SITE_PAGE_LOAD)
        same_site = await http.get(address, headers={**CROSS_SITE_PAGE_LOAD, "sec-fetch-site": "same-origin"})
        posted_from_elsewhere = await http.post(address, headers=CROSS_SITE_PAGE_LOAD)
        fetched_from_elsewhere = await http.get(address, headers={**CROSS_SITE_PAGE_LOAD, "sec-fetch-mode": "cors",
                                                                   "sec-fetch-dest": "empty"})
        with_the_cookie = await http.get(address, headers={**CROSS_SITE_PAGE_LOAD, "cookie": cookie})
    assert returning.status_code == 200
    assert f'content="0; url={address.replace("&", "&amp;")}"' in returning.text
    assert "set-cookie" not in returning.headers  # the step grants nothing by itself
    assert_promised_headers(returning)
    # The step's own same-site load without a cookie, and anything but a page load from elsewhere: refused as ever.
    assert [same_site.status_code, posted_from_elsewhere.status_code, fetched_from_elsewhere.status_code] == [403] * 3
    assert with_the_cookie.status_code == 200 and with_the_cookie.json()["path"].endswith("/pay")


async def test_editing_the_path_cannot_reach_another_resource(gateway):
    token, link = gateway.links.add_link(resource_id="doc_A")
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        edited = await http.get(f"/g/{link.link_id}/documents/doc_B/download?resource_id=doc_B",
                                headers={"cookie": cookie})
        climbing = [await http.get(f"/g/{link.link_id}/{path}", headers={"cookie": cookie})
                    for path in ("%2e%2e/internal/v1/links", "a/%2E%2E/%2e%2e/x", "%2e/x")]
    assert edited.status_code == 200
    assert edited.json()["path"] == "/guest/documents/doc_B/download"
    assert edited.json()["assertion"]["resource_id"] == "doc_A"  # the service decides from this, not the path
    assert [page.status_code for page in climbing] == [404, 404, 404]


async def test_the_link_root_without_a_slash_is_sent_where_its_cookie_applies(gateway):
    async with gateway.client() as http:
        response = await http.get("/g/lnk_x?step=2")
    assert response.status_code == 308
    assert response.headers["location"] == "/g/lnk_x/?step=2"


async def test_a_service_cannot_set_cookies_and_its_redirects_stay_under_the_link(gateway):
    token, link = gateway.links.add_link()
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        response = await http.get(f"/g/{link.link_id}/redirect", headers={"cookie": cookie})
    assert response.status_code == 303
    assert response.headers["location"] == f"/g/{link.link_id}/after?x=1"
    assert "set-cookie" not in response.headers
    assert "sandbox" in response.headers.get_list("content-security-policy")  # the service's stricter policy stays
    assert_promised_headers(response)


async def test_a_link_the_read_model_has_not_seen_is_asked_of_links_and_remembered(gateway):
    _, link = gateway.links.add_link(resource_id="doc_new")
    assert await gateway.link_states.get(link.link_id) is None
    async with gateway.client() as http:
        page = await http.get(f"/g/{link.link_id}/", headers={"cookie": gateway.cookie_for(link.link_id)})
    assert page.status_code == 200 and page.json()["assertion"]["resource_id"] == "doc_new"
    assert ("get", link.link_id) in gateway.links.calls
    remembered = await gateway.link_states.get(link.link_id)
    assert remembered is not None and remembered.resource_id == "doc_new"


async def test_a_revocation_in_the_read_model_turns_the_guest_away_with_410_on_every_later_request(gateway):
    token, link = gateway.links.add_link()
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        assert (await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie})).status_code == 200
        state = await gateway.link_states.get(link.link_id)
        await gateway.link_states.merge(type(state)(link_id=link.link_id, tenant_id=link.tenant_id,
                                                    revoked_at=datetime.now(UTC)))
        page = await http.get(f"/g/{link.link_id}/anything?lang=es", headers={"cookie": cookie})
        # The page's assets, then a reload: each gets the explanation, not an "access denied" for a lost cookie.
        later = [await http.get(f"/g/{link.link_id}/{path}", headers={"cookie": cookie}) for path in ("app.js", "")]
    assert page.status_code == 410
    assert "Acme Tax Advisors ha retirado este enlace." in page.text
    assert page.headers.get_list("set-cookie") == [  # the guest's link cookie stays; the language is remembered
        "loginless_lang=es; HttpOnly; Max-Age=31536000; Path=/; SameSite=lax"]
    assert [response.status_code for response in later] == [410, 410]


async def test_an_expired_link_turns_the_guest_away_with_its_date(gateway):
    gateway.links.clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    _, link = gateway.links.add_link(expires_at=datetime(2026, 3, 9, 10, 0, tzinfo=UTC))
    gateway.links.clock.now = datetime.now(UTC)
    async with gateway.client() as http:
        page = await http.get(f"/g/{link.link_id}/", headers={"cookie": gateway.cookie_for(link.link_id)})
    assert page.status_code == 410
    assert "This link expired on March 9, 2026." in page.text


async def test_links_down_gives_a_friendly_503_page(start_gateway):
    async with start_gateway() as gateway:
        token, link = gateway.links.add_link()
        gateway.links.unavailable = True
        async with gateway.client() as http:
            opening = await http.get(f"/l/{token}")
            guest_page = await http.get(f"/g/{link.link_id}/", headers={"cookie": gateway.cookie_for(link.link_id)})
    for page in (opening, guest_page):
        assert page.status_code == 503
        assert page.headers["retry-after"] == "30"
        assert "We can't open this right now" in page.text
        assert_promised_headers(page)


async def test_a_service_down_gives_a_friendly_503_page(start_gateway):
    async with start_gateway(service_url="http://127.0.0.1:9") as gateway:
        token, link = gateway.links.add_link()
        async with gateway.client() as http:
            cookie = await gateway.enter(http, token)
            page = await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie})
    assert page.status_code == 503
    assert "We can't open this right now" in page.text


async def test_every_kind_of_gateway_response_carries_the_promised_headers(gateway):
    async with gateway.client() as http:
        responses = [
            await http.get("/robots.txt"),
            await http.get("/health/live"),
            await http.get("/health/ready"),
            await http.get("/no/such/route"),
            await http.delete("/l/anything"),  # 405
            await http.get("/_gateway/static/gateway.css"),
            await http.get("/_gateway/brand/0a7c52.css"),
            await http.get("/g/lnk_x/"),  # 403 page
        ]
    assert [response.status_code for response in responses] == [200, 200, 200, 404, 405, 200, 200, 403]
    for response in responses:
        assert_promised_headers(response)


async def test_robots_are_told_to_stay_out_of_link_urls(gateway):
    async with gateway.client() as http:
        robots = await http.get("/robots.txt")
    assert robots.headers["content-type"].startswith("text/plain")
    assert robots.text.startswith("User-agent: *\nDisallow: /l/\n")


async def test_pages_load_nothing_inline_and_nothing_but_their_own_stylesheets(gateway):
    token, _ = gateway.links.add_link()
    async with gateway.client() as http:
        page = await http.get(f"/l/{token}")
        stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page.text)
        brand = await http.get("/_gateway/brand/0a7c52.css")
    assert "<script" not in page.text and "style=" not in page.text and "<style" not in page.text
    assert stylesheets == ["/_gateway/static/guest.css", "/_gateway/brand/0a7c52.css"]
    assert brand.headers["content-type"].startswith("text/css")
    assert brand.text == ":root { --brand: #0a7c52; --brand-text: #ffffff; }\n"


async def test_an_unsubscribe_link_is_passed_to_notifications_as_it_came_and_answered_with_the_promised_headers(
        start_gateway):
    seen: list[tuple[str, str, bytes]] = []

    async def notifications(scope, receive, send) -> None:  # what notifications' unsubscribe page does
        if scope["type"] != "http":
            return
        body = (await receive()).get("body", b"")
        seen.append((scope["method"], scope["path"], body))
        status = 404 if scope["path"].endswith(".forged") else 200
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")]})
        await send({"type": "http.response.body", "body": b"<p>done</p>" if status == 200 else b"<p>not valid</p>"})

    async with serve(notifications) as notifications_url, start_gateway(notifications_url=notifications_url) as gw:
        async with gw.client() as http:
            shown = await http.get("/unsubscribe/abc.def")
            done = await http.post("/unsubscribe/abc.def", content=b"List-Unsubscribe=One-Click",
                                   headers={"content-type": "application/x-www-form-urlencoded"})
            forged = await http.post("/unsubscribe/abc.forged")
            too_big = await http.post("/unsubscribe/abc.def", content=b"x" * 10_000)
            not_tokens = [await http.get(f"/unsubscribe/{path}") for path in ("%2e%2e", "abc", "a%2fb.c", "..")]

    assert [r.status_code for r in (shown, done, forged, too_big)] == [200, 200, 404, 413]
    assert [r.status_code for r in not_tokens] == [404] * 4  # refused here: never another path at notifications
    assert seen == [("GET", "/unsubscribe/abc.def", b""),
                    ("POST", "/unsubscribe/abc.def", b"List-Unsubscribe=One-Click"),
                    ("POST", "/unsubscribe/abc.forged", b"")]
    for response in (shown, done, forged):
        assert_promised_headers(response)
    async with start_gateway(notifications_url="http://127.0.0.1:9") as gw, gw.client() as http:
        unreachable = await http.post("/unsubscribe/abc.def")
    assert unreachable.status_code == 503 and "We can't open this right now" in unreachable.text
