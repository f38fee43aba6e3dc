"""The HTTP server's own refusals, answered as the services answer theirs.

uvicorn answers a request it cannot parse (a malformed request line, a raw byte that is not ASCII where HTTP wants
it, headers past its limits) itself, before any application sees it: ``400 Invalid HTTP request received.`` as
plain text, without the headers every other answer carries. Our protocol class keeps uvicorn's parser and replaces
only that answer: an RFC 9457 problem with the security headers (no caching, no referrer, no sniffing, no framing,
a Content-Security-Policy that allows nothing). uvicorn has no hook for it short of its ``http`` protocol class.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from loginless.shared.web.problems import PROBLEM_TYPE_BASE

UNREADABLE_REQUEST = json.dumps({
    "type": PROBLEM_TYPE_BASE + "bad-request", "title": "Bad Request", "status": 400,
    "detail": "The request could not be read as HTTP/1.1",
}).encode()
REFUSAL_HEADERS = (
    (b"content-type", b"application/problem+json"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-robots-tag", b"noindex, nofollow"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)


class ProblemRefusingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, whose own 400 is a problem with the security headers."""

    def send_400_response(self, msg: str) -> None:
        lines = [b"HTTP/1.1 400 Bad Request\r\n"]
        lines += [name + b": " + value + b"\r\n" for name, value in (
            *self.server_state.default_headers, *REFUSAL_HEADERS,
            (b"content-length", str(len(UNREADABLE_REQUEST)).encode()), (b"connection", b"close"))]
        self.transport.write(b"".join([*lines, b"\r\n", UNREADABLE_REQUEST]))
        self.transport.close()
