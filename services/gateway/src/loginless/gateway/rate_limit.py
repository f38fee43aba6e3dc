"""Invalid-token attempts, counted per client address by every gateway replica together, in PostgreSQL.

Only failures count, and only failures are refused: a valid token always lets its guest in, whatever its address did
before, so a guest behind the same office or mobile-carrier NAT as a scanner is never locked out by it. (Cookies are
never limited at all.) Guessing a 256-bit token is hopeless anyway; what the limit does is tell a scanner, with 429
and ``Retry-After`` instead of 404, that it has been noticed, and count it in a metric.

The counts live in ``invalid_token_attempts``, so N replicas allow the same ``limit`` as one. A window of
``window_seconds`` is ten buckets of a tenth of it each: one upsert per failure, returning the address's buckets of
the window in the same round trip, so a failed attempt costs one query and a valid one none. A failure leaves the
count when its bucket leaves the window (up to a tenth of a window later than a per-failure log would say). The
worker deletes buckets that left the window. Litestar's ``RateLimitMiddleware`` counts every request in one
process's memory, so it fits neither half of this.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Sequence

import asyncpg
from prometheus_client import Counter

from loginless.shared.eventstore import quote_ident

INVALID_TOKEN_ATTEMPTS = Counter(
    "loginless_gateway_invalid_token_attempts_total", "Link tokens that were malformed or unknown", ["reason"])
RATE_LIMITED = Counter(
    "loginless_gateway_rate_limited_total",
    "Invalid link tokens answered 429 because the address failed too often (valid ones always pass)")

Clock = Callable[[], float]

BUCKETS_PER_WINDOW = 10


def client_key(address: str) -> str:
    """What is limited: an IPv4 address, or an IPv6 /64 (one host usually holds a whole /64)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def retry_after(buckets: Sequence[tuple[int, int]], *, limit: int, bucket_seconds: float, now: float) -> int | None:
    """None when an address with these ``(bucket, failures)`` in its window (the failure just made among them) has
    not gone past ``limit``; else the seconds until one more failure would not go past it. A bucket ``b`` covers
    ``[b, b + 1) * bucket_seconds`` and leaves the window ``BUCKETS_PER_WINDOW`` buckets later."""
    total = sum(failures for _, failures in buckets)
    if total <= limit:
        return None
    for bucket, failures in sorted(buckets):
        total -= failures
        if total < limit:
            leaves_at = (bucket + BUCKETS_PER_WINDOW) * bucket_seconds
            return max(1, math.ceil(leaves_at - now))
    raise AssertionError("unreachable: the last bucket leaving empties the window")


class InvalidTokenLimiter:
    def __init__(self, pool: asyncpg.Pool, *, schema: str, limit: int, window_seconds: float,
                 clock: Clock = time.time) -> None:
        self.pool = pool
        self.limit = limit
        self.bucket_seconds = window_seconds / BUCKETS_PER_WINDOW
        self.clock = clock  # wall time: every replica must agree on the buckets
        table = f"{quote_ident(schema)}.invalid_token_attempts"
        # The upsert's own row comes back from RETURNING (the other SELECT sees the table as it was before it).
        self._record_sql = (
            f"WITH counted AS (INSERT INTO {table} AS attempts (client_key, bucket, failures) VALUES ($1, $2, 1)"
            " ON CONFLICT (client_key, bucket) DO UPDATE SET failures = attempts.failures + 1"
            " RETURNING bucket, failures)"
            f" SELECT bucket, failures FROM counted UNION ALL SELECT bucket, failures FROM {table}"
            " WHERE client_key = $1 AND bucket > $2 - $3 AND bucket <> $2"
        )
        self._prune_sql = f"DELETE FROM {table} WHERE bucket <= $1"

    async def record_failure(self, address: str) -> int | None:
        """Count one more failure of ``address``; the seconds until it is under the limit again if it is over it
        now, else None."""
        now = self.clock()
        bucket = math.floor(now / self.bucket_seconds)
        rows = await self.pool.fetch(self._record_sql, client_key(address), bucket, BUCKETS_PER_WINDOW)
        return retry_after([(row["bucket"], row["failures"]) for row in rows], limit=self.limit,
                           bucket_seconds=self.bucket_seconds, now=now)

    async def prune(self) -> int:
        """Delete the buckets that left the window (the worker's housekeeping)."""
        oldest_in_window = math.floor(self.clock() / self.bucket_seconds) - BUCKETS_PER_WINDOW + 1
        status = await self.pool.execute(self._prune_sql, oldest_in_window - 1)
        return int(status.split()[-1])
