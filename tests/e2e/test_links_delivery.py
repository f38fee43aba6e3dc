"""Links issued through the running links service reach their recipients: by e-mail into the stack's mail
inbox, by SMS into its outbox file; the staff API then reports them delivered."""

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

DEADLINE_SECONDS = 30


def wait_for(check, what: str):
    """Poll ``check`` until it returns something truthy; fail after the deadline."""
    give_up_at = time.monotonic() + DEADLINE_SECONDS
    while not (result := check()):
        if time.monotonic() > give_up_at:
            raise AssertionError(f"{what} not seen within {DEADLINE_SECONDS} s")
        time.sleep(0.2)
    return result


@pytest.fixture
def staff_api(stack_env):
    with httpx.Client(base_url=stack_env["LINKS_URL"], timeout=10,
                      headers={"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"}) as client:
        yield client


def issue(staff_api, **body) -> dict:
    response = staff_api.post("/v1/links", json={"resource_id": f"e2e-{uuid.uuid4().hex[:8]}", **body})
    assert response.status_code == 201, response.text
    [link] = response.json()["links"]
    return link


def test_an_emailed_link_arrives_in_the_mail_inbox_and_is_reported_delivered(stack_env, staff_api):
    address = f"e2e-{uuid.uuid4().hex[:8]}@example.test"
    link = issue(staff_api, action="view", recipients=[{"email": address, "language": "es", "delivery": "email"}])
    assert link["url"].startswith(f"{stack_env['GATEWAY_URL']}/l/")

    with httpx.Client(base_url=stack_env["MAIL_UI_URL"], timeout=10) as mailpit:
        found = wait_for(lambda: mailpit.get("/api/v1/search", params={"query": f"to:{address}"}).json()["messages"],
                         "the e-mail")
        mail = mailpit.get(f"/api/v1/message/{found[0]['ID']}").json()
    assert link["url"] in mail["Text"] and link["url"] in mail["HTML"]
    assert "caduca el" in mail["Text"]

    wait_for(lambda: staff_api.get(f"/v1/links/{link['link_id']}").json()["delivery_status"] == "delivered",
             "delivery_status delivered")
    revoked = staff_api.post(f"/v1/links/{link['link_id']}/revoke")
    assert revoked.json()["status"] == "revoked"


def test_an_sms_link_is_written_to_the_stacks_sms_outbox(stack_env, staff_api):
    if not stack_env.get("SMS_OUTBOX_PATH"):
        pytest.fail("stack.env names no SMS_OUTBOX_PATH")
    outbox = Path(stack_env["SMS_OUTBOX_PATH"])
    link = issue(staff_api, action="pay", recipients=[{"phone": "+34 699 000 123", "delivery": "sms"}])

    def sent() -> list[dict]:
        lines = outbox.read_text().splitlines() if outbox.exists() else []
        return [sms for sms in map(json.loads, lines) if sms["link_id"] == link["link_id"]]

    [sms] = wait_for(sent, "the SMS")
    assert sms["to"] == "+34699000123" and link["url"] in sms["body"]
