"""The page of a service whose guest pages are not built yet: only with the gateway's assertion for that very
service, in the guest's language, with the firm's branding, showing the assertion's resource whatever the path."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.testing import TestClient

from loginless.shared.branding import Branding
from loginless.shared.guest.language import CHOSEN_LANGUAGE_HEADER
from loginless.shared.guest.pages import guest_template_config
from loginless.shared.guest.placeholder import placeholder_pages
from loginless.shared.web.assertion import (
    ASSERTION_HEADER,
    FORWARDED_PREFIX_HEADER,
    AssertionSigner,
    AssertionVerifier,
    GuestAssertion,
    GuestRecipient,
    generate_key_pair,
)
from loginless.shared.web.auth import provide_guest
from loginless.shared.web.problems import problem_details_plugin

pytestmark = pytest.mark.unit

PRIVATE, PUBLIC = generate_key_pair()
FIRM = Branding(name="Ortega & Lane", color="#0b6e4f", contact_email="desk@ortega-lane.test")
EXPIRES = datetime(2026, 3, 12, 9, 5, tzinfo=UTC)


class Brandings:
    async def branding(self, tenant_id: str) -> Branding | None:
        return FIRM if tenant_id == "t1" else None


def signing_app(public_key: str | None = PUBLIC) -> Litestar:
    verifier = AssertionVerifier(public_key, audience="signing") if public_key else None
    context = SimpleNamespace(guest_assertions=verifier, links=Brandings())
    return Litestar(
        placeholder_pages("signing"),
        dependencies={"guest": Provide(provide_guest, sync_to_thread=False)},
        plugins=[problem_details_plugin()],
        template_config=guest_template_config(),
        state=State({"runtime": SimpleNamespace(context=context)}),
    )


def assertion_for(audience: str, *, language: str | None = None, tenant_id: str = "t1") -> str:
    return AssertionSigner(PRIVATE).sign(GuestAssertion(
        link_id="lnk_1", tenant_id=tenant_id, action="sign", resource_id="doc-1",
        recipient=GuestRecipient(language=language), link_expires_at=EXPIRES, audience=audience,
    ))


def guest_headers(**assertion) -> dict[str, str]:
    return {ASSERTION_HEADER: assertion_for("signing", **assertion), FORWARDED_PREFIX_HEADER: "/g/lnk_1"}


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
        response = http.get("/guest/documents/doc-2", headers=guest_headers())
    assert response.status_code == 200
    assert "<code data-resource-id>doc-1</code>" in response.text and "doc-2" not in response.text
    assert response.headers["cache-control"] == "no-store"


def test_an_english_speaking_recipient_reads_it_in_english_with_the_firms_branding():
    with TestClient(signing_app()) as http:
        page = http.get("/guest/", headers=guest_headers(language="en")).text
    assert '<html lang="en">' in page
    assert '<h1 data-service="signing">Sign a document</h1>' in page
    assert "Ortega &amp; Lane sent you this secure link." in page
    assert "If you expected to do something here, contact Ortega &amp; Lane." in page
    assert "March 12, 2026 at 09:05 UTC" in page
    assert 'href="/g/lnk_1/static/guest.css"' in page and 'href="/g/lnk_1/brand/0b6e4f.css"' in page
    assert 'href="mailto:desk@ortega-lane.test"' in page


def test_a_spanish_speaking_recipient_reads_it_in_spanish():
    with TestClient(signing_app()) as http:
        page = http.get("/guest/", headers={**guest_headers(language="es"), "accept-language": "en"}).text
    assert '<html lang="es">' in page
    assert '<h1 data-service="signing">Firmar un documento</h1>' in page
    assert "Ortega &amp; Lane le ha enviado este enlace seguro." in page
    assert "12 de marzo de 2026 a las 09:05 UTC" in page


def test_the_guests_choice_passed_on_by_the_gateway_beats_the_recipients_language():
    with TestClient(signing_app()) as http:
        page = http.get("/guest/", headers={**guest_headers(language="en"), CHOSEN_LANGUAGE_HEADER: "es"}).text
    assert '<html lang="es">' in page


def test_without_the_firms_branding_the_page_still_works_and_names_nobody():
    with TestClient(signing_app()) as http:
        page = http.get("/guest/", headers=guest_headers(tenant_id="unknown")).text
    assert "If you expected to do something here, contact whoever sent you the link." in page
    assert "/brand/" not in page


def test_the_kit_assets_are_served_beside_the_page_without_an_assertion():
    with TestClient(signing_app()) as http:
        assert http.get("/guest/static/guest.css").status_code == 200
        assert http.get("/guest/brand/0b6e4f.css").status_code == 200
