"""``Idempotency-Key`` on creating POSTs: a retry with the same key gets the first answer instead of a duplicate.

The key is claimed (a row without an answer) before the work starts and answered when it succeeds; a failure
releases it, so the caller may retry. The same key with a different request is a client error (422); a retry
while the first attempt is still running gets 409.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from loginless.documents.domain import Conflict
from loginless.shared.errors import InvalidRequest
from loginless.shared.eventstore import database_errors, quote_ident

MAX_KEY_LENGTH = 255


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class IdempotencyKeys:
    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._table = f"{quote_ident(schema)}.idempotency_keys"

    async def run(self, *, tenant_id: str, key: str | None, operation: str, request_fingerprint: str,
                  work: Callable[[], Awaitable[tuple[int, dict[str, Any]]]]) -> tuple[int, dict[str, Any]]:
        if key is None:
            return await work()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
        async with database_errors():
            claimed = await self._pool.fetchval(
                f"INSERT INTO {self._table} (tenant_id, operation, key, fingerprint) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING RETURNING true", tenant_id, operation, key, request_fingerprint)
        if not claimed:
            row = await self._pool.fetchrow(
                f"SELECT fingerprint, status_code, body FROM {self._table}"
                " WHERE tenant_id = $1 AND operation = $2 AND key = $3", tenant_id, operation, key)
            if row is None:  # released between our insert and select: the first attempt failed
                return await self.run(tenant_id=tenant_id, key=key, operation=operation,
                                      request_fingerprint=request_fingerprint, work=work)
            if row["fingerprint"] != request_fingerprint:
                raise InvalidRequest("this Idempotency-Key was used for a different request")
            if row["status_code"] is None:
                raise Conflict("a request with this Idempotency-Key is still in progress")
            return row["status_code"], json.loads(row["body"])
        try:
            status, body = await work()
        except BaseException:
            await self._pool.execute(f"DELETE FROM {self._table} WHERE tenant_id = $1 AND operation = $2"
                                     " AND key = $3", tenant_id, operation, key)
            raise
        await self._pool.execute(
            f"UPDATE {self._table} SET status_code = $4, body = $5::jsonb"
            " WHERE tenant_id = $1 AND operation = $2 AND key = $3",
            tenant_id, operation, key, status, json.dumps(body, default=str))
        return status, body
