"""The HTTP adapter to the links service, against an in-memory stand-in of its API (no network)."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from loginless.documents.domain import Recipient
from loginless.documents.ports import HttpLinks, LinksRefused
from loginless.shared.errors import DependencyUnavailable, InvalidRequest

pytestmark = pytest.mark.unit

EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)


class LinksStandIn:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.branding_calls = 0
        self.status = 201

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/links":
            if self.status != 201:
                return httpx.Response(self.status, json={"detail": "recipients[0].email is not valid"})
            body = json.loads(request.content)
            return httpx.Response(201, json={"links": [
                {"link_id": f"lnk_{n}", "url": f"https://guests.example/l/token{n}", "recipient": recipient,
                 "expires_at": body["expires_at"], "delivery": "email", "status": "active"}
                for n, recipient in enumerate(body["recipients"])]})
        if request.url.path.endswith("/revoke"):
            return httpx.Response(404)
        if request.url.path.endswith("/branding"):
            self.branding_calls += 1
            return httpx.Response(200, json={"name": "Gestoría López", "color": "#aa3300", "extra": "ignored"})
        return httpx.Response(500)


@pytest.fixture
def links():
    stand_in = LinksStandIn()
    return stand_in, HttpLinks("http://links.test", "internal-secret", transport=httpx.MockTransport(stand_in))


async def test_links_are_issued_with_the_callers_own_key_one_per_recipient(links):
    stand_in, client = links
    issued = await client.issue(authorization="Bearer staff-key", action="view", resource_id="shr_1",
                                recipients=[Recipient("a@example.test", "Ana", "es"), Recipient("b@example.test")],
                                expires_at=EXPIRES, idempotency_key="shr_1")
    assert [link.link_id for link in issued] == ["lnk_0", "lnk_1"]
    assert issued[0].email == "a@example.test" and issued[0].expires_at == EXPIRES
    request = stand_in.requests[0]
    assert request.headers["authorization"] == "Bearer staff-key"
    assert request.headers["idempotency-key"] == "shr_1"
    body = json.loads(request.content)
    assert body["action"] == "view" and body["resource_id"] == "shr_1"
    assert body["recipients"][0] == {"email": "a@example.test", "delivery": "email", "name": "Ana", "language": "es"}


async def test_refusals_keep_their_meaning(links):
    stand_in, client = links
    stand_in.status = 422
    with pytest.raises(InvalidRequest):
        await client.issue(authorization="Bearer k", action="upload", resource_id="upr_1",
                           recipients=[Recipient("a@example.test")], expires_at=EXPIRES)
    stand_in.status = 401
    with pytest.raises(LinksRefused) as refused:
        await client.issue(authorization="Bearer k", action="upload", resource_id="upr_1",
                           recipients=[Recipient("a@example.test")], expires_at=EXPIRES)
    assert refused.value.status_code == 401
    stand_in.status = 503
    with pytest.raises(DependencyUnavailable):
        await client.issue(authorization="Bearer k", action="upload", resource_id="upr_1",
                           recipients=[Recipient("a@example.test")], expires_at=EXPIRES + timedelta(days=1))


async def test_revoking_a_link_that_is_already_gone_is_fine(links):
    _, client = links
    await client.revoke(authorization="Bearer k", link_id="lnk_9")


async def test_branding_uses_the_internal_secret_and_is_cached(links):
    stand_in, client = links
    first = await client.branding("t1")
    again = await client.branding("t1")
    assert first == again and first.name == "Gestoría López"
    assert stand_in.branding_calls == 1
    assert stand_in.requests[0].headers["authorization"] == "Bearer internal-secret"
    assert stand_in.requests[0].url.path == "/internal/v1/tenants/t1/branding"
