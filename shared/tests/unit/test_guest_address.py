"""The guest's address behind trusted proxies: what a client writes into X-Forwarded-For itself is never taken."""

import pytest

from loginless.shared.guest.address import client_address

pytestmark = pytest.mark.unit


def scope(peer: str, *forwarded_for: str) -> dict:
    return {"client": (peer, 40000), "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded_for]}


def test_with_no_trusted_proxy_the_address_is_the_peers_whatever_the_header_says():
    assert client_address(scope("203.0.113.9", "198.51.100.1"), trusted_proxy_hops=0) == "203.0.113.9"


def test_behind_one_trusted_proxy_the_address_is_the_one_it_added():
    assert client_address(scope("10.0.0.5", "198.51.100.1"), trusted_proxy_hops=1) == "198.51.100.1"


def test_entries_a_client_forged_before_the_trusted_hops_are_ignored():
    forged = scope("10.0.0.5", "1.2.3.4, 5.6.7.8, 198.51.100.1")  # the client sent "1.2.3.4, 5.6.7.8" itself
    assert client_address(forged, trusted_proxy_hops=1) == "198.51.100.1"
    two_hops = scope("10.0.0.6", "1.2.3.4, 198.51.100.1, 10.0.0.5")  # ..., what the outer proxy saw, the outer one
    assert client_address(two_hops, trusted_proxy_hops=2) == "198.51.100.1"


def test_repeated_headers_read_as_one_list():
    assert client_address(scope("10.0.0.5", "1.2.3.4", "198.51.100.1"), trusted_proxy_hops=1) == "198.51.100.1"


def test_fewer_entries_than_trusted_proxies_gives_the_farthest_one_seen():
    assert client_address(scope("10.0.0.5", "198.51.100.1"), trusted_proxy_hops=2) == "198.51.100.1"


def test_without_the_header_or_a_peer():
    assert client_address(scope("10.0.0.5"), trusted_proxy_hops=1) == "10.0.0.5"
    assert client_address({"headers": []}, trusted_proxy_hops=1) == "unknown"


def test_an_absurdly_long_entry_is_cut_to_the_length_of_an_address():
    assert len(client_address(scope("10.0.0.5", "x" * 500), trusted_proxy_hops=1)) == 64


def test_a_service_behind_the_gateway_trusts_the_gateway_as_one_hop_by_default():
    from loginless.shared.web.assertion import GuestAccessSettings

    assert GuestAccessSettings().trusted_proxy_hops == 1
