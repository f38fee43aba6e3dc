"""Where the real PostgreSQL, Kafka and S3 for a test are.

An endpoint given in the environment (``make test`` starts a stack and exports them) comes first. Otherwise,
on a machine whose Docker engine answers, testcontainers starts one. Otherwise the test cannot run: under
``CI=true`` that is a failure, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

_containers = ExitStack()


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # no engine, no socket, no permission: all mean "no Docker here"
        return False
    return True


def missing(what: str) -> None:
    message = f"{what} is not available: run the tests through `make test` (which starts the real stack)"
    if running_in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def endpoint(env_var: str, start_container: Callable[[], str] | None = None) -> str:
    if value := os.environ.get(env_var):
        return value
    if start_container is not None and docker_answers():
        return start_container()
    missing(env_var)
    raise AssertionError("unreachable")


def _postgres_container() -> str:
    from testcontainers.postgres import PostgresContainer

    container = _containers.enter_context(PostgresContainer("postgres:17", driver=None))
    return container.get_connection_url()


def _kafka_container() -> str:
    from testcontainers.kafka import KafkaContainer

    container = _containers.enter_context(KafkaContainer().with_kraft())
    return container.get_bootstrap_server()


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str
    secret_key: str


def _s3_container() -> str:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    container = _containers.enter_context(
        DockerContainer("andrewgaul/s3proxy:latest")
        .with_env("S3PROXY_IDENTITY", "loginless").with_env("S3PROXY_CREDENTIAL", "loginless-secret")
        .with_env("S3PROXY_AUTHORIZATION", "aws-v2-or-v4").with_exposed_ports(80)
    )
    wait_for_logs(container, "Started")
    os.environ.setdefault("S3_ACCESS_KEY", "loginless")
    os.environ.setdefault("S3_SECRET_KEY", "loginless-secret")
    return f"http://{container.get_container_host_ip()}:{container.get_exposed_port(80)}"


def database_url() -> str:
    return endpoint("DATABASE_URL", _postgres_container)


def kafka_bootstrap_servers() -> str:
    return endpoint("KAFKA_BOOTSTRAP_SERVERS", _kafka_container)


def s3_endpoint() -> S3Endpoint:
    url = endpoint("S3_ENDPOINT", _s3_container)
    return S3Endpoint(url, os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"])


def stop_containers() -> None:
    _containers.close()
