"""How /auth/forward reads which guest request a proxy asks about (forward_auth.original_request).

Bad inputs tried: no header at all, a relative path, a path with a space, an ingress-nginx URL with a host."""

import pytest

from loginless.gateway.forward_auth import original_request

pytestmark = pytest.mark.unit


def asked(path: str = "/auth/forward", query: bytes = b"", method: str = "GET", **headers: str) -> dict:
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": query,
            "headers": [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]}


@pytest.mark.parametrize(("scope", "method", "raw_path", "query"), [
    (asked(x_original_uri="/g/abc/page%20two?x=1", x_original_method="post"), "POST", b"/g/abc/page%20two", b"x=1"),
    (asked(x_original_url="https://guests.example/g/abc/?lang=es", x_original_method="PUT"), "PUT", b"/g/abc/",
     b"lang=es"),
    (asked(x_forwarded_uri="/g/abc/files", x_forwarded_method="DELETE"), "DELETE", b"/g/abc/files", b""),
    (asked("/auth/forward/g/abc/a%2Fb", b"download=1", method="HEAD"), "HEAD", b"/g/abc/a%2Fb", b"download=1"),
])
def test_each_proxys_way_of_naming_the_request_gives_the_same_scope(scope, method, raw_path, query):
    original = original_request(scope)
    assert original is not None
    assert (original["method"], original["raw_path"], original["query_string"]) == (method, raw_path, query)
    assert original["path"] == raw_path.decode().replace("%20", " ").replace("%2F", "/")
    assert original["headers"] is scope["headers"]  # the guest's cookies, as the proxy passed them


@pytest.mark.parametrize("scope", [
    asked(), asked(x_original_uri=""), asked(x_original_uri="g/abc/"), asked(x_forwarded_uri="/g/a b/"),
])
def test_a_proxy_that_does_not_say_which_request_gets_none(scope):
    assert original_request(scope) is None


def test_an_escaped_prefix_is_no_form_of_the_question():
    scope = asked("/auth/forward/g/abc/", x_original_uri="/g/abc/")
    scope["raw_path"] = b"/auth/forward%2Fg%2Fabc/"
    assert original_request(scope) is None
