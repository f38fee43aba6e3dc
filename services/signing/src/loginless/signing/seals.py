"""A tenant's own seal: given through the staff API as a PKCS#12 file and its password, checked (a key, a
certificate valid now, a key usage that allows signing), and kept encrypted in PostgreSQL -- never on disk. When
a tenant has one, its documents and certificates are sealed with it; otherwise with the platform's seal.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from cryptography.hazmat.primitives.serialization import Encoding

from loginless.shared.cipher import DataCipher
from loginless.shared.errors import InvalidRequest
from loginless.shared.eventstore import quote_ident
from loginless.signing.pdf import SealCredentials


class SealsNotConfigured(InvalidRequest):
    problem_type = "tenant-seals-not-configured"
    title = "This deployment does not keep tenants' own seals"


@dataclass(frozen=True)
class SealFacts:
    subject: str
    fingerprint: str  # SHA-256 of the certificate (DER), hex
    not_after: datetime


def facts_of(credentials: SealCredentials) -> SealFacts:
    certificate = credentials.certificate
    return SealFacts(subject=certificate.subject.rfc4514_string(),
                     fingerprint=hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest(),
                     not_after=certificate.not_valid_after_utc)


class TenantSeals:
    """The ``tenant_seals`` table: each tenant's PKCS#12 and password, sealed with the service's data key."""

    def __init__(self, schema: str, cipher: DataCipher | None) -> None:
        self._table = f"{quote_ident(schema)}.tenant_seals"
        self._cipher = cipher

    def _required_cipher(self) -> DataCipher:
        if self._cipher is None:
            raise SealsNotConfigured("set SIGNING_DATA_KEY to let tenants give their own seal")
        return self._cipher

    async def save(self, db: asyncpg.Connection, tenant_id: str, pkcs12: bytes, password: bytes | None,
                   facts: SealFacts) -> None:
        secret = json.dumps({"pkcs12": base64.b64encode(pkcs12).decode(),
                             "password": base64.b64encode(password).decode() if password else None}).encode()
        sealed = self._required_cipher().encrypt(secret, associated_data=f"seal:{tenant_id}")
        await db.execute(
            f"INSERT INTO {self._table} (tenant_id, sealed, subject, not_after, fingerprint)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (tenant_id) DO UPDATE SET sealed = EXCLUDED.sealed, subject = EXCLUDED.subject,"
            " not_after = EXCLUDED.not_after, fingerprint = EXCLUDED.fingerprint, saved_at = now()",
            tenant_id, sealed, facts.subject, facts.not_after, facts.fingerprint)

    async def delete(self, db: asyncpg.Connection, tenant_id: str) -> None:
        await db.execute(f"DELETE FROM {self._table} WHERE tenant_id = $1", tenant_id)

    async def facts(self, db: asyncpg.Pool, tenant_id: str) -> SealFacts | None:
        row = await db.fetchrow(f"SELECT subject, fingerprint, not_after FROM {self._table} WHERE tenant_id = $1",
                                tenant_id)
        return SealFacts(row["subject"], row["fingerprint"], row["not_after"]) if row else None

    async def credentials(self, db: asyncpg.Pool, tenant_id: str, *, now: datetime) -> SealCredentials | None:
        """The tenant's seal, ready to sign, or None: its documents are sealed with the platform's."""
        sealed = await db.fetchval(f"SELECT sealed FROM {self._table} WHERE tenant_id = $1", tenant_id)
        if sealed is None:
            return None
        secret = json.loads(self._required_cipher().decrypt(sealed, associated_data=f"seal:{tenant_id}"))
        password = base64.b64decode(secret["password"]) if secret["password"] else None
        return SealCredentials.from_pkcs12(base64.b64decode(secret["pkcs12"]), password, now=now)
