"""Loopback ports for servers a test starts itself."""

import socket


def free_port() -> int:
    """A port nothing listens on right now (the OS may hand it out again once the test lets it go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
