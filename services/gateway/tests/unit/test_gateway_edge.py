"""What wraps every response: the promised headers, and the token taken out of /l/ paths before anything sees it."""

import pytest
from litestar import Litestar, Request, Response, get, post
from litestar.response import Stream
from litestar.testing import TestClient

from loginless.gateway.edge import REDACTED_LINK_PATH, TOKEN_STATE_KEY, guard_edge
from loginless.gateway.settings import DEFAULT_CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.unit

PROMISED = {
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-robots-tag": "noindex, nofollow",
    "x-content-type-options": "nosniff",
}


@get("/page")
async def page() -> str:
    return "hello"


@get("/weakening", media_type="text/html")
async def weakening() -> Response:
    return Response("<p>", headers={"cache-control": "public, max-age=3600", "referrer-policy": "unsafe-url",
                                    "content-security-policy": "sandbox"})


@get("/stream")
async def stream() -> Stream:
    async def chunks():
        yield b"a"
        yield b"b"

    return Stream(chunks())


@get("/boom")
async def boom() -> None:
    raise RuntimeError("a bug")


@post("/only-post")
async def only_post() -> None:
    return None


@get(REDACTED_LINK_PATH)
async def link(request: Request) -> dict:
    return {"token": request.scope["state"].get(TOKEN_STATE_KEY), "path": request.scope["path"],
            "raw_path": request.scope["raw_path"].decode()}


def guarded_app() -> Litestar:
    app = Litestar([page, weakening, stream, boom, only_post, link])
    app.asgi_handler = guard_edge(app.asgi_handler, content_security_policy=DEFAULT_CONTENT_SECURITY_POLICY)
    return app


@pytest.mark.parametrize(("path", "status"), [
    ("/page", 200), ("/stream", 200), ("/nowhere", 404), ("/only-post", 405), ("/boom", 500), ("/l/x", 200),
])
def test_every_kind_of_response_carries_the_promised_headers(path, status):
    with TestClient(guarded_app(), raise_server_exceptions=False) as http:
        response = http.get(path)
    assert response.status_code == status
    for name, value in PROMISED.items():
        assert response.headers.get_list(name) == [value], name
    csp = response.headers["content-security-policy"]
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"):
        assert directive in csp
    assert "unsafe-inline" not in csp


def test_a_response_cannot_weaken_the_headers_but_may_add_a_stricter_policy():
    with TestClient(guarded_app()) as http:
        response = http.get("/weakening")
    assert response.headers.get_list("cache-control") == ["no-store"]
    assert response.headers.get_list("referrer-policy") == ["no-referrer"]
    assert sorted(response.headers.get_list("content-security-policy")) == sorted(
        ["sandbox", DEFAULT_CONTENT_SECURITY_POLICY])


@pytest.mark.parametrize(("url", "token"), [
    ("/l/AbC-_123", "AbC-_123"), ("/l/with/slashes", "with/slashes"), ("/l/", ""), ("/l/pct%41", "pctA"),
])
def test_the_token_leaves_the_path_before_routing_and_logging(url, token):
    with TestClient(guarded_app()) as http:
        body = http.get(url).json()
    assert body == {"token": token, "path": REDACTED_LINK_PATH, "raw_path": REDACTED_LINK_PATH}

