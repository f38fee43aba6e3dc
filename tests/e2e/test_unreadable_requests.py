"""What the HTTP server refuses before any application sees it -- a raw byte that is not ASCII in the request line,
a malformed request line, a header line that is not a header, a 70 kB URL -- is answered by every running process as the
services answer their own refusals: a 400 problem with the security headers, never the server's bare text.
Sent over a plain socket, since an HTTP client library would refuse to send them."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from loginless.shared.services import service_names

pytestmark = pytest.mark.e2e

UNREADABLE = {
    "a raw non-ASCII byte in the path": b"GET /l/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    "a control byte in the path": b"GET /v1/\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    "no HTTP version": b"GET / FTP/9\r\nHost: x\r\n\r\n",
    "a header line without a colon": b"GET / HTTP/1.1\r\nHost: x\r\nnot a header\r\n\r\n",
    "a 70 kB URL": b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
}
PROMISED = {"cache-control": "no-store", "referrer-policy": "no-referrer", "x-content-type-options": "nosniff",
            "x-robots-tag": "noindex, nofollow", "x-frame-options": "DENY"}


def exchange(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):  # the server closes the connection after its refusal
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), {name.lower(): value for name, value in headers.items()}, body


@pytest.mark.parametrize("process", service_names())
def test_an_unreadable_request_is_refused_with_a_problem_that_carries_the_security_headers(stack_env, process):
    url = stack_env[f"{process.upper()}_URL"]
    for what, request in UNREADABLE.items():
        status, headers, body = exchange(url, request)
        assert status == 400, what
        assert headers["content-type"] == "application/problem+json", what
        assert {name: headers.get(name) for name in PROMISED} == PROMISED, what
        assert "default-src 'none'" in headers["content-security-policy"], what
        problem = json.loads(body)
        assert (problem["status"], problem["title"]) == (400, "Bad Request") and problem["type"].endswith(
            "/bad-request"), what
