"""Guest traffic reaches a service only with the gateway's assertion for that very service."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.testing import TestClient

from loginless.shared.web.assertion import (
    ASSERTION_HEADER,
    AssertionSigner,
    AssertionVerifier,
    GuestAssertion,
    GuestRecipient,
    generate_key_pair,
)
from loginless.shared.web.auth import provide_guest
from loginless.shared.web.guest_stub import guest_stub_controller
from loginless.shared.web.problems import problem_details_plugin

pytestmark = pytest.mark.unit

PRIVATE, PUBLIC = generate_key_pair()


def signing_app(public_key: str | None = PUBLIC) -> Litestar:
    verifier = AssertionVerifier(public_key, audience="signing") if public_key else None
    return Litestar(
        [guest_stub_controller("signing")],
        dependencies={"guest": Provide(provide_guest, sync_to_thread=False)},
        plugins=[problem_details_plugin()],
        state=State({"runtime": SimpleNamespace(context=SimpleNamespace(guest_assertions=verifier))}),
    )


def assertion_for(audience: str, resource_id: str = "doc-1") -> str:
    return AssertionSigner(PRIVATE).sign(GuestAssertion(
        link_id="link-1", tenant_id="t1", action="sign", resource_id=resource_id, recipient=GuestRecipient(),
        link_expires_at=datetime.now(UTC) + timedelta(days=1), audience=audience,
    ))


def test_a_request_that_skipped_the_gateway_is_refused():
    with TestClient(signing_app()) as http:
        response = http.get("/guest/")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_an_assertion_for_another_service_is_refused():
    with TestClient(signing_app()) as http:
        response = http.get("/guest/", headers={ASSERTION_HEADER: assertion_for("payments")})
    assert response.status_code == 401


def test_a_service_without_the_gateway_key_accepts_no_guest_at_all():
    with TestClient(signing_app(public_key=None)) as http:
        response = http.get("/guest/", headers={ASSERTION_HEADER: assertion_for("signing")})
    assert response.status_code == 401


def test_the_page_shows_the_resource_from_the_assertion_whatever_the_path_says():
    with TestClient(signing_app()) as http:
        response = http.get("/guest/documents/doc-2", headers={ASSERTION_HEADER: assertion_for("signing")})
    assert response.status_code == 200
    assert '<code data-resource-id>doc-1</code>' in response.text
    assert "<code data-path>/documents/doc-2</code>" in response.text
