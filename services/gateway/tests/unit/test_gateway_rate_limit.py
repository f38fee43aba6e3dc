"""Invalid-token attempts per client address: engages after the limit, releases after the window."""

import pytest

from loginless.gateway.rate_limit import InvalidTokenLimiter, client_key
from loginless.testkit.clock import ManualClock

pytestmark = pytest.mark.unit


def limiter(clock: ManualClock, *, limit: int = 3, window: float = 600, max_tracked: int = 100_000):
    return InvalidTokenLimiter(limit=limit, window_seconds=window, clock=clock, max_tracked=max_tracked)


def test_an_address_is_limited_after_the_limit_and_released_after_the_window():
    clock = ManualClock()
    invalid = limiter(clock)
    for _ in range(3):
        assert invalid.retry_after("203.0.113.7") is None
        invalid.record_failure("203.0.113.7")
        clock.now += 10
    assert invalid.retry_after("203.0.113.7") == 600 - 30  # the first failure leaves the window then
    clock.now += 569
    assert invalid.retry_after("203.0.113.7") == 1
    clock.now += 1
    assert invalid.retry_after("203.0.113.7") is None


def test_other_addresses_are_not_affected():
    clock = ManualClock()
    invalid = limiter(clock)
    for _ in range(3):
        invalid.record_failure("203.0.113.7")
    assert invalid.retry_after("203.0.113.7") is not None
    assert invalid.retry_after("203.0.113.8") is None
    assert invalid.retry_after("2001:db8::1") is None


def test_the_window_slides_one_failure_at_a_time():
    clock = ManualClock()
    invalid = limiter(clock)
    for step in (0, 100, 200):
        clock.now = 1000 + step
        invalid.record_failure("203.0.113.7")
    clock.now = 1000 + 600  # the first failure left; two remain
    assert invalid.retry_after("203.0.113.7") is None
    invalid.record_failure("203.0.113.7")
    assert invalid.retry_after("203.0.113.7") == 100  # until the failure at +100 leaves


def test_ipv6_addresses_count_per_64_prefix_and_mapped_ipv4_as_ipv4():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    clock = ManualClock()
    invalid = limiter(clock)
    for suffix in range(3):
        invalid.record_failure(f"2001:db8:1:2::{suffix + 1}")
    assert invalid.retry_after("2001:db8:1:2::ffff") is not None


def test_memory_stays_bounded_under_a_flood_of_addresses():
    clock = ManualClock()
    invalid = limiter(clock, max_tracked=100)
    for index in range(1000):
        invalid.record_failure(f"10.0.{index // 256}.{index % 256}")
    assert len(invalid._failures) <= 100
    assert invalid.retry_after("10.0.3.231") is None  # one failure of the last address: not limited
