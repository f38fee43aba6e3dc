"""Guests through the running gateway, links issued through the links staff API: the guest URL contract and the
capability rules of docs/architecture.md, end to end.

Every token issued here is remembered; the last test checks that none of them reached any process's log.
"""

import os
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from loginless.testkit.guests import DocumentsDesk, Guest, an_invoice
from loginless.testkit.waiting import wait_until

pytestmark = pytest.mark.e2e

ROUTES = {"view": "documents", "upload": "documents", "sign": "signing", "pay": "payments", "request": "requests"}
SECURITY_HEADERS = {
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-robots-tag": "noindex, nofollow",
    "x-content-type-options": "nosniff",
}


@pytest.fixture(scope="module")
def desk(stack_env, firm):
    return DocumentsDesk(stack_env, firm)


@pytest.fixture
def guest(stack_env):
    return Guest(stack_env["GATEWAY_URL"])


def resource_shown(page: httpx.Response) -> str:
    """The invoice a pay page is about."""
    match = re.search(r'data-invoice-id="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match[1]


def test_a_pay_link_reaches_the_payments_page_of_its_invoice_with_a_verified_assertion(firm, guest, stack_env):
    [link] = firm.issue("pay", resource_id=an_invoice(stack_env))
    link_id, landing = guest.enter(link.url)
    assert landing.status_code == 200
    assert link_id == link.link_id
    assert "/l/" not in str(landing.url)  # the guest ends on a token-free URL
    assert resource_shown(landing) == link.resource_id  # only its own service knows the resource
    assert_security_headers(landing)


def test_a_view_link_reaches_the_documents_page_of_its_share(desk, guest):
    link = desk.share(name="e2e-statement.pdf")
    _, landing = guest.enter(link.url)
    assert landing.status_code == 200
    assert "e2e-statement.pdf" in landing.text
    assert_security_headers(landing)
    download = guest.http.get(f"/g/{link.link_id}/download")
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    assert "filename*=" in download.headers["content-disposition"]


def test_an_upload_link_reaches_the_documents_upload_page_of_its_request(desk, guest):
    link = desk.request_upload(max_files=2, expires_in_seconds=3600)
    _, landing = guest.enter(link.url)
    assert landing.status_code == 200
    assert "upload" in landing.text.lower()
    assert_security_headers(landing)


def assert_security_headers(response: httpx.Response) -> None:
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value, header
    assert "default-src" in response.headers["content-security-policy"]


def test_the_cookie_is_http_only_strict_and_scoped_to_the_link(firm, guest):
    [link] = firm.issue("request")
    opened = guest.open(link.url)
    cookie = opened.headers.get("set-cookie", "")
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert f"Path=/g/{link.link_id}" in cookie
    assert link.token not in cookie


def test_one_url_per_recipient_each_revocable_alone(firm, stack_env):
    first, second = firm.issue("pay", resource_id=an_invoice(stack_env),
                               recipients=[{"email": "ana@example.com"}, {"email": "luis@example.com"}])
    assert first.url != second.url and first.resource_id == second.resource_id
    firm.revoke(first.link_id)
    assert Guest(stack_env["GATEWAY_URL"]).open(first.url).status_code == 410
    _, landing = Guest(stack_env["GATEWAY_URL"]).enter(second.url)
    assert resource_shown(landing) == second.resource_id


def test_revoked_used_up_and_expired_links_answer_410(firm, stack_env):
    [revoked] = firm.issue("request")
    firm.revoke(revoked.link_id)
    [once] = firm.issue("request", max_uses=1)
    Guest(stack_env["GATEWAY_URL"]).enter(once.url)
    [expiring] = firm.issue("request", expires_in_seconds=2)

    assert Guest(stack_env["GATEWAY_URL"]).open(revoked.url).status_code == 410
    assert Guest(stack_env["GATEWAY_URL"]).open(once.url).status_code == 410
    assert wait_until(lambda: firm.status(expiring.link_id)["status"] == "expired", timeout=20)
    assert Guest(stack_env["GATEWAY_URL"]).open(expiring.url).status_code == 410
    assert firm.status(revoked.link_id)["status"] == "revoked"
    assert firm.status(once.link_id)["status"] == "used_up"
    assert firm.status(expiring.link_id)["status"] == "expired"


def test_a_one_time_link_is_not_used_up_by_a_mail_scanner_opening_it_first(firm, stack_env):
    [once] = firm.issue("pay", resource_id=an_invoice(stack_env), max_uses=1)
    scanned = Guest(stack_env["GATEWAY_URL"]).open(once.url)
    assert scanned.status_code == 200 and "set-cookie" not in scanned.headers
    assert firm.status(once.link_id)["uses"] == 0 and firm.status(once.link_id)["status"] == "active"
    link_id, landing = Guest(stack_env["GATEWAY_URL"]).enter(once.url)  # the recipient, who clicks through
    assert link_id == once.link_id and resource_shown(landing) == once.resource_id
    assert firm.status(once.link_id)["status"] == "used_up"
    assert Guest(stack_env["GATEWAY_URL"]).open(once.url).status_code == 410


def test_an_unknown_or_malformed_token_is_404_and_says_nothing_more(guest):
    unknown = guest.open("/l/" + "A" * 43)
    malformed = guest.open("/l/not-a-token")
    assert unknown.status_code == malformed.status_code == 404
    assert _without_ids(unknown.text) == _without_ids(malformed.text)


def test_a_revoke_is_enforced_on_a_revisit_within_a_second(firm, guest, stack_env):
    [link] = firm.issue("pay", resource_id=an_invoice(stack_env))
    link_id, landing = guest.enter(link.url)
    assert landing.status_code == 200
    firm.revoke(link_id)
    assert wait_until(lambda: guest.http.get(f"/g/{link_id}/").status_code == 410, timeout=1.0)


def test_link_a_cannot_reach_resource_b_by_editing_the_path(firm, guest, stack_env):
    [link_a] = firm.issue("pay", resource_id=an_invoice(stack_env))
    [link_b] = firm.issue("pay", resource_id=an_invoice(stack_env))
    _, landing = guest.enter(link_a.url)
    edited = guest.http.get(f"/g/{link_a.link_id}/", params={"invoice_id": link_b.resource_id})
    assert resource_shown(edited) == link_a.resource_id
    # ... and link A's cookie does not open link B's token-free URL.
    refused = guest.http.get(f"/g/{link_b.link_id}/")
    assert refused.status_code in (401, 403, 404)
    assert link_b.resource_id not in refused.text


def test_a_guest_request_that_skips_the_gateway_is_refused(stack_env):
    for action, service in ROUTES.items():
        response = httpx.get(f"{stack_env[service.upper() + '_URL']}/guest/", timeout=10)
        assert response.status_code == 401, (action, response.text)


def test_robots_are_kept_away_from_links(stack_env):
    robots = httpx.get(f"{stack_env['GATEWAY_URL']}/robots.txt", timeout=10)
    assert "Disallow: /l/" in robots.text
    for header, value in SECURITY_HEADERS.items():
        assert robots.headers[header] == value


def test_tokens_where_no_token_belongs_are_answered_and_then_found_in_no_log(firm, stack_env):
    """A fuzzer's path tricks with live tokens, sent byte for byte over a socket (an HTTP client would normalise
    them): the next test greps every process's log for these tokens too."""
    [valid] = firm.issue("view")
    [spent] = firm.issue("view", max_uses=1)
    address = urlsplit(stack_env["GATEWAY_URL"])
    tricks = [
        f"/g/{valid.token}/", f"/g/lnk_nobody/../../l/{valid.token}", f"/g/lnk_nobody/%2e%2e/%2e%2e/l/{spent.token}",
        f"/g/lnk_nobody/?token={valid.token}", f"/l/{valid.token}/../../g/x", f"/l//{spent.token}",
        f"/L/{valid.token}", f"/l/{valid.token}%00", f"/l/{spent.token}?again={spent.token}",
        f"/nowhere/{valid.token}", f"/robots.txt?{spent.token}", f"/l/{valid.token}#fragment",
    ]
    statuses = []
    for path in tricks:
        for method in ("GET", "POST"):
            with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
                connection.sendall(f"{method} {path} HTTP/1.1\r\nHost: guest\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n".encode())
                statuses.append(int(connection.recv(64).split()[1]))
    assert all(status < 500 for status in statuses), statuses


def test_no_token_appears_in_any_log(firm):
    """Runs last (this module sorts after the others): every token issued so far, in every process's log."""
    logs = list((Path(os.environ["LOGINLESS_VAR_DIR"]) / "log").glob("*.log"))
    assert logs and firm.issued
    for path in logs:
        text = path.read_text(errors="replace")
        leaked = [link.link_id for link in firm.issued if link.token in text]
        assert not leaked, f"{path.name} contains the token of links {leaked}"


def _without_ids(html: str) -> str:
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "", html)
