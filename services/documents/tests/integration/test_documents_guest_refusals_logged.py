"""A refusal a guest caused is one log line at info level, never an error with a traceback: a tus request without
Tus-Resumable (412), a PATCH body of the wrong type (415), a PATCH at the wrong offset (409), against the real
documents app with PostgreSQL and S3. (A fault of ours still logs its traceback: shared/tests/unit.)"""

import json

import pytest
from litestar.testing import AsyncTestClient

from loginless.documents.bootstrap import create_app
from loginless.shared.web.assertion import ASSERTION_HEADER

pytestmark = pytest.mark.integration


@pytest.fixture
async def logging_client(harness):
    """The service as deployed logs: at info level (the shared test client logs warnings only)."""
    settings = harness.settings.model_copy(update={"log_level": "INFO"})
    async with AsyncTestClient(create_app(settings, links=harness.links, clock=harness.clock), timeout=60) as http:
        yield http


async def test_a_guests_tus_mistakes_are_logged_as_one_info_line_each(logging_client, harness, tenant, capfd):
    client = logging_client
    account = (await client.post("/v1/accounts", json={"name": "Guests", "kind": "guest"},
                                 headers=tenant.headers)).json()
    folder = (await client.post(f"/v1/accounts/{account['account_id']}/folders", json={"name": "Bank"},
                                headers=tenant.headers)).json()
    request = (await client.post("/v1/upload-requests", headers=tenant.headers, json={
        "folder_id": folder["folder_id"], "recipients": [{"email": "banker@example.test"}]})).json()
    tus = harness.tus(client, request["links"][0]["link_id"])
    path = tus.path_of(await tus.create(1000, filename="a.pdf"))
    capfd.readouterr()

    no_version = await client.post("/guest/uploads", headers={ASSERTION_HEADER: tus.headers[ASSERTION_HEADER],
                                                              "upload-length": "10"})
    wrong_type = await client.patch(path, content=b"x", headers={**tus.headers, "upload-offset": "0",
                                                                  "content-type": "text/plain"})
    wrong_offset = await client.patch(path, content=b"x", headers={
        **tus.headers, "upload-offset": "500", "content-type": "application/offset+octet-stream"})
    assert [no_version.status_code, wrong_type.status_code, wrong_offset.status_code] == [412, 415, 409]

    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    responses = [line for line in lines if line.get("event") == "HTTP Response"]
    assert [line["status_code"] for line in responses] == [412, 415, 409]
    assert {line["level"] for line in lines} == {"info"}  # no error or exception line among them
    assert not [line for line in lines if "exception" in line or "Traceback" in json.dumps(line)]
