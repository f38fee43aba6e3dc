"""With an admin port, a service's own port no longer answers the internal paths (metrics, schema, the detailed
readiness answer) and the admin port answers nothing else but liveness; which port is the listening socket's."""

import httpx
import pytest

from loginless.shared.web.admin import NOT_SERVED_HERE, AdminPortSplit

pytestmark = pytest.mark.unit

OWN_PORT, ADMIN_PORT = 8000, 9000
INTERNAL = ["/metrics", "/schema", "/schema/openapi.json", "/health/ready"]


class PathEcho:
    """An app that answers 200 with the path it was asked for."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        self.seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})


def client(app, port: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://service:{port}")


@pytest.mark.parametrize("path", INTERNAL)
async def test_the_own_port_answers_an_internal_path_as_a_path_it_does_not_serve(path):
    app = PathEcho()
    async with client(AdminPortSplit(app, ADMIN_PORT), OWN_PORT) as http:
        answer = await http.get(path + "?format=text")
    assert answer.text == NOT_SERVED_HERE and app.seen == [NOT_SERVED_HERE]


@pytest.mark.parametrize("path", ["/health/live", "/v1/links", "/l/some-token", "/metricsfoo", "/schemata"])
async def test_the_own_port_serves_everything_else(path):
    async with client(AdminPortSplit(PathEcho(), ADMIN_PORT), OWN_PORT) as http:
        assert (await http.get(path)).text == path


@pytest.mark.parametrize("path", [*INTERNAL, "/health/live"])
async def test_the_admin_port_serves_the_internal_paths_and_liveness(path):
    async with client(AdminPortSplit(PathEcho(), ADMIN_PORT), ADMIN_PORT) as http:
        assert (await http.get(path)).text == path


@pytest.mark.parametrize("path", ["/v1/links", "/l/some-token", "/internal/v1/links/resolve", "/"])
async def test_the_admin_port_serves_nothing_else(path):
    app = PathEcho()
    async with client(AdminPortSplit(app, ADMIN_PORT), ADMIN_PORT) as http:
        answer = await http.get(path)
    assert answer.status_code == 404 and app.seen == []


async def test_lifespan_events_reach_the_app_untouched():
    received = []

    async def app(scope, receive, send) -> None:
        received.append(scope["type"])

    await AdminPortSplit(app, ADMIN_PORT)({"type": "lifespan"}, None, None)
    assert received == ["lifespan"]
