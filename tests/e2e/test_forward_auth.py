"""Forward-auth mode on the running stack: guests through Debian's nginx (the shipped deploy/nginx configuration),
which asks the gateway's /auth/forward before each guest request and sends admitted ones straight to the owning
service; refusals, and everything outside /g/, are the gateway's own to answer.

Bad inputs tried: a forged X-Loginless-Assertion (with and without a cookie), an unknown token, a forged cookie,
another link's cookie, a path edited to reach another document, a revoked link, and /auth/forward from outside.
"""

import base64
import re
from urllib.parse import urlsplit

import httpx
import pytest

from loginless.testkit.guests import DocumentsDesk, Guest
from loginless.testkit.waiting import wait_until

pytestmark = pytest.mark.e2e

SECURITY_HEADERS = {"referrer-policy": "no-referrer", "cache-control": "no-store",
                    "x-robots-tag": "noindex, nofollow", "x-content-type-options": "nosniff",
                    "x-frame-options": "DENY"}
TUS = {"Tus-Resumable": "1.0.0"}
# The gateway's revocation promise is one second (what the embedded proxy's tests allow); nginx may then keep an
# answer it was given until the end of that second: at most one more.
REVOCATION_DEADLINE_SECONDS = 2.0


@pytest.fixture(scope="module")
def nginx_url(stack_env) -> str:
    assert stack_env.get("FORWARD_AUTH_URL"), "the test stack runs nginx in front of the gateway (FORWARD_AUTH_URL)"
    return stack_env["FORWARD_AUTH_URL"]


@pytest.fixture(scope="module")
def desk(stack_env, firm):
    return DocumentsDesk(stack_env, firm)


@pytest.fixture
def guest(nginx_url) -> Guest:
    return Guest(nginx_url)


def through(url: str) -> str:
    """The link's URL as the guest opens it at nginx: the same path on the proxy in front."""
    return urlsplit(url).path


def counted(stack_env, name: str, **labels: str) -> float:
    """A gateway metric's value (0 before its first count)."""
    text = httpx.get(f"{stack_env['GATEWAY_URL']}/metrics", timeout=10).text
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    match = re.search(rf"^{name}{{{re.escape(wanted)}}} (\S+)$", text, re.MULTILINE)
    return float(match[1]) if match else 0.0


def assert_security_headers(response: httpx.Response) -> None:
    for header, value in SECURITY_HEADERS.items():
        assert response.headers.get(header) == value, (response.url, header)
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_a_guest_views_and_downloads_a_document_through_nginx_which_carries_the_service_pages(desk, guest, stack_env):
    content = b"%PDF-1.4\n%forward-auth e2e\n" + b"x" * 10_000
    link = desk.share(content=content, name="nginx-statement.pdf")
    admitted = counted(stack_env, "loginless_gateway_forward_auth_decisions_total", outcome="admitted")
    proxied = counted(stack_env, "loginless_gateway_proxied_requests_total", service="documents", status="200")

    link_id, landing = guest.enter(through(link.url))
    download = guest.http.get(f"/g/{link_id}/download", follow_redirects=False)
    stored = httpx.get(download.headers["location"], timeout=15)  # a presigned S3 URL, as without nginx

    assert landing.status_code == 200 and "nginx-statement.pdf" in landing.text
    assert download.status_code == 303 and stored.status_code == 200 and stored.content == content
    for response in (landing, download):
        assert_security_headers(response)
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])  # nginx's id, end to end
        # Only the gateway's own cookies ever reach the guest (none here: the service sets none it may).
        assert all(cookie.startswith("loginless_") for cookie in response.headers.get_list("set-cookie"))
    # The gateway decided; nginx forwarded: the gateway's own proxy carried neither page nor download.
    assert counted(stack_env, "loginless_gateway_forward_auth_decisions_total", outcome="admitted") >= admitted + 1
    assert counted(stack_env, "loginless_gateway_proxied_requests_total", service="documents",
                   status="200") == proxied


