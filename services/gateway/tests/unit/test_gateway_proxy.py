"""The reverse proxy against a fake service: what a service receives, what a guest gets."""

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from loginless.gateway.proxy import AssertionCache, GuestProxy, GuestWentAway, UpstreamUnavailable
from loginless.gateway.read_model import LinkState
from loginless.gateway.settings import ServiceRoute
from loginless.gateway.upstream import UpstreamRequest, UpstreamUnreachable
from loginless.shared.web.assertion import AssertionSigner, AssertionVerifier, generate_key_pair

pytestmark = pytest.mark.unit

PRIVATE_KEY, PUBLIC_KEY = generate_key_pair()
SIGNING = ServiceRoute(service="signing", url="http://signing.internal:8003")
LINK = LinkState(link_id="lnk_A", tenant_id="t1", action="sign", resource_id="req_A", recipient_email="a@example.com",
                 expires_at=datetime.now(UTC) + timedelta(days=1))


class FakeServiceResponse:
    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], content: bytes) -> None:
        self.status, self.headers, self.content = status, headers, content
        self.closed = False

    async def body(self):
        yield self.content

    async def aclose(self) -> None:
        self.closed = True


class Recorder:
    """A fake signing service: records what reached it and answers with ``answer``."""

    def __init__(self, answer: tuple[int, list[tuple[str, str]], bytes] | Exception = (200, [], b"ok")) -> None:
        self.requests: list[tuple[UpstreamRequest, bytes]] = []
        self.answer = answer

    async def send(self, request: UpstreamRequest) -> FakeServiceResponse:
        body = b"".join([chunk async for chunk in request.body]) if request.body is not None else b""
        self.requests.append((request, body))
        if isinstance(self.answer, Exception):
            raise self.answer
        status, headers, content = self.answer
        return FakeServiceResponse(status, [(k.encode(), v.encode()) for k, v in headers], content)

    async def close(self) -> None:
        pass


def sent_headers(request: UpstreamRequest) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers.setdefault(name.decode(), []).append(value.decode())
    return headers


def guest_request(method: str, path: str, *, query: str = "", headers: list[tuple[str, str]] = (),
                  body_chunks: list[bytes] = ()) -> tuple[dict, object]:
    """An ASGI scope and receive of a guest's request, as the gateway's server hands them over."""
    messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in body_chunks]
    messages.append({"type": "http.request", "body": b"", "more_body": False})

    async def receive():
        return messages.pop(0)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": query.encode(), "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
             "client": ("203.0.113.7", 4000), "server": ("gateway", 443), "scheme": "https", "http_version": "1.1",
             "state": {"correlation_id": "corr-1"}}
    return scope, receive


def proxy(recorder: Recorder) -> GuestProxy:
    return GuestProxy({"sign": SIGNING}, AssertionSigner(PRIVATE_KEY), public_url="https://guests.example.com",
                      pool_factory=lambda route: recorder)


async def forward(recorder: Recorder, request: tuple[dict, object], rest: str):
    scope, receive = request
    return await proxy(recorder).forward(scope, receive, LINK, SIGNING, rest=rest, client_address="203.0.113.7",
                                         request_id="req-1", correlation_id="corr-1")


async def test_the_service_gets_a_signed_assertion_for_itself_about_the_links_own_resource():
    recorder = Recorder()
    # Whatever the path and query say about resources, the assertion carries the link's.
    request = guest_request("GET", "/g/lnk_A/requests/req_B/document", query="resource_id=req_B")
    await forward(recorder, request, "/requests/req_B/document")
    sent, _ = recorder.requests[0]
    assert sent.target == b"/guest/requests/req_B/document?resource_id=req_B"
    [assertion_header] = sent_headers(sent)["x-loginless-assertion"]
    assertion = AssertionVerifier(PUBLIC_KEY, audience="signing").verify(assertion_header)
    assert (assertion.link_id, assertion.resource_id, assertion.tenant_id) == ("lnk_A", "req_A", "t1")
    with pytest.raises(Exception, match="not valid"):
        AssertionVerifier(PUBLIC_KEY, audience="documents").verify(assertion_header)


