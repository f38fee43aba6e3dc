"""The OpenAPI document lists the answers the kernel gives on every route, in the media type they are given in."""

import pytest
from litestar import get, post
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.testing import create_test_client
from pydantic import BaseModel

from loginless.shared.web.input_guard import MAX_PATH_VALUE_LENGTH, MAX_QUERY_VALUE_LENGTH
from loginless.shared.web.openapi import TruthfulJsonRenderPlugin
from loginless.shared.web.problems import problem_details_plugin

pytestmark = pytest.mark.unit


class Note(BaseModel):
    text: str


@post("/v1/notes/{note_id:str}", status_code=201)
async def add_note(note_id: FromPath[str], data: JSONBody[Note], idempotency_key: FromQuery[str | None] = None) -> Note:
    return data


@get("/robots.txt")
async def robots() -> str:
    return "User-agent: *"


def document() -> dict:
    config = OpenAPIConfig(title="t", version="1", path="/schema", render_plugins=[TruthfulJsonRenderPlugin()])
    with create_test_client([add_note, robots], openapi_config=config, plugins=[problem_details_plugin()]) as http:
        return http.get("/schema/openapi.json").json()


def test_every_error_the_kernel_can_answer_is_documented_as_a_problem():
    spec = document()
    operation = spec["paths"]["/v1/notes/{note_id}"]["post"]
    assert operation["security"] == [{"apiKey": []}]  # the staff API asks for a tenant's API key
    errors = {status: response for status, response in operation["responses"].items() if status >= "400"}
    assert set(errors) == {"400", "401", "404", "413", "422", "503"}
    for response in errors.values():
        assert set(response["content"]) == {"application/problem+json"}  # not Litestar's application/json 400
        assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert {"type", "title", "status", "detail"} <= set(spec["components"]["schemas"]["Problem"]["properties"])
    assert set(spec["paths"]["/robots.txt"]["get"]["responses"]) == {"200", "503"}  # no input, no 400 or 422


def test_path_and_query_strings_carry_the_limits_the_input_guard_enforces():
    parameters = {p["name"]: p for p in document()["paths"]["/v1/notes/{note_id}"]["post"]["parameters"]}
    assert parameters["note_id"]["schema"]["maxLength"] == MAX_PATH_VALUE_LENGTH
    query = parameters["idempotency_key"]["schema"]
    assert [option.get("maxLength") for option in query.get("oneOf", [query]) if option.get("type") == "string"] \
        == [MAX_QUERY_VALUE_LENGTH]
