"""Notifications on the running stack, only through the staff APIs, the gateway and the mail inbox: a guest's
upload brings the guest a receipt and the owner an alert, a pending link is reminded with the same URL, and the
alert's one-click unsubscribe works through the gateway."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from loginless.links.tokens import new_api_key
from loginless.testkit.guests import DocumentsDesk, Firm, Guest

pytestmark = pytest.mark.e2e


def inbox(stack_env, address: str, *, count: int, timeout: float = 30) -> list[dict]:
    """The first ``count`` messages to ``address``, oldest first, once that many arrived; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=stack_env["MAIL_UI_URL"], timeout=10) as mailpit:
        while True:
            found = mailpit.get("/api/v1/search", params={"query": f"to:{address}"}).json()["messages"]
            if len(found) >= count:
                return [mailpit.get(f"/api/v1/message/{summary['ID']}").json() for summary in reversed(found)]
            assert time.monotonic() < deadline, f"{len(found)} of {count} mails to {address}"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def firm_env(stack_env) -> dict[str, str]:
    """The stack's environment for a firm of this module's own (its API key as ``DEV_API_KEY``): the short
    reminder schedule below must not remind the links other tests send for the development firm."""
    api_key = new_api_key().value
    service_env = Path(os.environ["LOGINLESS_VAR_DIR"]) / "service-env" / "links.env"
    settings = dict(line.split("=", 1) for line in service_env.read_text().splitlines() if "=" in line)
    made = subprocess.run([sys.executable, "-m", "loginless.links", "ensure-tenant", "--tenant-id",
                           f"notify-{uuid.uuid4().hex[:8]}", "--name", "Notify Firm", "--api-key", api_key],
                          env={**os.environ, **settings}, capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    return {**stack_env, "DEV_API_KEY": api_key}


@pytest.fixture(scope="module")
def settings_api(firm_env):
    with httpx.Client(base_url=firm_env["NOTIFICATIONS_URL"], timeout=15,
                      headers={"Authorization": f"Bearer {firm_env['DEV_API_KEY']}"}) as http:
        yield http


@pytest.fixture(scope="module")
def owner(settings_api) -> str:
    """The development firm's alert address, and a schedule short enough to watch: a reminder 3 s after sending."""
    address = f"owner-{uuid.uuid4().hex[:8]}@demo-firm.localhost"
    saved = settings_api.put("/v1/notification-settings", json={
        "owner_addresses": [address], "owner_alerts": "immediate",
        "reminders": {"first_after": "PT3S", "interval": "P1D", "expiry_warning_before": "PT0S"}})
    assert saved.status_code == 200, saved.text
    return address


def upload(stack_env, url: str, name: str, content: bytes) -> None:
    """What the upload page's tus client does: create the upload, then send its bytes."""
    guest = Guest(stack_env["GATEWAY_URL"])
    link_id, _ = guest.enter(url)
    metadata = f"filename {base64.b64encode(name.encode()).decode()}"
    created = guest.http.post(f"/g/{link_id}/uploads", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(len(content)), "Upload-Metadata": metadata})
    assert created.status_code == 201, created.text
    sent = guest.http.patch(created.headers["location"], content=content, headers={
        "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert sent.status_code == 204, sent.text


def test_an_upload_brings_the_guest_a_receipt_and_the_owner_an_alert_that_unsubscribes_through_the_gateway(
        stack_env, firm_env, owner, settings_api):
    desk = DocumentsDesk(firm_env, Firm(firm_env))
    guest_address = f"uploader-{uuid.uuid4().hex[:8]}@example.com"
    link = desk.request_upload(recipients=[{"email": guest_address, "name": "Ana Ortiz"}])
    content = b"%PDF-1.4\n%receipt e2e\n"

    upload(stack_env, link.url, "payslip.pdf", content)

    receipt = next(m for m in inbox(stack_env, guest_address, count=2) if "received" in m["Subject"])
    assert receipt["Subject"] == "Notify Firm: we received your file"
    assert "payslip.pdf" in receipt["Text"] and f"SHA-256: {hashlib.sha256(content).hexdigest()}" in receipt["Text"]
    [alert] = inbox(stack_env, owner, count=1)
    assert alert["Subject"] == "Notify Firm: files were uploaded"
    assert "Ana Ortiz" in alert["Text"] and "payslip.pdf" in alert["Text"]

    unsubscribe = re.search(r"https?://\S+/unsubscribe/\S+", alert["Text"])[0]
    assert unsubscribe.startswith(stack_env["GATEWAY_URL"])
    with httpx.Client(timeout=15) as mail_client:
        assert owner in mail_client.get(unsubscribe).text  # a GET shows the choice only
        done = mail_client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "will no longer receive" in done.text
    assert settings_api.get("/v1/notification-settings").json()["suppressed"] == [
        {"address": owner, "reason": "unsubscribed"}]


def test_a_pending_upload_link_is_reminded_with_the_same_link_and_the_reminder_opens_it(stack_env, firm_env, owner):
    desk = DocumentsDesk(firm_env, Firm(firm_env))
    guest_address = f"forgetful-{uuid.uuid4().hex[:8]}@example.com"
    link = desk.request_upload(recipients=[{"email": guest_address}])

    first, reminder = inbox(stack_env, guest_address, count=2)

    assert "reminder" not in first["Subject"] and "reminder" in reminder["Subject"]
    assert link.url in first["Text"] and link.url in reminder["Text"]
    assert Guest(stack_env["GATEWAY_URL"]).open(link.url).status_code == 200
