"""The links client when links answers badly or not at all (what links answers when it is well is the contract
suite's business): each failure is either an error the caller can act on or ``LinksUnavailable``, a 503."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from loginless.links.client import (
    LinkGone,
    LinksClient,
    LinksRefused,
    LinksUnavailable,
    VerificationCodeTooSoon,
    VerificationLocked,
    WrongVerificationCode,
)
from loginless.links.views import ClientIn, IssueLinksIn, RecipientIn
from loginless.shared.branding import Branding

pytestmark = pytest.mark.unit

SECRET = "internal-secret"
LINK_ID = "3f0c5c52-8a43-4a33-9b7e-0a4bd1b9a001"
REQUEST = IssueLinksIn(action="view", resource_id="doc-1", recipients=[RecipientIn(email="a@example.test")])
Answer = Callable[[httpx.Request], httpx.Response]


class LinksStandIn:
    """Answers every request with ``answer`` and keeps the requests."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def client_of(stand_in: LinksStandIn, **options: float) -> LinksClient:
    return LinksClient("http://links.test/", SECRET, transport=httpx.MockTransport(stand_in), **options)


def every_call(links: LinksClient) -> dict[str, Callable]:
    """Every call of the API that raises when links cannot answer (``branding`` never raises)."""
    return {
        "verify_api_key": lambda: links.verify_api_key("ll_k_" + "x" * 43),
        "resolve": lambda: links.resolve("t" * 43),
        "get": lambda: links.get(LINK_ID),
        "record_opened": lambda: links.record_opened(LINK_ID, ClientIn()),
        "use": lambda: links.use(LINK_ID, ClientIn()),
        "send_verification_code": lambda: links.send_verification_code(LINK_ID),
        "check_verification_code": lambda: links.check_verification_code(LINK_ID, "123456"),
        "issue": lambda: links.issue("firm-1", REQUEST),
        "revoke": lambda: links.revoke("firm-1", LINK_ID),
    }


async def outcomes_of(links: LinksClient) -> dict[str, str]:
    outcomes = {}
    for name, call in every_call(links).items():
        try:
            await call()
            outcomes[name] = "answered"
        except Exception as error:  # noqa: BLE001 -- the error's name is the outcome
            outcomes[name] = type(error).__name__
    return outcomes


