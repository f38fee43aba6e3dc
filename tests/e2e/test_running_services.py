"""The running stack, through each service's public HTTP interface only."""

import httpx
import pytest

pytestmark = pytest.mark.e2e

# The keys the local stack file promises in var/stack.env (docs/architecture.md).
STACK_KEYS = ["GATEWAY_URL", "LINKS_URL", "DOCUMENTS_URL", "SIGNING_URL", "PAYMENTS_URL", "REQUESTS_URL",
              "DEV_API_KEY", "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "S3_ENDPOINT", "S3_ACCESS_KEY",
              "S3_SECRET_KEY", "SMTP_URL", "MAIL_UI_URL"]

SERVICES = ["gateway", "links", "documents", "signing", "payments", "requests"]


def test_the_stack_file_holds_every_promised_key(stack_env):
    assert [key for key in STACK_KEYS if key not in stack_env] == []
    for service in SERVICES:
        assert stack_env[f"{service.upper()}_URL"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_live_ready_and_describes_itself(stack_env, service):
    with httpx.Client(base_url=stack_env[f"{service.upper()}_URL"], timeout=10) as http:
        live = http.get("/health/live", headers={"X-Correlation-ID": "e2e-check"})
        assert live.json() == {"status": "alive"}
        assert live.headers["x-correlation-id"] == "e2e-check"
        ready = http.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"postgresql": "ok", "kafka": "ok"}
        openapi = http.get("/schema/openapi.json").json()
        assert openapi["info"]["title"] == f"loginless {service}"
        missing = http.get("/v1/no-such-thing")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        metrics = http.get("/metrics").text
        assert 'loginless_http_requests_total{app_name="' + service in metrics
