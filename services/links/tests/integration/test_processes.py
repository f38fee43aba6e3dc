"""The links service as it is deployed: ``python -m loginless.links ensure-tenant | api | worker`` as real
processes against real PostgreSQL, Kafka and Mailpit, and what they write to their logs."""

import asyncio
import hashlib
import os
import re
import signal
import subprocess
import sys

import httpx
import pytest

from loginless.links import cli
from loginless.links.tenants import ApiKeys
from loginless.links.tokens import new_api_key
from loginless.testkit.network import free_port
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration

INTERNAL = {"Authorization": "Bearer test-internal-secret"}


@pytest.fixture
def environment(settings, smtp_url) -> dict[str, str]:
    """The process environment of this test's links service: its LINKS_* settings, nothing inherited."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("LINKS_")}
    return inherited | {
        "LINKS_DATABASE_URL": settings.database_url, "LINKS_DATABASE_SCHEMA": settings.schema,
        "LINKS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "LINKS_TOPIC_PREFIX": settings.topic_prefix, "LINKS_PUBLIC_URL": settings.public_url,
        "LINKS_TOKEN_PEPPERS": settings.token_peppers.get_secret_value(),
        "LINKS_DATA_KEY": settings.data_key.get_secret_value(),
        "LINKS_INTERNAL_API_SECRET": settings.internal_api_secret.get_secret_value(),
        "LINKS_SMTP_URL": smtp_url, "LINKS_SMTP_FROM": settings.smtp_from,
        "LINKS_SMS_OUTBOX_PATH": settings.sms_outbox_path, "LINKS_HTTP_PORT": str(free_port()),
        "LINKS_DELIVERY_POLL_SECONDS": "0.1",
    }


def links_command(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loginless.links", *arguments], env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


TENANT_OPTIONS = ["--name", "Acme Bookkeeping", "--contact-email", "hello@acme.test",
                  "--contact-phone", "+34 600 000 000", "--color", "#1f5f8b"]


def ensure_tenant(environment: dict[str, str], tenant_id: str, api_key: str) -> subprocess.CompletedProcess:
    return links_command(environment, "ensure-tenant", "--tenant-id", tenant_id, "--api-key", api_key,
                         *TENANT_OPTIONS)


async def ensure_tenant_in_process(settings, *arguments: str) -> int:
    """The same command without a new interpreter (each costs seconds); returns the exit status."""
    try:
        await asyncio.to_thread(cli.ensure_tenant, lambda: settings, list(arguments))
    except SystemExit as exit_:
        return exit_.code
    return 0


async def test_ensure_tenant_creates_once_registers_the_key_hashed_and_refuses_a_conflicting_key(
        environment, pool, settings, capsys):
    key = new_api_key()

    first = ensure_tenant(environment, "acme", key.value)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith(f"tenant acme created; API key {key.key_id} registered")
    assert await ensure_tenant_in_process(settings, "--tenant-id", "acme", "--api-key", key.value,
                                          *TENANT_OPTIONS) == 0
    assert capsys.readouterr().out.strip() == f"links: tenant acme existed; API key {key.key_id} already registered"
    stored = await pool.fetchrow(f'SELECT tenant_id, key_hash FROM "{settings.schema}".api_keys')
    assert (stored["tenant_id"], stored["key_hash"]) == ("acme", hashlib.sha256(key.value.encode()).digest())
    principal = await ApiKeys(pool, settings.schema).verify(key.value)
    assert (principal.tenant_id, principal.key_id) == ("acme", key.key_id)

    same_id_other_secret = f"ll_{key.key_id}_{new_api_key().secret}"
    assert await ensure_tenant_in_process(settings, "--tenant-id", "acme", "--name", "Acme",
                                          "--api-key", same_id_other_secret) == 1
    assert "registered already" in capsys.readouterr().err
    assert await ensure_tenant_in_process(settings, "--tenant-id", "acme", "--name", "Acme",
                                          "--api-key", "hunter2") == 2
    assert "ll_<key id>_<secret>" in capsys.readouterr().err
    assert await ensure_tenant_in_process(settings, "--tenant-id", "x", "--name", "X",
                                          "--api-key", new_api_key().value, "--color", "red") == 2
    assert "color" in capsys.readouterr().err
    assert await pool.fetchval(f'SELECT count(*) FROM "{settings.schema}".tenants') == 1


@pytest.fixture
async def running_service(environment, tmp_path):
    """API and worker processes; yields their log paths, and stops them (SIGTERM) before the test reads them."""
    logs = {role: tmp_path / f"links-{role}.log" for role in ("api", "worker")}
    processes = []
    for role, path in logs.items():
        with path.open("wb") as log:
            processes.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "loginless.links", role, env=environment, stdout=log,
                stderr=subprocess.STDOUT))

    async def stop() -> None:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)

    yield logs, stop
    await stop()


async def test_the_logs_of_api_and_worker_name_links_but_hold_no_token_code_or_key(
        environment, running_service, sms_outbox):
    logs, stop = running_service
    key = new_api_key()
    assert ensure_tenant(environment, "acme", key.value).returncode == 0
    staff = {"Authorization": f"Bearer {key.value}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{environment['LINKS_HTTP_PORT']}", timeout=10) as api:
        async def ready() -> bool:
            try:
                return (await api.get("/health/ready")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, timeout=60, interval=0.2, message="the links API ready")
        issued = (await api.post("/v1/links", headers=staff, json={
            "action": "upload", "resource_id": "folder-1", "verification": "sms", "recipients": [
                {"email": f"logs-{os.urandom(4).hex()}@example.test", "phone": "+34 688 000 001",
                 "delivery": "email"},
                {"phone": "+34 688 000 002", "delivery": "sms", "language": "es"}]})).json()["links"]
        tokens = [link["url"].rsplit("/", 1)[1] for link in issued]
        link_id = issued[1]["link_id"]
        for token in [*tokens, "A" * 43, tokens[0][:-1]]:
            await api.post("/internal/v1/links/resolve", json={"token": token}, headers=INTERNAL)
        await api.post(f"/internal/v1/links/{link_id}/opened", json={"client_ip": "198.51.100.7"}, headers=INTERNAL)
        await api.post(f"/internal/v1/links/{link_id}/verification-code", headers=INTERNAL)

        async def code_sent() -> list[dict]:
            return [sms for sms in sms_outbox() if sms["link_id"] == link_id and "/l/" not in sms["body"]]

        [code_sms] = await eventually(code_sent, message="the code by SMS")
        code = re.search(r"\b(\d{6})\b", code_sms["body"])[1]
        path = f"/internal/v1/links/{link_id}/verification-code/check"
        await api.post(path, json={"code": f"{(int(code) + 1) % 1_000_000:06d}"}, headers=INTERNAL)
        assert (await api.post(path, json={"code": code}, headers=INTERNAL)).status_code == 200
        assert (await api.post(f"/internal/v1/links/{link_id}/use", headers=INTERNAL)).status_code == 200
        await api.post(f"/v1/links/{link_id}/revoke", headers=staff)

        async def delivered() -> bool:
            views = [(await api.get(f"/v1/links/{link['link_id']}", headers=staff)).json() for link in issued]
            return all(view["delivery_status"] == "delivered" for view in views)

        await eventually(delivered, message="both links delivered")
    await stop()

    api_log, worker_log = logs["api"].read_text(), logs["worker"].read_text()
    assert link_id in api_log and '"links issued"' in api_log
    assert link_id in worker_log and '"delivered"' in worker_log
    secrets = [*tokens, code, key.secret, environment["LINKS_DATA_KEY"]]
    assert [secret for secret in secrets if secret in api_log + worker_log] == []
