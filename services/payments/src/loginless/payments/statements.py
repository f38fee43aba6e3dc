"""Bank statements in ISO 20022 camt.053 (any of its versions): the credit entries a statement books, with the
ISO 11649 RF creditor reference each quotes, so a transfer is matched to the invoice whose reference it is.

The XML comes from staff (their bank's export), is read with the standard library's parser -- which resolves no
external entity and, with the expat it ships, refuses entity expansion bombs -- and only the few elements needed
are read, whatever the namespace's version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from xml.etree import ElementTree

from stdnum import iso11649

from loginless.shared.errors import InvalidRequest

_RF = re.compile(r"RF\d{2}[A-Z0-9]{1,21}")


@dataclass(frozen=True)
class StatementCredit:
    """One transfer a statement booked to the firm's account."""

    entry_reference: str  # the bank's id of the entry (and the transaction's index in it): what makes it unique
    amount: Decimal
    currency: str
    creditor_reference: str | None
    debtor_name: str | None


def credits_of(xml: bytes) -> list[StatementCredit]:
    """Every booked credit of a camt.053 statement (a batch entry gives one per transaction)."""
    try:
        root = ElementTree.fromstring(xml)  # noqa: S314 -- see the module's note
    except ElementTree.ParseError as error:
        raise InvalidRequest(f"statement: not XML ({error})") from error
    if not root.tag.endswith("Document") or root.find("{*}BkToCstmrStmt") is None:
        raise InvalidRequest("statement: not a camt.053 document (no BkToCstmrStmt)")
    credits = []
    for n, entry in enumerate(root.iterfind("{*}BkToCstmrStmt/{*}Stmt/{*}Ntry")):
        if _text(entry, "{*}CdtDbtInd") != "CRDT" or _status(entry) != "BOOK":
            continue
        reference = _text(entry, "{*}AcctSvcrRef") or _text(entry, "{*}NtryRef") or f"entry-{n}"
        transactions = entry.findall("{*}NtryDtls/{*}TxDtls") or [entry]
        for index, transaction in enumerate(transactions):
            amount_element = transaction.find("{*}Amt") if transaction is not entry else None
            if amount_element is None:
                amount_element = entry.find("{*}Amt") if len(transactions) == 1 else None
            if amount_element is None:
                continue
            try:
                amount = Decimal((amount_element.text or "").strip())
            except InvalidOperation as error:
                raise InvalidRequest(f"statement: entry {reference}: the amount is not a number") from error
            credits.append(StatementCredit(
                entry_reference=f"{reference}/{index}", amount=amount, currency=amount_element.get("Ccy", ""),
                creditor_reference=_creditor_reference(transaction),
                debtor_name=_text(transaction, "{*}RltdPties/{*}Dbtr/{*}Nm")
                or _text(transaction, "{*}RltdPties/{*}Dbtr/{*}Pty/{*}Nm")))
    return credits


def _status(entry: ElementTree.Element) -> str | None:
    return _text(entry, "{*}Sts/{*}Cd") or _text(entry, "{*}Sts")  # camt.053.001.08 nests the code


def _creditor_reference(transaction: ElementTree.Element) -> str | None:
    """The structured RF reference, else the first valid one in the unstructured remittance text."""
    candidates = [_text(transaction, "{*}RmtInf/{*}Strd/{*}CdtrRefInf/{*}Ref")]
    for text in transaction.iterfind("{*}RmtInf/{*}Ustrd"):
        candidates += _RF.findall((text.text or "").upper().replace(" ", ""))
    for candidate in candidates:
        if candidate and iso11649.is_valid(candidate):
            return iso11649.compact(candidate)
    return None


def _text(element: ElementTree.Element, path: str) -> str | None:
    found = element.find(path)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None