async def test_the_guests_credentials_and_forged_gateway_headers_never_reach_the_service():
    recorder = Recorder()
    request = guest_request("GET", "/g/lnk_A/", headers=[
        ("cookie", "loginless_link=secret; other=1"), ("authorization", "Bearer stolen"),
        ("x-loginless-assertion", "forged"), ("x-loginless-anything", "forged"), ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-prefix", "/g/lnk_B"), ("x-request-id", "guest-chosen"), ("connection", "keep-alive, x-hop"),
        ("x-hop", "hop-by-hop"), ("accept", "text/html"), ("user-agent", "Guest Browser"),
    ])
    await forward(recorder, request, "/")
    headers = sent_headers(recorder.requests[0][0])
    for name in ("cookie", "authorization", "x-loginless-anything", "x-hop", "host", "connection"):
        assert name not in headers, name
    assert len(headers["x-loginless-assertion"]) == 1 and headers["x-loginless-assertion"] != ["forged"]
    assert headers["x-forwarded-for"] == ["203.0.113.7"]
    assert headers["x-forwarded-prefix"] == ["/g/lnk_A"]
    assert headers["x-forwarded-proto"] == ["https"]
    assert headers["x-forwarded-host"] == ["guests.example.com"]
    assert headers["x-request-id"] == ["req-1"]
    assert headers["x-correlation-id"] == ["corr-1"]
    assert (headers["accept"], headers["user-agent"]) == (["text/html"], ["Guest Browser"])


async def test_a_request_body_is_passed_on_chunk_by_chunk_with_its_length():
    recorder = Recorder()
    request = guest_request("POST", "/g/lnk_A/answers", headers=[("content-length", "10"),
                                                                  ("content-type", "text/plain")],
                            body_chunks=[b"01234", b"56789"])
    await forward(recorder, request, "/answers")
    sent, body = recorder.requests[0]
    assert body == b"0123456789"
    assert sent.content_length == 10  # framing is the client's: the guest's own header is not passed on
    assert "content-length" not in sent_headers(sent) and "transfer-encoding" not in sent_headers(sent)


async def test_a_chunked_request_body_goes_on_chunked_and_an_expectation_is_not_passed_on():
    recorder = Recorder()
    request = guest_request("PUT", "/g/lnk_A/answers", headers=[("transfer-encoding", "chunked"),
                                                                 ("expect", "100-continue")],
                            body_chunks=[b"abc", b"def"])
    await forward(recorder, request, "/answers")
    sent, body = recorder.requests[0]
    assert body == b"abcdef"
    assert sent.content_length is None and sent.body is not None
    assert "expect" not in sent_headers(sent) and "transfer-encoding" not in sent_headers(sent)


async def test_a_guest_who_goes_away_mid_upload_breaks_the_body_off():
    scope, _ = guest_request("POST", "/g/lnk_A/answers", headers=[("content-length", "10")])
    messages = [{"type": "http.request", "body": b"01234", "more_body": True}, {"type": "http.disconnect"}]

    async def receive():
        return messages.pop(0)

    with pytest.raises(GuestWentAway):
        await proxy(Recorder()).forward(scope, receive, LINK, SIGNING, rest="/answers",
                                        client_address="203.0.113.7", request_id="req-1")


async def test_a_request_without_a_body_is_sent_without_one():
    recorder = Recorder()
    await forward(recorder, guest_request("GET", "/g/lnk_A/"), "/")
    sent, body = recorder.requests[0]
    assert body == b""
    assert sent.body is None and sent.content_length is None


async def test_the_services_cookies_and_hop_by_hop_headers_are_dropped_and_redirects_mapped():
    recorder = Recorder((303, [
        ("location", "/guest/done?x=1"), ("set-cookie", "session=1; Path=/"), ("connection", "close"),
        ("content-type", "text/plain"), ("link", "</a>; rel=preload"), ("link", "</b>; rel=preload"),
        ("date", "Fri, 27 Nov 2026 10:00:00 GMT"), ("server", "uvicorn"),
    ], b"see other"))
    response = await forward(recorder, guest_request("POST", "/g/lnk_A/sign"), "/sign")
    headers = response.headers
    assert (b"location", b"/g/lnk_A/done?x=1") in headers
    assert [name for name, _ in headers if name in (b"set-cookie", b"connection", b"date", b"server")] == []
    assert [value for name, value in headers if name == b"link"] == [b"</a>; rel=preload", b"</b>; rel=preload"]
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    await response({"type": "http", "method": "POST"}, None, send)
    assert response.response.closed  # the connection is handed back
    assert sent[0]["status"] == 303
    assert b"".join(message.get("body", b"") for message in sent[1:]) == b"see other"
    assert sent[-1]["more_body"] is False