def refuse_to_connect(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def time_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


@pytest.mark.parametrize("answer", [refuse_to_connect, time_out], ids=["unreachable", "too slow"])
async def test_links_unreachable_or_too_slow_is_links_unavailable_and_branding_is_unknown(answer):
    links = client_of(LinksStandIn(answer))
    assert await outcomes_of(links) == dict.fromkeys(every_call(links), "LinksUnavailable")
    assert await links.branding("firm-1") is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_an_answer_of_5xx_is_links_unavailable(status):
    links = client_of(LinksStandIn(lambda request: httpx.Response(status, json={"title": "oops"})))
    assert await outcomes_of(links) == dict.fromkeys(every_call(links), "LinksUnavailable")


async def test_a_refused_internal_secret_is_links_unavailable_never_the_callers_fault():
    """403: our secret is wrong, an operator's problem; an unknown link or key must not be claimed from it."""
    links = client_of(LinksStandIn(lambda request: httpx.Response(403, json={"title": "forbidden"})))
    assert await outcomes_of(links) == dict.fromkeys(every_call(links), "LinksUnavailable")


@pytest.mark.parametrize("body", [b"<html>bad gateway</html>", b"{}", b'{"link_id": 7}', b"[]"],
                         ids=["html", "empty object", "wrong types", "a list"])
async def test_an_answer_the_client_cannot_read_is_links_unavailable(body):
    def answer(request: httpx.Request) -> httpx.Response:
        status = 201 if request.url.path.endswith("/links") else 200
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    links = client_of(LinksStandIn(answer))
    outcomes = await outcomes_of(links)
    for name in ("verify_api_key", "resolve", "get", "use", "issue", "revoke"):
        assert outcomes[name] == "LinksUnavailable", name


async def test_an_answer_links_never_gives_is_links_unavailable():
    links = client_of(LinksStandIn(lambda request: httpx.Response(418)))
    assert set((await outcomes_of(links)).values()) == {"LinksUnavailable"}


async def test_every_call_carries_the_internal_secret_and_stays_under_the_internal_api():
    stand_in = LinksStandIn(lambda request: httpx.Response(503))
    links = client_of(stand_in)
    await outcomes_of(links)
    await links.branding("firm-1")
    assert len(stand_in.requests) == len(every_call(links)) + 1
    for request in stand_in.requests:
        assert request.headers["authorization"] == f"Bearer {SECRET}"
        assert request.url.path.startswith("/internal/v1/"), request.url


@pytest.mark.parametrize(("body", "expected"), [
    ({"status": 410, "link_status": "used_up", "link_id": LINK_ID, "tenant_id": "t1"}, (LINK_ID, "t1", "used_up")),
    ({"status": 410, "link_id": LINK_ID, "tenant_id": "t1"}, (LINK_ID, "t1", "expired")),  # the mildest reason
    ({"status": 410, "link_status": 3}, (None, None, "expired")),
])
async def test_a_gone_answer_says_why_the_link_is_closed(body, expected):
    links = client_of(LinksStandIn(lambda request: httpx.Response(410, json=body)))
    with pytest.raises(LinkGone) as gone:
        await links.resolve("t" * 43)
    assert (gone.value.link_id, gone.value.tenant_id, gone.value.link_status) == expected


async def test_a_gone_answer_that_is_not_json_is_still_gone():
    links = client_of(LinksStandIn(lambda request: httpx.Response(410, content=b"<html>proxy error</html>")))
    with pytest.raises(LinkGone) as gone:
        await links.use(LINK_ID, ClientIn())
    assert (gone.value.link_id, gone.value.link_status) == (None, "expired")


async def test_an_issue_sends_its_idempotency_key_and_only_the_fields_given():
    stand_in = LinksStandIn(lambda request: httpx.Response(503))
    links = client_of(stand_in)
    with pytest.raises(LinksUnavailable):
        await links.issue("firm-1", REQUEST, idempotency_key="shr_1/0")
    [request] = stand_in.requests
    assert request.headers["idempotency-key"] == "shr_1/0"
    assert json.loads(request.content) == {"action": "view", "resource_id": "doc-1",
                                           "recipients": [{"email": "a@example.test"}]}
    with pytest.raises(LinksUnavailable):
        await links.issue("firm-1", REQUEST)
    assert "idempotency-key" not in stand_in.requests[1].headers


async def test_a_refused_issue_names_the_fields_to_fix():
    errors = [{"field": "recipients[0].email", "message": "not an e-mail address"}]
    links = client_of(LinksStandIn(lambda request: httpx.Response(422, json={"detail": "no", "errors": errors})))
    with pytest.raises(LinksRefused) as refused:
        await links.issue("firm-1", REQUEST)
    assert refused.value.extra["errors"] == errors and refused.value.status_code == 422


async def test_verification_answers_become_the_errors_the_guest_page_explains():
    answers = {423: {"title": "locked"}, 429: {"retry_after": 12}, 422: {"attempts_left": 2}}
    status = 0
    links = client_of(LinksStandIn(lambda request: httpx.Response(status, json=answers[status])))
    status = 429
    with pytest.raises(VerificationCodeTooSoon) as too_soon:
        await links.send_verification_code(LINK_ID)
    status = 422
    with pytest.raises(WrongVerificationCode) as wrong:
        await links.check_verification_code(LINK_ID, "000000")
    status = 423
    with pytest.raises(VerificationLocked):
        await links.check_verification_code(LINK_ID, "000000")
    assert (too_soon.value.extra["retry_after"], wrong.value.attempts_left) == (12, 2)


@pytest.mark.parametrize("status", [401, 422])
async def test_a_key_links_does_not_accept_is_no_key(status):
    links = client_of(LinksStandIn(lambda request: httpx.Response(status, json={"title": "no"})))
    assert await links.verify_api_key("ll_k_" + "x" * 43) is None


async def test_branding_is_remembered_and_the_last_known_one_served_while_links_is_down():
    answers = [httpx.Response(200, json={"name": "Gestoría López", "color": "#aa3300", "extra": "ignored"})]
    stand_in = LinksStandIn(lambda request: answers.pop(0) if answers else refuse_to_connect(request))
    remembering = client_of(stand_in)
    assert await remembering.branding("t1") == Branding(name="Gestoría López", color="#aa3300")
    assert await remembering.branding("t1") == Branding(name="Gestoría López", color="#aa3300")
    assert len(stand_in.requests) == 1

    answers.append(httpx.Response(200, json={"name": "Gestoría López"}))
    stale = client_of(stand_in, branding_cache_seconds=0)
    assert (await stale.branding("t1")).name == "Gestoría López"
    assert (await stale.branding("t1")).name == "Gestoría López"  # links is down now: the last one known
    assert await stale.branding("t2") is None  # never known


async def test_branding_of_a_firm_links_does_not_know_is_none():
    links = client_of(LinksStandIn(lambda request: httpx.Response(404, json={"title": "no such tenant"})))
    assert await links.branding("nobody") is None
