"""The pytest plugin every loginless test run loads (entry point ``pytest11``): the fixtures several test packages
need, defined once.

The real servers come from :mod:`loginless.testkit.endpoints`: the environment first, then testcontainers where
Docker answers; otherwise the test is skipped, and under ``CI=true`` it fails.
"""

from __future__ import annotations

import pytest

from loginless.testkit import endpoints


@pytest.fixture(scope="session")
def database_url() -> str:
    return endpoints.database_url()


@pytest.fixture(scope="session")
def kafka_bootstrap_servers() -> str:
    return endpoints.kafka_bootstrap_servers()


@pytest.fixture(scope="session")
def s3() -> endpoints.S3Endpoint:
    """The S3-compatible server's URL and credentials."""
    return endpoints.s3_endpoint()


@pytest.fixture(scope="session")
def smtp_url() -> str:
    return endpoints.endpoint("SMTP_URL")


@pytest.fixture(scope="session")
def mail_ui_url() -> str:
    """The mail sink's HTTP API (Mailpit), where tests read the messages sent."""
    return endpoints.endpoint("MAIL_UI_URL")


@pytest.fixture(scope="session")
def assertion_keys() -> tuple[str, str]:
    """``(private, public)``: the key pair the gateway signs guests' assertions with and services verify them by."""
    from loginless.shared.web.assertion import generate_key_pair  # only the tests that sign pay for the import

    return generate_key_pair()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the containers testcontainers started for this run, after every fixture's teardown (none were started
    when the endpoints came from the environment)."""
    endpoints.stop_containers()
