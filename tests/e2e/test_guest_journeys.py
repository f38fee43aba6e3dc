"""Journeys across the running stack: a link e-mailed and opened, one-time codes, and two gateway replicas."""

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from loginless.testkit.guests import DocumentsDesk, Guest, an_invoice
from loginless.testkit.network import free_port
from loginless.testkit.waiting import wait_until

pytestmark = pytest.mark.e2e


def mail_to(stack_env, address: str, *, containing: str = "") -> dict:
    """The newest message to ``address`` whose text contains ``containing``, from the stack's mail inbox."""
    with httpx.Client(base_url=stack_env["MAIL_UI_URL"], timeout=10) as mailpit:
        def newest() -> dict | None:
            found = mailpit.get("/api/v1/search", params={"query": f"to:{address}"}).json()["messages"]
            for summary in found:
                message = mailpit.get(f"/api/v1/message/{summary['ID']}").json()
                if containing in message["Text"]:
                    return message
            return None

        message = wait_until(newest, timeout=30, interval=0.2)
    assert message, f"no e-mail to {address} containing {containing!r}"
    return message


def resource_shown(page: httpx.Response) -> str | None:
    """The invoice a pay page is about (None: no invoice shown)."""
    match = re.search(r'data-invoice-id="([^"]+)"', page.text)
    return match[1] if match else None


def test_an_emailed_link_arrives_in_the_inbox_and_opens(firm, stack_env):
    address = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    [link] = firm.issue("pay", resource_id=an_invoice(stack_env),
                        recipients=[{"email": address, "name": "Ana", "delivery": "email"}])
    mail = mail_to(stack_env, address, containing="/l/")
    [url] = set(re.findall(re.escape(stack_env["GATEWAY_URL"]) + r"/l/[A-Za-z0-9_-]+", mail["Text"]))
    assert url == link.url
    _, landing = Guest(stack_env["GATEWAY_URL"]).enter(url)
    assert resource_shown(landing) == link.resource_id


def start_verification(firm, stack_env) -> tuple[Guest, str, object]:
    address = f"luis-{uuid.uuid4().hex[:8]}@example.com"
    [link] = firm.issue("pay", resource_id=an_invoice(stack_env), recipients=[{"email": address}],
                        verification="email")
    guest = Guest(stack_env["GATEWAY_URL"])
    opened = guest.open(link.url)
    assert opened.status_code == 200
    assert link.resource_id not in opened.text
    before = guest.http.get(f"/g/{link.link_id}/")
    assert resource_shown(before) is None  # nothing of the resource before the code
    sent = guest.http.post(f"/g/{link.link_id}/verify/code")
    assert sent.status_code == 200, sent.text
    return guest, address, link


def code_in(message: dict) -> str:
    [code] = set(re.findall(r"\b\d{6}\b", message["Text"]))
    return code


def test_a_recipient_with_verification_sees_nothing_until_the_right_code(firm, stack_env):
    guest, address, link = start_verification(firm, stack_env)
    code = code_in(mail_to(stack_env, address))
    wrong = guest.http.post(f"/g/{link.link_id}/verify", data={"code": f"{(int(code) + 1) % 10**6:06d}"})
    assert wrong.status_code == 422
    assert resource_shown(wrong) is None
    right = guest.http.post(f"/g/{link.link_id}/verify", data={"code": code})
    assert right.status_code == 200
    assert resource_shown(right) == link.resource_id


def test_too_many_wrong_codes_pause_the_codes_until_staff_reset_them(firm, stack_env):
    guest, address, link = start_verification(firm, stack_env)
    code = code_in(mail_to(stack_env, address))
    wrong_code = f"{(int(code) + 1) % 10**6:06d}"
    statuses = [guest.http.post(f"/g/{link.link_id}/verify", data={"code": wrong_code}).status_code
                for _ in range(5)]
    assert statuses[:4] == [422] * 4 and statuses[4] == 423
    locked = guest.http.post(f"/g/{link.link_id}/verify", data={"code": code})
    assert locked.status_code == 423  # even the right code is refused now
    assert resource_shown(locked) is None
    assert "minutes" in locked.text and int(locked.headers["retry-after"]) > 0  # for a while, not for good

    reset = firm.http.post(f"/v1/links/{link.link_id}/verification/reset")
    assert reset.status_code == 200 and reset.json()["verification_locked"] is False
    assert wait_until(lambda: guest.http.get(f"/g/{link.link_id}/verify").status_code == 200, timeout=30), \
        "the reset reached the gateway"
    right = guest.http.post(f"/g/{link.link_id}/verify", data={"code": code})
    assert right.status_code == 200 and resource_shown(right) == link.resource_id


@pytest.fixture(scope="module")
def second_gateway():
    """Another replica of the running gateway (same settings and database, its own port), behind one trusted proxy
    hop so a test can speak for an address of its own."""
    settings_file = Path(os.environ["LOGINLESS_VAR_DIR"]) / "service-env" / "gateway.env"
    settings = dict(line.split("=", 1) for line in settings_file.read_text().splitlines() if "=" in line)
    port = free_port()
    log = open(Path(os.environ["LOGINLESS_VAR_DIR"]) / "log" / "gateway-2-api.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "loginless.gateway", "api"],
        env={**os.environ, **settings, "GATEWAY_HTTP_PORT": str(port), "GATEWAY_INVALID_TOKEN_LIMIT": "3",
             "GATEWAY_TRUSTED_PROXY_HOPS": "1"},
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_until(ready, timeout=60, interval=0.2), "the second gateway did not become ready"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_a_revoke_is_enforced_by_both_gateway_replicas_within_a_second(firm, stack_env, second_gateway):
    link = DocumentsDesk(stack_env, firm).share(name="replicas.pdf")
    first, second = Guest(stack_env["GATEWAY_URL"]), Guest(second_gateway)
    first.enter(link.url)
    second.http.cookies.update(first.http.cookies)  # the same guest's browser, served by either replica
    shown = second.http.get(f"/g/{link.link_id}/")
    assert shown.status_code == 200 and "replicas.pdf" in shown.text

    firm.revoke(link.link_id)
    revoked_at = time.monotonic()
    for replica in (first, second):
        assert wait_until(lambda r=replica: r.http.get(f"/g/{link.link_id}/").status_code == 410,
                          timeout=1.0 - (time.monotonic() - revoked_at)), "revoke not enforced within 1 s"


def test_invalid_tokens_are_rate_limited_per_client_across_replicas(firm, stack_env, second_gateway):
    """The counts live in the gateways' shared database: an address's failures on one replica count on every
    other, and its valid link still opens."""
    address = "2001:db8::" + ":".join(uuid.uuid4().hex[i:i + 4] for i in range(0, 16, 4))  # as the proxy says
    [link] = firm.issue("view")
    guest = Guest(second_gateway)
    guest.http.headers["x-forwarded-for"] = address
    bad = [guest.open("/l/" + uuid.uuid4().hex + uuid.uuid4().hex[:11]) for _ in range(4)]
    assert [response.status_code for response in bad] == [404, 404, 404, 429]
    assert int(bad[-1].headers["retry-after"]) > 0
    assert guest.open(link.url).status_code == 200  # a valid token always passes, whatever the address has done