@pytest.mark.parametrize(("location", "public"), [
    ("http://signing.internal:8003/guest/next", "/g/lnk_A/next"),
    ("/guest", "/g/lnk_A/"),
    ("/guest?step=2", "/g/lnk_A/?step=2"),
    ("https://bank.example.com/pay", "https://bank.example.com/pay"),
    ("/guestbook", "/guestbook"),
])
def test_redirect_locations_into_the_guest_pages_become_the_guests_urls(location, public):
    assert GuestProxy._public_location(location, SIGNING, "/g/lnk_A") == public


async def test_an_unreachable_service_is_reported_as_such():
    recorder = Recorder(UpstreamUnreachable("connection refused"))
    with pytest.raises(UpstreamUnavailable):
        await forward(recorder, guest_request("GET", "/g/lnk_A/"), "/")


async def test_a_cookie_a_service_sets_for_one_guest_never_reaches_it_with_the_next_guests_request():
    recorder = Recorder((200, [("set-cookie", "session=guest-one; Path=/")], b"ok"))
    shared = proxy(recorder)
    for _ in range(2):
        scope, receive = guest_request("GET", "/g/lnk_A/")
        response = await shared.forward(scope, receive, LINK, SIGNING, rest="/", client_address="203.0.113.7",
                                        request_id="req-1")
        await response({"type": "http", "method": "GET"}, None, _discard)
    assert "cookie" not in sent_headers(recorder.requests[1][0])


async def test_an_assertion_is_reused_for_half_its_lifetime_then_signed_anew():
    clock = [time.time()]
    cache = AssertionCache(AssertionSigner(PRIVATE_KEY), clock=lambda: clock[0])
    first = cache.assertion_for(LINK, "signing")
    clock[0] += 29
    assert cache.assertion_for(LINK, "signing") == first
    assert cache.assertion_for(LINK, "documents") != first  # another audience, another assertion
    clock[0] += 2
    renewed = cache.assertion_for(LINK, "signing")
    assert jwt.decode(renewed, options={"verify_signature": False})["iat"] == int(clock[0])
    assert AssertionVerifier(PUBLIC_KEY, audience="signing").verify(first).link_id == "lnk_A"


async def _discard(message) -> None:
    return None


async def test_the_service_is_told_whether_the_browser_has_proven_itself_for_the_link():
    recorder = Recorder()
    shared = proxy(recorder)
    for proven in (False, True):
        scope, receive = guest_request("GET", "/g/lnk_A/")
        await shared.forward(scope, receive, LINK, SIGNING, rest="/", client_address="203.0.113.7",
                             request_id="req-1", device_proven=proven)
    verifier = AssertionVerifier(PUBLIC_KEY, audience="signing")
    told = [verifier.verify(sent_headers(sent)["x-loginless-assertion"][0]).device_proven
            for sent, _ in recorder.requests]
    assert told == [False, True]  # each its own assertion, though the cache keeps both


async def test_a_services_word_that_the_browser_proved_itself_becomes_the_gateways_device_cookie():
    recorder = Recorder((200, [("x-loginless-device-proven", "1"), ("content-type", "application/json")], b"{}"))
    shared = GuestProxy({"sign": SIGNING}, AssertionSigner(PRIVATE_KEY), public_url="https://guests.example.com",
                        pool_factory=lambda route: recorder,
                        device_proof=lambda link_id: (b"set-cookie", f"loginless_device=for-{link_id}".encode()))
    outcomes = []
    for proven in (False, True):
        scope, receive = guest_request("POST", "/g/lnk_A/api/answers")
        response = await shared.forward(scope, receive, LINK, SIGNING, rest="/api/answers",
                                        client_address="203.0.113.7", request_id="req-1", device_proven=proven)
        outcomes.append([(name, value) for name, value in response.headers
                         if name in (b"set-cookie", b"x-loginless-device-proven")])
    # The service's header never reaches the guest; the cookie is given once, to a browser without one.
    assert outcomes == [[(b"set-cookie", b"loginless_device=for-lnk_A")], []]
    # Without a way to make the cookie (a gateway not set up for it) the header is only dropped.
    scope, receive = guest_request("POST", "/g/lnk_A/api/answers")
    response = await forward(recorder, (scope, receive), "/api/answers")
    assert [name for name, _ in response.headers if name in (b"set-cookie", b"x-loginless-device-proven")] == []
