"""``Idempotency-Key`` on every creating POST, in every service the same way.

A request claims its key -- (tenant, operation, key) -- for a short lease, renewed while it works, and stores its
answer (status and body) when the work succeeds; a retry with the same key then gets that answer back, marked
``Idempotent-Replayed: true``, and nothing is created twice. The same key with another request is a 422; a
retry while the first attempt still works is a 409 with ``Retry-After``. A failed attempt releases its claim,
and a claim whose process died runs out with its lease, so the retry goes through rather than meeting 409 for
ever. Keys are forgotten after 24 hours (Stripe's rule; the worker prunes them).

The claim is a row of its own, not a lock held in the work's transaction: the work may stream a large upload or
call another service, and no database transaction may stay open that long (it would hold back the outbox relay).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Protocol

import asyncpg
import structlog
from litestar import Response
from litestar.params import HeaderParameter

from loginless.shared.errors import InvalidRequest, LoginlessError
from loginless.shared.eventstore import database_errors, quote_ident

log = structlog.get_logger(__name__)

REPLAYED_HEADER = "Idempotent-Replayed"
KEY_RETENTION = timedelta(hours=24)
LEASE_SECONDS = 30.0

# The header as a handler parameter: ``idempotency_key: IdempotencyKey = None``.
IdempotencyKey = Annotated[str | None, HeaderParameter(
    name="Idempotency-Key", required=False, min_length=1, max_length=255,
    description="Repeating a request with the same key within 24 hours returns the first answer")]


class IdempotencyKeyReused(InvalidRequest):
    problem_type = "idempotency-key-reused"
    title = "The Idempotency-Key was used with a different request"


class IdempotencyKeyInUse(LoginlessError):
    status_code = 409
    problem_type = "idempotency-key-in-use"
    title = "A request with this Idempotency-Key is still being processed"


class Sealer(Protocol):
    """Encrypts stored answers that hold secrets (links' answers carry capability URLs)."""

    def encrypt(self, plaintext: bytes, *, associated_data: str) -> bytes: ...

    def decrypt(self, ciphertext: bytes, *, associated_data: str) -> bytes: ...


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: Any  # JSON-compatible
    replayed: bool = False

    def response(self) -> Response[Any]:
        return Response(self.body, status_code=self.status_code,
                        headers={REPLAYED_HEADER: "true"} if self.replayed else None)


def fingerprint(request: Any) -> bytes:
    """SHA-256 of the request in canonical JSON: what makes "the same request"."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).digest()


class IdempotentRequests:
    def __init__(self, pool: asyncpg.Pool, schema: str, *, sealer: Sealer | None = None,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self._pool = pool
        self._table = f"{quote_ident(schema)}.idempotent_answers"
        self._sealer = sealer
        self._lease = lease_seconds

    async def run(self, *, tenant_id: str, operation: str, key: str | None, request: Any,
                  work: Callable[[], Awaitable[Answer]],
                  remember: Callable[[Answer], Answer] | None = None) -> Answer:
        """``work``'s answer, or the one stored for ``key``. ``remember`` shapes what is kept for replays (for
        example without capability URLs, where the service has no key to seal them with)."""
        if key is None:
            return await work()
        scope = (tenant_id, operation, key)
        request_fingerprint = fingerprint(request)
        claim = uuid.uuid4()
        while not await self._claim(scope, request_fingerprint, claim):
            stored = await self._stored(scope)
            if stored is None:
                continue  # released between our claim and our read: the first attempt failed; try again
            if stored["fingerprint"] != request_fingerprint:
                raise IdempotencyKeyReused("this Idempotency-Key was used with a different request in the last 24 "
                                           "hours")
            if stored["status_code"] is None:
                raise IdempotencyKeyInUse("a request with this Idempotency-Key is still being processed",
                                          retry_after=max(1, math.ceil(stored["wait"])))
            return Answer(stored["status_code"], json.loads(self._unseal(scope, stored["body"])), replayed=True)

        heartbeat = asyncio.create_task(self._renew(scope, claim))
        try:
            answer = await work()
        except BaseException:
            heartbeat.cancel()
            with contextlib.suppress(Exception):
                await self._pool.execute(f"DELETE FROM {self._table} WHERE tenant_id = $1 AND operation = $2"
                                         " AND key = $3 AND claimed_by = $4", *scope, claim)
            raise
        heartbeat.cancel()
        kept = remember(answer) if remember is not None else answer
        body = self._seal(scope, json.dumps(kept.body, default=str).encode())
        async with database_errors():
            status = await self._pool.execute(
                f"UPDATE {self._table} SET status_code = $5, body = $6, claimed_by = NULL, claimed_until = NULL"
                " WHERE tenant_id = $1 AND operation = $2 AND key = $3 AND claimed_by = $4",
                *scope, claim, kept.status_code, body)
        if status.endswith(" 0"):
            log.warning("idempotency claim lost while working", operation=operation)
        return answer

    async def prune(self) -> int:
        """Forget keys older than 24 hours (a worker task)."""
        status = await self._pool.execute(f"DELETE FROM {self._table} WHERE created_at < now() - $1::interval",
                                          KEY_RETENTION)
        return int(status.split()[-1])

    async def _claim(self, scope: tuple[str, str, str], request_fingerprint: bytes, claim: uuid.UUID) -> bool:
        # A new key, a key past its 24 hours, or the same request whose claim ran out (its process died).
        async with database_errors():
            return bool(await self._pool.fetchval(
                f"""
                INSERT INTO {self._table} AS a (tenant_id, operation, key, fingerprint, claimed_by, claimed_until)
                VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
                ON CONFLICT (tenant_id, operation, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
                    claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until, status_code = NULL,
                    body = NULL, created_at = now()
                WHERE a.created_at < now() - $7::interval
                   OR (a.status_code IS NULL AND a.claimed_until < now() AND a.fingerprint = EXCLUDED.fingerprint)
                RETURNING true
                """,
                *scope, request_fingerprint, claim, self._lease, KEY_RETENTION))

    async def _stored(self, scope: tuple[str, str, str]) -> asyncpg.Record | None:
        async with database_errors():
            return await self._pool.fetchrow(
                f"SELECT fingerprint, status_code, body,"
                f" extract(epoch FROM claimed_until - now())::float8 AS wait FROM {self._table}"
                " WHERE tenant_id = $1 AND operation = $2 AND key = $3", *scope)

    async def _renew(self, scope: tuple[str, str, str], claim: uuid.UUID) -> None:
        """Keep the claim alive while the work goes on; it lapses within one lease if this process dies."""
        while True:
            await asyncio.sleep(self._lease / 3)
            with contextlib.suppress(Exception):  # a missed renewal only shortens the lease
                await self._pool.execute(
                    f"UPDATE {self._table} SET claimed_until = now() + make_interval(secs => $5)"
                    " WHERE tenant_id = $1 AND operation = $2 AND key = $3 AND claimed_by = $4",
                    *scope, claim, self._lease)

    def _seal(self, scope: tuple[str, str, str], body: bytes) -> bytes:
        return self._sealer.encrypt(body, associated_data=_context(scope)) if self._sealer else body

    def _unseal(self, scope: tuple[str, str, str], body: bytes) -> bytes:
        return self._sealer.decrypt(body, associated_data=_context(scope)) if self._sealer else body


def _context(scope: tuple[str, str, str]) -> str:
    return "idempotency:" + ":".join(scope)
