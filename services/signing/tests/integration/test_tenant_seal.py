"""A tenant's own seal: its PKCS#12 checked when given (password, validity), kept encrypted and out of every event,
and used for its documents from then on; removed, the platform's seal takes over again."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta

import pytest

from loginless.signing.handlers import work_through_jobs
from loginless.signing.pdf import development_ca, validate_sealed

from .conftest import envelope_body
from .test_envelopes import sign_typed

pytestmark = pytest.mark.integration

FIRM_CA = development_ca(now=datetime.now(UTC), organisation="Ortega & Lane", password=b"s3cret")


def seal_body(ca=FIRM_CA, password: str | None = "s3cret") -> dict:  # noqa: ANN001
    return {"pkcs12_base64": base64.b64encode(ca.seal_pkcs12).decode(), "password": password}


async def test_a_tenants_own_seal_seals_its_documents_and_is_kept_out_of_every_event(client, harness, tenant):
    saved = await client.put("/v1/seal", json=seal_body(), headers=tenant.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["own"] is True and "Ortega" in saved.json()["subject"]

    answer = await client.post("/v1/envelopes", json=envelope_body(("Ana", "ana@example.test")),
                               headers=tenant.headers)
    envelope_id = answer.json()["envelope_id"]
    await sign_typed(client, harness.guest_headers(harness.link_of(envelope_id, "ana@example.test")), "Ana")
    await work_through_jobs(harness.context())

    sealed = (await client.get(f"/v1/envelopes/{envelope_id}/documents/0/sealed", headers=tenant.headers)).content
    assert (await asyncio.to_thread(validate_sealed, sealed, [FIRM_CA.root_certificate_pem])).ok
    assert not (await asyncio.to_thread(validate_sealed, sealed, [harness.trust_root_pem])).ok  # not the platform's
    events = await harness.pool.fetch(f'SELECT data::text AS data FROM "{harness.settings.schema}".events'
                                      " WHERE tenant_id = $1", tenant.tenant_id)
    secret_prefix = base64.b64encode(FIRM_CA.seal_pkcs12).decode()[:40]
    assert events and not any(secret_prefix in row["data"] or "s3cret" in row["data"] for row in events)
    stored = await harness.pool.fetchval(f'SELECT sealed FROM "{harness.settings.schema}".tenant_seals'
                                         " WHERE tenant_id = $1", tenant.tenant_id)
    assert FIRM_CA.seal_pkcs12[:64] not in stored  # encrypted at rest

    assert (await client.delete("/v1/seal", headers=tenant.headers)).status_code == 204
    assert (await client.get("/v1/seal", headers=tenant.headers)).json() == {
        "own": False, "subject": None, "fingerprint": None, "not_after": None}


@pytest.mark.parametrize(("problem", "body"), [
    ("unreadable", seal_body(password="wrong")),
    ("expired", seal_body(development_ca(now=datetime.now(UTC) - timedelta(days=30), valid_for=timedelta(days=2)),
                          password=None)),
    ("not base64", {"pkcs12_base64": "***", "password": None}),
])
async def test_a_seal_that_cannot_sign_is_refused_when_given_and_nothing_changes(client, tenant, problem, body):
    answer = await client.put("/v1/seal", json=body, headers=tenant.headers)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    if problem != "not base64":
        assert answer.json()["problem"] == problem
    assert (await client.get("/v1/seal", headers=tenant.headers)).json()["own"] is False
