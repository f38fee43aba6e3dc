"""Every service answers as its OpenAPI document says: schemathesis generates requests from each document (the staff
APIs of links, documents, signing, payments, requests and notifications, and the gateway's public routes) and checks
each answer: no server error, no status code and no content type the document does not list, a body that matches
the documented schema.

Against the running test stack (e2e), not in-process apps: the stack is up for the e2e level anyway, so this costs
only the requests, and it checks the document each process really serves, with its real dependencies behind it.
Bounded for CI: a fixed seed and a few examples per operation (``EXAMPLES``), generated from the schema only
(no shrinking: the first failing example is reported as it was sent). The gateway's run goes to a replica of its
own, so that its invalid-token attempts do not rate-limit the stack's gateway for the tests after it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from loginless.testkit.network import free_port

pytestmark = pytest.mark.e2e

SEED = 16
EXAMPLES = 4
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
STAFF_APIS = ["links", "documents", "signing", "payments", "requests", "notifications"]


def findings(base_url: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    """How many operations were exercised, and what schemathesis found wrong in each (empty when all is well)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
    exercised, found = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        exercised += 1

        @seed(SEED)
        @settings(max_examples=EXAMPLES, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck), print_blob=False)
        @given(case=operation.as_strategy())
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

        try:
            exercise()
        except (Exception, FailureGroup) as failure:  # a check's failure, or several: each with the case that broke it
            found.append(f"{operation.method.upper()} {operation.path}: {failure}")
    return exercised, found


@pytest.mark.parametrize("service", STAFF_APIS)
def test_the_staff_api_answers_as_its_openapi_document_says(service, stack_env):
    exercised, found = findings(stack_env[f"{service.upper()}_URL"],
                                {"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"})
    assert exercised >= 3
    assert not found, "\n\n".join(found)


@pytest.fixture(scope="module")
def gateway_replica() -> Iterator[str]:
    """Another process of the running gateway (same settings, own port, own invalid-token limiter)."""
    settings_file = Path(os.environ["LOGINLESS_VAR_DIR"]) / "service-env" / "gateway.env"
    settings = dict(line.split("=", 1) for line in settings_file.read_text().splitlines() if "=" in line)
    port = free_port()
    log = open(Path(os.environ["LOGINLESS_VAR_DIR"]) / "log" / "gateway-openapi-api.log", "ab")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "loginless.gateway", "api"],
                               env={**os.environ, **settings, "GATEWAY_HTTP_PORT": str(port)},
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            assert process.poll() is None and time.monotonic() < deadline, "the gateway replica did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_gateways_public_routes_answer_as_its_openapi_document_says(gateway_replica):
    exercised, found = findings(gateway_replica, {})
    assert exercised >= 5  # /l/{token}, the verification pages, the guest pages, unsubscribe, robots.txt
    assert not found, "\n\n".join(found)
