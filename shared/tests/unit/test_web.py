"""Problem details, request ids and settings, on Litestar's test client without I/O."""

from typing import ClassVar

import pytest
from litestar import Litestar, get
from litestar.params import FromQuery
from litestar.testing import TestClient, create_test_client
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from loginless.shared.errors import ConcurrencyConflict, DependencyUnavailable
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.access_log import AccessLog, ImmediateOutput
from loginless.shared.web.context import with_request_context
from loginless.shared.web.problems import problem_details_plugin

pytestmark = pytest.mark.unit


@get("/conflict")
async def conflicting() -> None:
    raise ConcurrencyConflict("stream is at version 3, not 2", stream_id="s-1")


@get("/database-down")
async def database_down() -> None:
    raise ConnectionRefusedError("connection refused")


@get("/unavailable")
async def unavailable() -> None:
    raise DependencyUnavailable("kafka is unavailable", dependency="kafka")


@get("/items")
async def item(number: FromQuery[int]) -> dict:
    return {"number": number}


@get("/fault")
async def fault() -> None:
    raise RuntimeError("a bug, with internals nobody outside should read")


def client(level: str = "WARNING", *handlers):
    app = Litestar([conflicting, database_down, unavailable, item, fault, *handlers],
                   plugins=[problem_details_plugin()])
    with_request_context(app, AccessLog(ImmediateOutput(), level=level, as_json=True))
    return TestClient(app)


def test_a_concurrency_conflict_is_a_409_problem():
    with client() as http:
        response = http.get("/conflict")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/concurrency-conflict")
    assert body["detail"] == "stream is at version 3, not 2"
    assert body["stream_id"] == "s-1"


@pytest.mark.parametrize("path", ["/database-down", "/unavailable"])
def test_a_lost_dependency_is_a_503_problem_with_retry_after(path):
    with client() as http:
        response = http.get(path)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"


def test_bad_input_unknown_paths_wrong_methods_and_faults_are_problems_in_their_rfc_9457_roles_too():
    with client() as http:
        bad = http.get("/items", params={"number": "not-a-number"})
        missing = http.get("/nowhere")
        wrong_method = http.delete("/items")
        broken = http.get("/fault")
    assert [r.status_code for r in (bad, missing, wrong_method, broken)] == [400, 404, 405, 500]
    for response, kind, title in ((bad, "bad-request", "Bad Request"), (missing, "not-found", "Not Found"),
                                  (wrong_method, "method-not-allowed", "Method Not Allowed"),
                                  (broken, "internal-error", "Internal Server Error")):
        body = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert (body["type"].rsplit("/", 1)[1], body["title"], body["status"]) == (kind, title, response.status_code)
    assert "number" in bad.json()["detail"]  # what exactly was wrong, in the detail
    assert "internals" not in broken.text


def test_request_and_correlation_ids_are_echoed_or_made():
    with client() as http:
        given = http.get("/items?number=1", headers={"X-Correlation-ID": "order-42"})
        made = http.get("/items?number=1")
        hostile = http.get("/items?number=1", headers={"X-Correlation-ID": "evil\nInjected: yes"})
    assert given.headers["x-correlation-id"] == "order-42"
    assert made.headers["x-request-id"] and made.headers["x-correlation-id"] == made.headers["x-request-id"]
    assert "evil" not in hostile.headers["x-correlation-id"]


def test_settings_use_the_service_prefix_and_are_read_only_when_built(monkeypatch):
    from loginless.links.settings import LinksSettings

    monkeypatch.setenv("LINKS_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("LINKS_TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("DOCUMENTS_HTTP_PORT", "9999")  # another service's setting is ignored
    settings = LinksSettings()
    assert settings.database_url == "postgresql://x@h/db"
    assert settings.events_topic == "staging.links.events"
    assert settings.http_port == 8000
    assert settings.schema == "links"


def test_a_streamed_response_is_logged_once_not_once_per_chunk(capsys):
    from litestar.response import Stream

    @get("/stream")
    async def streamed() -> Stream:
        async def chunks():
            for _ in range(50):
                yield b"x" * 1024

        return Stream(chunks(), media_type="application/octet-stream")

    with client("INFO", streamed) as http:
        response = http.get("/stream")
    assert len(response.content) == 50 * 1024
    output = capsys.readouterr().out
    assert output.count('"HTTP Response"') == 1  # one line per response, with the request's fields in it
    assert '"status_code":200' in output and '"path":"/stream"' in output


def test_an_error_the_caller_can_act_on_is_logged_without_a_stack_trace_and_a_fault_with_one(capsys):
    from litestar.plugins.structlog import StructlogPlugin

    from loginless.shared.web.logging import structlog_config

    class UploadBusy(ConcurrencyConflict):  # a service's own error: a subclass, with its own status
        status_code = 423

    @get("/busy")
    async def busy() -> None:
        raise UploadBusy("another request is writing")

    @get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    logging_plugin = StructlogPlugin(structlog_config(as_json=True, level="INFO"))
    with create_test_client([busy, broken], plugins=[logging_plugin, problem_details_plugin()]) as http:
        assert http.get("/busy").status_code == 423
        assert "Traceback" not in capsys.readouterr().out
        assert http.get("/broken").status_code == 500
        assert "Traceback" in capsys.readouterr().out


def test_the_database_schema_defaults_to_the_service_name_and_can_be_set(monkeypatch):
    class ExampleSettings(ServiceSettings):
        service_name: ClassVar[str] = "example"
        model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    assert ExampleSettings(database_url="postgresql://x@h/db").schema == "example"
    monkeypatch.setenv("EXAMPLE_DATABASE_SCHEMA", "example_staging")
    assert ExampleSettings(database_url="postgresql://x@h/db").schema == "example_staging"
    for unsafe in ("Example", "ex-ample", 'x"; DROP SCHEMA public; --', "a" * 64):
        with pytest.raises(ValidationError):
            ExampleSettings(database_url="postgresql://x@h/db", database_schema=unsafe)
