"""Bank transfers matched from a camt.053 statement imported through the staff API: each booked credit quoting an
invoice's RF creditor reference is recorded once, whatever else the statement holds, however often it comes."""

from __future__ import annotations

import pytest

from .test_invoices import issue

pytestmark = pytest.mark.integration


def entry(reference: str, amount: str, *, rf: str | None = None, text: str | None = None, kind: str = "CRDT",
          currency: str = "EUR") -> str:
    remittance = (f"<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{rf}</Ref></CdtrRefInf></Strd>"
                  if rf else f"<Ustrd>{text or ''}</Ustrd>")
    return (f"<Ntry><Amt Ccy='{currency}'>{amount}</Amt><CdtDbtInd>{kind}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
            f"<BookgDt><Dt>2026-12-06</Dt></BookgDt><AcctSvcrRef>{reference}</AcctSvcrRef><NtryDtls><TxDtls>"
            f"<RltdPties><Dbtr><Pty><Nm>Luis Pérez</Nm></Pty></Dbtr></RltdPties><RmtInf>{remittance}</RmtInf>"
            "</TxDtls></NtryDtls></Ntry>")


def statement(*entries: str) -> bytes:
    return ("<?xml version='1.0' encoding='UTF-8'?><Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.08'>"
            "<BkToCstmrStmt><GrpHdr><MsgId>S1</MsgId><CreDtTm>2026-12-06T18:00:00</CreDtTm></GrpHdr><Stmt><Id>1</Id>"
            + "".join(entries) + "</Stmt></BkToCstmrStmt></Document>").encode()


async def test_a_statement_records_each_matched_transfer_once_and_says_why_others_were_not(client, tenant):
    partly, fully = await issue(client, tenant, partial_payments=True), await issue(client, tenant)
    rf_text = " ".join(fully["creditor_reference"][i:i + 4] for i in range(0, len(fully["creditor_reference"]), 4))
    body = statement(entry("B1", "400.00", rf=partly["creditor_reference"]),
                     entry("B2", "990.49", text=f"Invoice {fully['number']} {rf_text}"),
                     entry("B3", "990.49", rf=fully["creditor_reference"], kind="DBIT"),
                     entry("B4", "10.00", rf="RF18539007547034"),
                     entry("B5", "5.00", text="no reference at all"))
    headers = {**tenant.headers, "content-type": "application/xml"}

    imported = await client.post("/v1/statements", content=body, headers=headers)

    assert imported.status_code == 200, imported.text
    outcomes = {line["entry_reference"]: (line["outcome"], line["invoice_id"]) for line in imported.json()["credits"]}
    assert outcomes == {"B1/0": ("recorded", partly["invoice_id"]), "B2/0": ("recorded", fully["invoice_id"]),
                        "B4/0": ("no invoice has this reference", None), "B5/0": ("no RF creditor reference", None)}
    assert (await client.get(f"/v1/invoices/{fully['invoice_id']}", headers=tenant.headers)).json()["status"] == "paid"
    part = (await client.get(f"/v1/invoices/{partly['invoice_id']}", headers=tenant.headers)).json()
    assert (part["status"], part["paid_minor"], part["payments"][0]["payer_name"]) == ("partially_paid", 40000,
                                                                                        "Luis Pérez")

    again = await client.post("/v1/statements", content=body, headers=headers)
    assert [line["outcome"] for line in again.json()["credits"]][:2] == ["recorded before", "recorded before"]
    part_again = (await client.get(f"/v1/invoices/{partly['invoice_id']}", headers=tenant.headers)).json()
    assert part_again["paid_minor"] == 40000


async def test_a_transfer_beyond_what_is_due_is_recorded_as_overpaid_never_dropped(client, tenant):
    issued = await issue(client, tenant)
    await client.post(f"/v1/invoices/{issued['invoice_id']}/payments", json={"amount": "500"}, headers=tenant.headers)

    imported = await client.post("/v1/statements", content=statement(entry("C1", "990.49",
                                                                            rf=issued["creditor_reference"])),
                                 headers={**tenant.headers, "content-type": "application/xml"})

    assert imported.json()["credits"][0]["outcome"] == "recorded"
    detail = (await client.get(f"/v1/invoices/{issued['invoice_id']}", headers=tenant.headers)).json()
    assert (detail["status"], detail["overpaid_minor"]) == ("paid", 50000)


async def test_another_tenants_reference_matches_nothing_and_a_non_statement_is_refused(client, harness, tenant):
    issued = await issue(client, tenant)
    other = harness.new_tenant()
    headers = {**other.headers, "content-type": "application/xml"}

    foreign = await client.post("/v1/statements", content=statement(entry("D1", "990.49",
                                                                           rf=issued["creditor_reference"])),
                                headers=headers)
    assert foreign.json()["credits"][0]["outcome"] == "no invoice has this reference"
    refused = await client.post("/v1/statements", content=b"<Document><Other/></Document>", headers=headers)
    assert refused.status_code == 422 and "camt.053" in refused.text
