"""Pay to unlock on the running stack: a document shared locked until an invoice is paid shows its guest which
invoice unlocks it and refuses the download; the payer pays the invoice through its own link on the built-in test
provider; payments announces InvoicePaid, documents unlocks the share, and the same link then downloads it."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from loginless.testkit.guests import DocumentsDesk, Guest
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.e2e

CONTENT = b"%PDF-1.4\n%locked until paid " + uuid.uuid4().hex.encode() + b"\n"


def issued_invoice(stack_env: dict[str, str]) -> dict:
    with httpx.Client(base_url=stack_env["PAYMENTS_URL"], timeout=30,
                      headers={"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"}) as payments:
        created = payments.post("/v1/invoices", json={
            "account_id": "e2e", "number": f"E2E-{uuid.uuid4().hex[:8]}", "currency": "EUR",
            "issue_date": "2026-12-01", "due_date": "2026-12-31",
            "lines": [{"description": "Annual accounts", "unit_price": "100", "tax_rate": "21"}],
            "payer": {"email": f"payer-{uuid.uuid4().hex[:8]}@example.com"}})
        assert created.status_code == 201, created.text
        issued = payments.post(f"/v1/invoices/{created.json()['invoice_id']}/issue")
        assert issued.status_code == 200, issued.text
        return issued.json()


def pay_on_the_test_provider(gateway_url: str, pay_link_url: str) -> None:
    """What the payer's browser does: the pay form, then "Approve" on the test provider's page."""
    payer = Guest(gateway_url)
    link_id, page = payer.enter(pay_link_url)
    attempt = re.search(r'name="attempt" value="([^"]+)"', page.text)[1]
    provider_page = payer.http.post(f"/g/{link_id}/pay", data={"name": "Luis Pérez", "email": "luis@example.com",
                                                               "attempt": attempt})
    assert provider_page.status_code == 200 and "data-test-provider" in provider_page.text, provider_page.text[:500]
    paid = payer.http.post(provider_page.url.path, data={"choice": "approve"})
    assert paid.status_code == 200 and "data-paid" in paid.text


async def test_a_locked_share_downloads_once_its_invoice_is_paid_on_the_test_provider(stack_env, firm):
    invoice = issued_invoice(stack_env)
    link = DocumentsDesk(stack_env, firm).share(content=CONTENT, name="tax-return.pdf",
                                                 locked_until_paid=invoice["invoice_id"])
    guest = Guest(stack_env["GATEWAY_URL"])
    link_id, page = guest.enter(link.url)
    assert page.status_code == 200 and "data-locked" in page.text and "/download" not in page.text
    refused = guest.http.get(f"/g/{link_id}/download", follow_redirects=False)
    assert refused.status_code == 403 and CONTENT not in refused.content

    pay_on_the_test_provider(stack_env["GATEWAY_URL"], invoice["link_url"])

    async def downloaded() -> bytes | None:
        answer = guest.http.get(f"/g/{link_id}/download")  # the 303 to S3 followed, as a browser does
        return answer.content if answer.status_code == 200 else None

    assert await eventually(downloaded, timeout=90, interval=0.5, message="the share unlocked") == CONTENT
