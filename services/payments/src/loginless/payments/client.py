"""The payments service as the other services call it: one client, owned here beside the API it calls.

Notifications attaches a payment's receipt (PDF) to the mail it sends the payer. Every call goes to payments'
internal API (``/internal/v1``) with the internal secret. Payments down, slow, answering 5xx or refusing our secret
is :class:`PaymentsUnavailable` (a 503): the caller's batch rolls back and is tried again on its next round.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx
import structlog
from pydantic import BaseModel, Field

from loginless.shared.errors import DependencyUnavailable, NotFound
from loginless.shared.tracing import inject_trace_headers

log = structlog.get_logger(__name__)

INTERNAL = "/internal/v1"


class PaymentsClientSettings(BaseModel):
    """Settings of a service that calls payments (mixed into its settings class: ``<SERVICE>_PAYMENTS_URL``)."""

    payments_url: str = Field("http://127.0.0.1:8004", description="The payments service's internal API")
    payments_timeout_seconds: float = Field(30.0, gt=0, description="A receipt is drawn while the caller waits")


class PaymentsUnavailable(DependencyUnavailable):
    def __init__(self, detail: str = "the payments service is unavailable") -> None:
        super().__init__(detail, dependency="payments")


class PaymentsApi(Protocol):
    async def receipt_pdf(self, tenant_id: str, invoice_id: str, payment_id: str, *, language: str) -> bytes: ...

    async def close(self) -> None: ...


class PaymentsClient:
    """:class:`PaymentsApi` over HTTP."""

    def __init__(self, base_url: str, internal_secret: str, *, timeout_seconds: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/") + INTERNAL, timeout=timeout_seconds,
                                       headers={"authorization": f"Bearer {internal_secret}"}, transport=transport)

    @classmethod
    def from_settings(cls, settings: Any) -> PaymentsClient:
        """From a service's settings that mix in :class:`PaymentsClientSettings`."""
        return cls(settings.payments_url, settings.internal_api_secret.get_secret_value(),
                   timeout_seconds=settings.payments_timeout_seconds)

    async def close(self) -> None:
        await self._http.aclose()

    async def receipt_pdf(self, tenant_id: str, invoice_id: str, payment_id: str, *, language: str) -> bytes:
        """The receipt of a received payment; :class:`NotFound` when the tenant's invoice received no such one."""
        path = f"/tenants/{tenant_id}/invoices/{invoice_id}/payments/{payment_id}/receipt"
        try:
            response = await self._http.get(path, params={"language": language}, headers=inject_trace_headers({}))
        except httpx.HTTPError as error:
            log.warning("payments service unreachable", error=type(error).__name__)
            raise PaymentsUnavailable() from error
        if response.status_code == 200 and response.headers.get("content-type", "").startswith("application/pdf"):
            return response.content
        if response.status_code == 404:
            raise NotFound("payments has no such received payment", payment_id=payment_id)
        log.error("payments service refused or failed", status=response.status_code)
        raise PaymentsUnavailable(f"the payments service answered {response.status_code}")


@asynccontextmanager
async def payments_held(settings: Any, given: PaymentsApi | None = None) -> AsyncIterator[PaymentsApi]:
    """The payments service for the life of a process: ``given`` (tests give theirs), else a client of
    ``settings`` (mixing in :class:`PaymentsClientSettings`), closed at the end."""
    if given is not None:
        yield given
        return
    client = PaymentsClient.from_settings(settings)
    try:
        yield client
    finally:
        await client.close()
