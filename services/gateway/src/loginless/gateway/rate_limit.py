"""Invalid-token attempts, limited per client address.

Guessing a 256-bit token is hopeless, but a client trying many is scanning, and costs us a links round trip each.
After ``limit`` failed attempts within ``window_seconds`` an address gets 429 for every link token, valid or not,
until its oldest failure leaves the window. Other addresses are never affected.

The counts live in this process's memory (a sliding-window log per address). With several replicas each one
counts on its own, so a scanner spread by a load balancer over N replicas gets up to N x ``limit`` tries per
window: still nothing against 2^256 tokens, and the limit exists to slow scanning and keep the links service
out of it, not to make guessing possible-in-principle impossible. A shared counter (PostgreSQL or Redis) would add
a round trip to every link opening for no security gain. Litestar's ``RateLimitMiddleware`` counts every request,
not failures, and cannot release an address after a window of *failures*, so it does not fit.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable

from prometheus_client import Counter

INVALID_TOKEN_ATTEMPTS = Counter(
    "loginless_gateway_invalid_token_attempts_total", "Link tokens that were malformed or unknown", ["reason"])
RATE_LIMITED = Counter(
    "loginless_gateway_rate_limited_total", "Link openings refused with 429 because the address failed too often")

Clock = Callable[[], float]


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


class InvalidTokenLimiter:
    def __init__(self, *, limit: int, window_seconds: float, clock: Clock = time.monotonic,
                 max_tracked: int = 100_000) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock
        self.max_tracked = max_tracked
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it is not limited."""
        failures = self._recent(client_key(address))
        if failures is None or len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window_seconds - self.clock()))

    def record_failure(self, address: str) -> None:
        key = client_key(address)
        failures = self._recent(key)
        if failures is None:
            if len(self._failures) >= self.max_tracked:
                self._evict()
            failures = self._failures[key] = deque(maxlen=self.limit)
        failures.append(self.clock())

    def _recent(self, key: str) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        horizon = self.clock() - self.window_seconds
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def _evict(self) -> None:
        """Forget addresses whose failures all left the window; if that is not enough, the oldest tracked."""
        horizon = self.clock() - self.window_seconds
        for key in [key for key, failures in self._failures.items() if failures[-1] <= horizon]:
            del self._failures[key]
        while len(self._failures) >= self.max_tracked:
            del self._failures[next(iter(self._failures))]
