"""What every service's requests pass through (``create_service_app``'s layers), on Litestar's test client: one
access line per response with the request's fields, its ids on the handler's own lines and nowhere after, and the
``loginless_http_*`` metrics with their documented labels. Bad inputs tried: a token-shaped path, a NUL in a query
(refused by the input guard), a fault, an unknown route."""

import json
import secrets
import uuid

import pytest
import structlog
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.plugins.structlog import StructlogPlugin
from litestar.testing import TestClient
from prometheus_client import REGISTRY

from loginless.shared.web.access_log import AccessLog, ImmediateOutput
from loginless.shared.web.context import with_request_context
from loginless.shared.web.health import HealthController
from loginless.shared.web.input_guard import InputGuard
from loginless.shared.web.logging import structlog_config
from loginless.shared.web.metrics import request_metrics
from loginless.shared.web.problems import problem_details_plugin

pytestmark = pytest.mark.unit

@get("/items/{item_id:str}")
async def item(item_id: FromPath[str]) -> dict:
    structlog.get_logger(__name__).info("item read", item_id=item_id)  # to the stdout of this test
    return {"item_id": item_id}


@get("/fault")
async def fault() -> None:
    raise RuntimeError("a bug")


@pytest.fixture
def structlog_restored():
    """These tests configure structlog as a service does; the tests after them get the previous setup back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def service(structlog_restored):
    """The layers as create_service_app puts them (it also needs a database, which these tests do not), under an
    app name of its own, since metrics are per process."""
    app_name = f"plumbing-{uuid.uuid4().hex[:8]}"
    app = Litestar([item, fault, HealthController], middleware=[request_metrics(app_name),
                                                                InputGuard],
                   plugins=[StructlogPlugin(structlog_config(as_json=True, level="INFO")), problem_details_plugin()])
    with_request_context(app, AccessLog(ImmediateOutput(), level="INFO", as_json=True))
    with TestClient(app, raise_server_exceptions=False) as http:
        yield http, app_name


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_each_response_is_one_line_with_the_request_and_its_answer_and_the_handlers_lines_carry_its_ids(
        service, capsys):
    http, _ = service
    capsys.readouterr()
    response = http.get("/items/i-1", headers={"X-Correlation-ID": "order-42"})
    assert response.status_code == 200
    [handler_line, access_line] = lines(capsys.readouterr().out)
    request_id = response.headers["x-request-id"]
    assert response.headers["x-correlation-id"] == "order-42"
    assert (handler_line["event"], handler_line["request_id"], handler_line["correlation_id"]) == (
        "item read", request_id, "order-42")
    assert {key: access_line[key] for key in ("event", "method", "path", "status_code", "request_id",
                                              "correlation_id", "level")} == {
        "event": "HTTP Response", "method": "GET", "path": "/items/i-1", "status_code": 200,
        "request_id": request_id, "correlation_id": "order-42", "level": "info"}
    assert access_line["duration_ms"] >= 0 and access_line["timestamp"].endswith("Z")
    # Bound while the request is handled, and only then.
    assert "request_id" not in structlog.contextvars.get_contextvars()


def test_unknown_routes_and_faults_are_logged_with_their_ids_probes_are_not_and_tokens_never(service, capsys):
    http, _ = service
    token = secrets.token_urlsafe(32)
    capsys.readouterr()
    missing = http.get(f"/nowhere/{token}")
    broken = http.get("/fault")
    http.get("/health/live")
    output = capsys.readouterr().out
    access = [line for line in lines(output) if line["event"] == "HTTP Response"]
    assert [(line["path"], line["status_code"]) for line in access] == [
        ("/nowhere/[redacted]", 404), ("/fault", 500)]
    assert [line["request_id"] for line in access] == [missing.headers["x-request-id"],
                                                       broken.headers["x-request-id"]]
    assert token not in output


def test_requests_are_counted_timed_and_gauged_by_route_with_the_documented_labels(service):
    http, app_name = service
    for _ in range(3):
        assert http.get("/items/i-1").status_code == 200
    assert http.get("/items/i-2", params={"q": "a\x00b"}).status_code == 422  # refused by the input guard
    assert http.get("/fault").status_code == 500
    http.get("/health/live")
    labels = {"app_name": app_name, "method": "GET", "path": "/items/{item_id}"}  # the route, never the path
    assert sample("loginless_http_requests_total", **labels, status_code="200") == 3
    assert sample("loginless_http_request_duration_seconds_count", **labels, status_code="200") == 3
    assert sample("loginless_http_requests_total", **labels, status_code="422") == 1
    assert sample("loginless_http_requests_in_progress", **labels, status_code="200") == 0
    fault_labels = {"app_name": app_name, "method": "GET", "path": "/fault", "status_code": "500"}
    assert sample("loginless_http_requests_total", **fault_labels) == 1
    assert sample("loginless_http_requests_error_total", **fault_labels) == 1
    assert sample("loginless_http_requests_error_total", **labels, status_code="200") is None
    assert sample("loginless_http_requests_total", app_name=app_name, method="GET", path="/health/live",
                  status_code="200") is None  # probes are left out


def test_a_refusal_of_the_input_guard_carries_the_request_ids_too(service):
    http, _ = service
    refused = http.get("/items/i-1", params={"q": "a\x00b"}, headers={"X-Request-ID": "req-7"})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert (refused.headers["x-request-id"], refused.headers["x-correlation-id"]) == ("req-7", "req-7")
