"""The edge's input guard on Litestar's test client: what no handler can store is a 422 naming the field, and the
handler never runs. Bad inputs tried: NUL and unpaired surrogates in a path segment, a query value, a query name,
a JSON member (nested, in a list, as a member name, as a ``\\ud800`` escape msgspec itself refuses), a form field;
path and query values one character over the limit. (A path's invalid UTF-8 needs no guard: the ASGI server
decodes it to U+FFFD, which is storable.) Good inputs beside them pass unchanged."""

from typing import Annotated

import pytest
from litestar import get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, JSONBody
from litestar.plugins.structlog import StructlogPlugin
from litestar.testing import create_test_client

from loginless.shared.errors import LoginlessError
from loginless.shared.web.access_log import AccessLog, ImmediateOutput
from loginless.shared.web.context import with_request_context
from loginless.shared.web.input_guard import MAX_PATH_VALUE_LENGTH, MAX_QUERY_VALUE_LENGTH, InputGuard
from loginless.shared.web.logging import structlog_config
from loginless.shared.web.problems import problem_details_plugin

pytestmark = pytest.mark.unit

reached: list[str] = []


@get("/items/{item_id:str}")
async def item(item_id: FromPath[str], filter: FromQuery[str | None] = None) -> dict:
    reached.append(item_id)
    return {"item_id": item_id, "filter": filter}


@post("/items", status_code=200)
async def create_item(data: JSONBody[dict]) -> dict:
    reached.append("created")
    return data


@post("/forms", status_code=200)
async def form(data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]) -> dict:
    reached.append("form")
    return data


def client():
    return create_test_client([item, create_item, form], plugins=[problem_details_plugin()],
                              middleware=[InputGuard])


def refused_field(response) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["type"].rsplit("/", 1)[1]) == (422, "invalid-request")
    assert body["title"] and body["detail"]
    [error] = body["errors"]
    assert error["field"] in body["detail"]
    return error["field"]


@pytest.mark.parametrize(("request_args", "field"), [
    (("GET", "/items/%00"), "path.item_id"),
    (("GET", "/items/" + "x" * (MAX_PATH_VALUE_LENGTH + 1)), "path.item_id"),
    (("GET", "/items/ok?filter=%00"), "query.filter"),
    (("GET", "/items/ok?filter=%ED%A0%80"), "query.filter"),
    (("GET", "/items/ok?filter=" + "x" * (MAX_QUERY_VALUE_LENGTH + 1)), "query.filter"),
    (("GET", "/items/ok?fil%00ter=1"), "query.fil\x00ter"),
])
def test_a_nul_a_lone_surrogate_or_an_over_long_value_in_the_path_or_query_is_a_422_naming_it(request_args, field):
    reached.clear()
    with client() as http:
        response = http.request(*request_args)
    assert refused_field(response) == field
    assert reached == []


@pytest.mark.parametrize(("body", "field"), [
    (b'{"name": "a\\u0000b"}', "name"),
    (b'{"recipients": [{"name": "ok"}, {"name": "\\u0000"}]}', "recipients[1].name"),
    (b'{"note": "\\ud800"}', "note"),  # msgspec refuses this escape; the field is still named
    (b'{"a": {"b\\u0000": 1}}', "a"),
])
def test_a_nul_or_a_lone_surrogate_anywhere_in_a_json_body_is_a_422_naming_the_member(body, field):
    reached.clear()
    with client() as http:
        response = http.post("/items", content=body, headers={"content-type": "application/json"})
    assert refused_field(response) == field
    assert reached == []


def test_a_nul_in_a_form_field_is_a_422_naming_it_and_good_input_passes_unchanged():
    reached.clear()
    with client() as http:
        refused = http.post("/forms", content=b"name=Ana&note=a%00b",
                            headers={"content-type": "application/x-www-form-urlencoded"})
        form_ok = http.post("/forms", data={"name": "Añá 😀"})
        json_ok = http.post("/items", json={"name": "Añá 😀", "long": "x" * 100_000})
        path_ok = http.get("/items/" + "é" * MAX_PATH_VALUE_LENGTH, params={"filter": "ü" * MAX_QUERY_VALUE_LENGTH})
        not_json = http.post("/items", content=b"{not json", headers={"content-type": "application/json"})
    assert refused_field(refused) == "note"
    assert form_ok.json() == {"name": "Añá 😀"}
    assert json_ok.json()["name"] == "Añá 😀"
    assert path_ok.status_code == 200
    assert not_json.status_code == 400  # not JSON at all: the framework's own refusal, as before
    assert reached == ["form", "created", "é" * MAX_PATH_VALUE_LENGTH]


def test_a_refusal_the_guest_caused_is_one_info_line_without_a_traceback_and_a_fault_keeps_its_traceback(capsys):
    class TusVersionUnsupported(LoginlessError):  # e.g. a tus request without Tus-Resumable
        status_code = 412

    @get("/tus")
    async def tus() -> None:
        raise TusVersionUnsupported("this server speaks tus 1.0.0")

    @get("/fault")
    async def fault() -> None:
        raise RuntimeError("a bug")

    logging_plugin = StructlogPlugin(structlog_config(as_json=True, level="INFO"))
    test_client = create_test_client([tus, fault], plugins=[logging_plugin, problem_details_plugin()])
    with_request_context(test_client.app, AccessLog(ImmediateOutput(), level="INFO", as_json=True))  # the lines
    with test_client as http:
        capsys.readouterr()
        assert http.get("/tus").status_code == 412
        refusal = [line for line in capsys.readouterr().out.splitlines() if "/tus" in line or "412" in line]
        assert http.get("/fault").status_code == 500
        fault_output = capsys.readouterr().out
    assert "Traceback" not in "".join(refusal) and '"level":"error"' not in "".join(refusal)
    assert [line for line in refusal if '"status_code":412' in line] and all('"level":"info"' in line
                                                                            for line in refusal)
    assert "Traceback" in fault_output and '"level":"error"' in fault_output


def test_a_handler_that_streams_its_body_still_gets_all_of_it_whatever_the_content_type_says():
    from litestar import Request

    async def drained(request: Request) -> bytes:
        chunks = []
        while True:
            message = await request.receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)

    @post("/bounded", status_code=200)
    async def bounded(request: Request) -> dict:
        return {"length": len(await drained(request))}

    @post("/upload", status_code=200, request_max_body_size=None)  # streams, like an upload: never read by the guard
    async def upload(request: Request) -> dict:
        return {"length": len(await drained(request))}

    form = {"content-type": "application/x-www-form-urlencoded"}  # what curl --data-binary sends by default
    with create_test_client([bounded, upload], plugins=[problem_details_plugin()],
                            middleware=[InputGuard]) as http:
        assert http.post("/bounded", content=b"%PDF-1.4 a=b", headers=form).json() == {"length": 12}
        assert http.post("/upload", content=b"%PDF-1.4\x00" * 1000, headers=form).json() == {"length": 9000}