def test_what_the_gateway_refuses_gets_the_page_it_shows_without_nginx(desk, guest, stack_env, nginx_url):
    link = desk.share(name="refused.pdf")
    unknown_token = "A" * 43
    forged = {"cookie": f"loginless_link=djF8{link.link_id}.forged"}
    direct = Guest(stack_env["GATEWAY_URL"])
    for path, headers, status in [(f"/l/{unknown_token}", {}, 404), (f"/g/{link.link_id}/", forged, 403),
                                  (f"/g/{link.link_id}/", {}, 403), ("/g/no-such-link/", forged, 403)]:
        behind_nginx = guest.http.get(path, headers=headers)
        embedded = direct.http.get(path, headers=headers)
        assert (behind_nginx.status_code, embedded.status_code) == (status, status), path
        assert _without_ids(behind_nginx.text) == _without_ids(embedded.text), path
        assert_security_headers(behind_nginx)
    assert "This link doesn't work" in guest.http.get(f"/l/{unknown_token}").text
    # The gateway's answers to nginx are never anyone else's to ask.
    assert httpx.get(f"{nginx_url}/auth/forward", headers={"x-original-uri": f"/g/{link.link_id}/"}).status_code \
        == 404


def test_a_revoked_link_is_refused_through_nginx_within_the_promise(desk, guest, firm):
    link = desk.share(name="to-be-revoked.pdf")
    link_id, landing = guest.enter(through(link.url))
    assert landing.status_code == 200
    firm.revoke(link_id)
    assert wait_until(lambda: guest.http.get(f"/g/{link_id}/").status_code == 410,
                      timeout=REVOCATION_DEADLINE_SECONDS)
    gone = guest.http.get(f"/g/{link_id}/download")
    assert gone.status_code == 410 and "withdrawn" in gone.text  # the gateway's page, naming the firm
    assert_security_headers(gone)


def test_an_assertion_a_guest_sends_never_reaches_the_service(desk, guest, nginx_url):
    link = desk.share(name="mine.pdf")
    forged = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJmb3JnZWQifQ.c2lnbmF0dXJl"
    link_id, _ = guest.enter(through(link.url))
    with_cookie = guest.http.get(f"/g/{link_id}/", headers={"x-loginless-assertion": forged,
                                                            "x-forwarded-prefix": "/elsewhere"})
    without_cookie = httpx.get(f"{nginx_url}/g/{link_id}/", headers={"x-loginless-assertion": forged})
    # The gateway's assertion replaced the guest's (a forged one would have made the service answer 401) ...
    assert with_cookie.status_code == 200 and "mine.pdf" in with_cookie.text
    # ... and without a cookie the guest gets the gateway's page, never the service's.
    assert without_cookie.status_code == 403 and "mine.pdf" not in without_cookie.text


def test_a_link_for_one_document_never_reaches_another_by_its_path(desk, guest):
    link_a = desk.share(name="document-a.pdf")
    link_b = desk.share(name="document-b.pdf")
    link_id, _ = guest.enter(through(link_a.url))
    edited = guest.http.get(f"/g/{link_id}/", params={"share_id": link_b.resource_id,
                                                      "document_id": link_b.resource_id})
    climbed = guest.http.get(f"/g/{link_id}/%2e%2e/{link_b.link_id}/")
    other = guest.http.get(f"/g/{link_b.link_id}/")
    assert edited.status_code == 200 and "document-a.pdf" in edited.text and "document-b.pdf" not in edited.text
    assert climbed.status_code == 404 and "document-b.pdf" not in climbed.text
    assert other.status_code == 403 and "document-b.pdf" not in other.text


def test_an_upload_passes_through_nginx_to_the_service(desk, guest):
    link = desk.request_upload()
    link_id, page = guest.enter(through(link.url))
    assert page.status_code == 200
    body = b"%PDF-1.7\nuploaded through nginx\n"
    name = base64.b64encode(b"through-nginx.pdf").decode()
    created = guest.http.post(f"/g/{link_id}/uploads", headers={
        **TUS, "Upload-Length": str(len(body)), "Upload-Metadata": f"filename {name}"}, follow_redirects=False)
    assert created.status_code == 201, created.text
    location = httpx.URL(created.headers["location"]).path
    assert location.startswith(f"/g/{link_id}/")  # the service's /guest/ address, mapped back under the link
    sent = guest.http.patch(location, content=body, headers={
        **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert sent.status_code == 204, sent.text
    assert wait_until(lambda: [file["display_name"] for file in desk.http.get(
        f"/v1/upload-requests/{link.resource_id}").json()["files"]] == ["through-nginx.pdf"], timeout=30)


def _without_ids(page: str) -> str:
    """A page without what differs per request (request ids)."""
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}", "<id>", page)
