"""What a guest and a firm's backend do against the running stack, in a few helpers the e2e tests share."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx

LANDING = re.compile(r'(?:url=|href=")(?P<path>/g/(?P<link_id>[A-Za-z0-9_-]+)/)')
CLICK_THROUGH = '<form method="post" class="continue-form">'  # a link with a use limit waits for a click


@dataclass
class IssuedLink:
    link_id: str
    url: str
    resource_id: str

    @property
    def token(self) -> str:
        return self.url.rsplit("/l/", 1)[1]


class Firm:
    """The firm's backend: the links staff API with the development tenant's key."""

    def __init__(self, stack_env: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=stack_env["LINKS_URL"], timeout=15,
                                 headers={"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"})
        self.issued: list[IssuedLink] = []

    def issue(self, action: str, *, resource_id: str | None = None, recipients: list[dict] | None = None,
              **options) -> list[IssuedLink]:
        resource_id = resource_id or f"{action}-{uuid.uuid4().hex[:10]}"
        body = {"action": action, "resource_id": resource_id,
                "recipients": recipients or [{"email": f"guest-{uuid.uuid4().hex[:8]}@example.com"}], **options}
        response = self.http.post("/v1/links", json=body)
        assert response.status_code == 201, response.text
        links = [IssuedLink(item["link_id"], item["url"], resource_id) for item in response.json()["links"]]
        self.issued += links
        return links

    def revoke(self, link_id: str) -> None:
        response = self.http.post(f"/v1/links/{link_id}/revoke")
        assert response.status_code == 200, response.text

    def status(self, link_id: str) -> dict:
        return self.http.get(f"/v1/links/{link_id}").json()


class DocumentsDesk:
    """The firm's backend on the documents staff API: shares and upload requests, each issuing their links."""

    def __init__(self, stack_env: dict[str, str], firm: Firm) -> None:
        self.firm = firm
        self.http = httpx.Client(base_url=stack_env["DOCUMENTS_URL"], timeout=30,
                                 headers={"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"})
        account = self._created(self.http.post("/v1/accounts", json={"name": "E2E guests", "kind": "guest"}))
        self.account_id = account["account_id"]
        self.folder_id = self._created(self.http.post(f"/v1/accounts/{self.account_id}/folders",
                                                      json={"name": f"folder-{uuid.uuid4().hex[:6]}"}))["folder_id"]

    @staticmethod
    def _created(response: httpx.Response) -> dict:
        assert response.status_code == 201, response.text
        return response.json()

    def share(self, content: bytes = b"%PDF-1.4\n%e2e\n", name: str = "statement.pdf", **options) -> IssuedLink:
        document = self._created(self.http.post(
            "/v1/documents", content=content,
            params={"account_id": self.account_id, "folder_id": self.folder_id, "name": name}))
        share = self._created(self.http.post(f"/v1/documents/{document['document_id']}/shares", json={
            "recipients": [{"email": f"guest-{uuid.uuid4().hex[:8]}@example.com"}], **options}))
        [link] = share["links"]
        return self._remember(IssuedLink(link["link_id"], link["url"], share["share_id"]))

    def request_upload(self, **options) -> IssuedLink:
        request = self._created(self.http.post("/v1/upload-requests", json={
            "folder_id": self.folder_id, "recipients": [{"email": f"guest-{uuid.uuid4().hex[:8]}@example.com"}],
            **options}))
        [link] = request["links"]
        return self._remember(IssuedLink(link["link_id"], link["url"], request["upload_request_id"]))

    def _remember(self, link: IssuedLink) -> IssuedLink:
        self.firm.issued.append(link)
        return link


class Guest:
    """A browser-like client: keeps cookies, follows the gateway's landing page like a browser would."""

    def __init__(self, gateway_url: str, *, language: str = "en") -> None:
        self.http = httpx.Client(base_url=gateway_url, timeout=15, follow_redirects=True,
                                 headers={"Accept-Language": language})

    def open(self, url: str) -> httpx.Response:
        """Open the link's URL; on success the gateway answers with a page moving on to the token-free URL."""
        return self.http.get(url)

    def enter(self, url: str) -> tuple[str, httpx.Response]:
        """Open the link and follow on to its landing page (clicking through, if the link has a use limit); return
        the link id and that page."""
        opened = self.open(url)
        assert opened.status_code == 200, opened.text
        if CLICK_THROUGH in opened.text:
            landing = self.http.post(url)  # the page's form posts back to the link; its redirect is followed
            match = LANDING.search(f'href="{landing.url.path}"')
            assert match, f"the click did not lead under /g/: {landing.url}"
            return match["link_id"], landing
        match = LANDING.search(opened.text)
        assert match, f"no way on from the landing page: {opened.text[:500]}"
        return match["link_id"], self.http.get(match["path"])


def an_invoice(stack_env: dict[str, str]) -> str:
    """A real, issued invoice of the development tenant at payments: what a ``pay`` link must lead to."""
    with httpx.Client(base_url=stack_env["PAYMENTS_URL"], timeout=15,
                      headers={"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"}) as payments:
        created = payments.post("/v1/invoices", json={
            "account_id": "e2e", "number": f"E2E-{uuid.uuid4().hex[:10]}", "currency": "EUR",
            "issue_date": "2026-12-01", "due_date": "2026-12-31",
            "lines": [{"description": "Advice", "unit_price": "100", "tax_rate": "21"}],
            "payer": {"email": "payer@example.com"}})
        assert created.status_code == 201, created.text
        invoice_id = created.json()["invoice_id"]
        assert payments.post(f"/v1/invoices/{invoice_id}/issue").status_code == 200
    return invoice_id
