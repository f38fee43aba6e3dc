"""Invalid-token attempts per client address: over the limit until enough failures leave the window."""

import pytest

from loginless.gateway.rate_limit import BUCKETS_PER_WINDOW, client_key, retry_after

pytestmark = pytest.mark.unit

BUCKET = 60.0  # a 600 s window


def test_up_to_the_limit_nothing_is_refused():
    assert retry_after([], limit=3, bucket_seconds=BUCKET, now=1000 * BUCKET) is None
    # The failure that reaches the limit still gets its 404; the next one would go past it.
    assert retry_after([(1000, 1), (995, 2)], limit=3, bucket_seconds=BUCKET, now=1000 * BUCKET) is None


def test_past_the_limit_the_wait_lasts_until_enough_failures_leave_the_window():
    now = 1000 * BUCKET + 30  # half-way through bucket 1000
    # Four failures in bucket 1000: all leave together when bucket 1010 begins, 570 s from now.
    assert retry_after([(1000, 4)], limit=3, bucket_seconds=BUCKET, now=now) == BUCKETS_PER_WINDOW * BUCKET - 30
    # Two in bucket 992, two now: those from 992 leaving is enough (they leave when bucket 1002 begins).
    assert retry_after([(1000, 2), (992, 2)], limit=3, bucket_seconds=BUCKET, now=now) == 2 * BUCKET - 30
    # Far past the limit: only when enough buckets left to be under it.
    assert retry_after([(992, 5), (995, 5), (1000, 1)], limit=3, bucket_seconds=BUCKET, now=now) == 5 * BUCKET - 30


def test_the_wait_is_never_less_than_a_second():
    assert retry_after([(990, 4)], limit=3, bucket_seconds=BUCKET, now=1000 * BUCKET - 0.2) == 1


def test_ipv6_addresses_count_per_64_prefix_and_mapped_ipv4_as_ipv4():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("not an address") == "not an address"
