"""No input makes a service answer 500: every route of every service (its own route table, staff, internal and guest
alike) is sent what no handler can store, on the running stack with its real PostgreSQL, and refuses it with a 4xx
problem (a guest page answers with its friendly page instead).

Bad inputs tried on each route and method: a NUL, an over-long value and (in the query) the UTF-8 bytes of an
unpaired surrogate in every string path parameter and in each query parameter the handler declares; a JSON body
with a NUL, an unpaired surrogate escape and a NUL in a member name; a form body with a NUL. All of those must be
refused. A malformed id (quotes, markup, a space, a LIKE wildcard) in the same places may also be answered as an id
that matches nothing (a 404, an empty list), never with a 5xx. Requests carry the credentials the route takes (the
development tenant's API key, the internal secret), so nothing is refused before the input reaches the service.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from loginless.shared.services import service_names
from loginless.shared.web.input_guard import MAX_PATH_VALUE_LENGTH, MAX_QUERY_VALUE_LENGTH

pytestmark = pytest.mark.e2e

# Values that fit each parameter type Litestar converts itself, so the request gets past routing.
SAMPLE_BY_TYPE = {"int": "1", "uuid": "00000000-0000-4000-8000-000000000000", "path": "x", "str": "x"}
PARAMETER = re.compile(r"\{(\w+):(\w+)\}")
# Not any id's shape: quotes, markup, a space, a non-ASCII letter, a wildcard of SQL's LIKE.
MALFORMED = "%27%22%3C%3E%C3%A9%20%25_"
NOT_QUERY = {"request", "state", "scope", "headers", "cookies", "data", "socket", "body", "idempotency_key"}


@dataclass(frozen=True)
class Probe:
    service: str
    method: str
    path: str  # with the bad value in place
    query: bytes
    body: bytes | None
    content_type: str | None
    what: str
    must_refuse: bool = True  # False: any answer but a server error will do


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def service_app(service: str) -> Litestar:
    """The service's app as the running process built it (its own settings), to read its route table."""
    settings_file = Path(os.environ["LOGINLESS_VAR_DIR"]) / "service-env" / f"{service}.env"
    values = dict(line.split("=", 1) for line in settings_file.read_text().splitlines() if "=" in line)
    bootstrap = importlib.import_module(f"loginless.{service}.bootstrap")
    with environment(values):
        return bootstrap.create_app(bootstrap.SETTINGS())


def filled(path: str, bad: str, target: str | None) -> str:
    """``path`` with ``bad`` for the parameter ``target`` and a value of the right type for the others."""
    return PARAMETER.sub(lambda m: bad if m[1] == target else SAMPLE_BY_TYPE.get(m[2], "x"), path)


def probes_for(service: str, app: Litestar) -> Iterator[Probe]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            dependencies = set(handler.resolve_dependencies())
            parameters = set(handler.parsed_fn_signature.parameters)
            path_names = {name for name, _ in PARAMETER.findall(route.path)}
            query_names = sorted(parameters - dependencies - path_names - NOT_QUERY)
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                good_path = filled(route.path, "", None)
                for name, kind in PARAMETER.findall(route.path):
                    if kind == "str":
                        yield Probe(service, method, filled(route.path, "a%00b", name), b"", None, None,
                                    f"NUL in path {name}")
                        yield Probe(service, method, filled(route.path, MALFORMED, name), b"", None, None,
                                    f"malformed id in path {name}", must_refuse=False)
                        too_long = "x" * (MAX_PATH_VALUE_LENGTH + 1)
                        yield Probe(service, method, filled(route.path, too_long, name), b"", None, None,
                                    f"over-long path {name}")
                for name in query_names:
                    for bad, what in ((b"a%00b", "NUL"), (b"%ED%A0%80", "lone surrogate"),
                                      (b"x" * (MAX_QUERY_VALUE_LENGTH + 1), "over-long value")):
                        yield Probe(service, method, good_path, name.encode() + b"=" + bad, None, None,
                                    f"{what} in query {name}")
                    yield Probe(service, method, good_path, name.encode() + b"=" + MALFORMED.encode(), None, None,
                                f"malformed value in query {name}", must_refuse=False)
                # A route without a body limit streams its body on, untouched (an upload to storage, a guest page's
                # request to the service that owns it, which guards it itself): any answer but a 5xx will do there.
                streams = handler.resolve_request_max_body_size() is None
                if method in {"POST", "PUT", "PATCH", "DELETE"}:
                    for body, what in ((b'{"name": "a\\u0000b", "items": [{"id": "\\u0000"}]}', "NUL in JSON"),
                                       (b'{"name": "\\ud800"}', "lone surrogate in JSON"),
                                       (b'{"a\\u0000": "b"}', "NUL in a JSON member name")):
                        yield Probe(service, method, good_path, b"", body, "application/json", what,
                                    must_refuse=not streams)
                    yield Probe(service, method, good_path, b"", b"name=a%00b", "application/x-www-form-urlencoded",
                                "NUL in a form field", must_refuse=not streams)


def credentials(path: str, stack_env: dict[str, str], internal_secret: str) -> dict[str, str]:
    if path.startswith("/internal/"):
        return {"Authorization": f"Bearer {internal_secret}"}
    return {"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"}


@pytest.mark.parametrize("service", service_names())
def test_no_input_on_any_route_of_the_service_is_answered_with_a_server_error(service, stack_env):
    app = service_app(service)
    settings_file = Path(os.environ["LOGINLESS_VAR_DIR"]) / "service-env" / f"{service}.env"
    internal_secret = next(line.split("=", 1)[1] for line in settings_file.read_text().splitlines()
                           if line.startswith(f"{service.upper()}_INTERNAL_API_SECRET="))
    base_url = stack_env[f"{service.upper()}_URL"]
    probes = list(probes_for(service, app))
    assert len(probes) > 10  # the route table was read
    wrong = []
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for probe in probes:
            headers = credentials(probe.path, stack_env, internal_secret)
            if probe.content_type:
                headers["content-type"] = probe.content_type
            url = httpx.URL(base_url + probe.path).copy_with(query=probe.query or None)
            response = http.request(probe.method, url, content=probe.body, headers=headers)
            media_type = response.headers.get("content-type", "").split(";")[0]
            refused = 400 <= response.status_code < 500 and media_type in {
                "application/problem+json", "text/html"}  # a guest page's friendly page, as for any guest error
            answered_well = refused if probe.must_refuse else response.status_code < 500
            if not answered_well:
                wrong.append(f"{probe.method} {probe.path[:80]}?{probe.query[:40]!r} ({probe.what}): "
                             f"{response.status_code} {media_type} {response.text[:200]}")
    assert not wrong, f"{len(wrong)} of {len(probes)} probes answered badly:\n" + "\n".join(wrong)
