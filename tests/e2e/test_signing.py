"""Signing on the running stack, as a firm's backend and its signers do it: an envelope sent through the staff API,
each signer's link arriving by e-mail when it is their turn, signing through the gateway, and the sealed PDF that
poppler's pdfsig (a validator the project did not write) finds valid and trusted."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from loginless.testkit import endpoints
from loginless.testkit.files import pdf, text
from loginless.testkit.guests import Guest
from loginless.testkit.waiting import wait_until

from .test_guest_journeys import code_in, mail_to

pytestmark = pytest.mark.e2e

CONTRACT = pdf(((595, 842), text("Services agreement")))


@pytest.fixture(scope="module")
def desk(stack_env) -> httpx.Client:
    """The firm's backend on the signing staff API."""
    with httpx.Client(base_url=stack_env["SIGNING_URL"], timeout=60,
                      headers={"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"}) as client:
        yield client


def send(desk: httpx.Client, *emails: str, **body) -> dict:  # noqa: ANN003
    recipients = [{"name": f"Signer {n + 1}", "email": email} for n, email in enumerate(emails)]
    fields = [{"recipient": n, "kind": "signature", "page": 1, "x": 72, "y": 120 + 90 * n} for n in range(len(emails))]
    response = desk.post("/v1/envelopes", json={
        "title": "Services agreement", "documents": [{"name": "agreement.pdf",
                                                      "content_base64": base64.b64encode(CONTRACT).decode()}],
        "recipients": recipients, "fields": fields, "send": True, **body})
    assert response.status_code == 201, response.text
    return response.json()


def link_in_mail(stack_env, address: str) -> str:
    mail = mail_to(stack_env, address, containing="/l/")
    [url] = set(re.findall(re.escape(stack_env["GATEWAY_URL"]) + r"/l/[A-Za-z0-9_-]+", mail["Text"]))
    return url


def sign_through_the_gateway(guest: Guest, url: str, name: str) -> httpx.Response:
    link_id, landing = guest.enter(url)
    assert landing.status_code == 200, landing.text
    consented = guest.http.post(f"/g/{link_id}/consent")
    assert consented.status_code == 200 and "data-signing-form" in consented.text
    shown = dict(re.findall(r'name="shown:(\d+)" value="([0-9a-f]{64})"', consented.text))
    form = {f"shown:{n}": sha for n, sha in shown.items()} | {"typed": name}
    return guest.http.post(f"/g/{link_id}/sign", data=form)


def pdfsig(path: Path, nss_dir: Path) -> str:
    if shutil.which("pdfsig") is None:
        endpoints.missing("poppler's pdfsig (Debian poppler-utils)")
    return subprocess.run(["pdfsig", "-nssdir", f"sql:{nss_dir}", str(path)], capture_output=True, text=True,
                          check=False).stdout


@pytest.fixture(scope="module")
def nss_trusting_the_development_ca(stack_env, tmp_path_factory) -> Path:
    """An NSS database that trusts the stack's development CA, as a firm's PDF reader would once told to."""
    if shutil.which("certutil") is None:
        endpoints.missing("NSS's certutil (Debian libnss3-tools)")
    directory = tmp_path_factory.mktemp("nss")
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{directory}", "-n", "loginless-dev", "-t", "CT,C,C", "-a", "-i",
                    stack_env["SIGNING_TRUST_ROOT"]], check=True)
    return directory


def test_two_signers_in_turn_get_their_links_by_mail_and_the_sealed_pdf_is_valid_for_pdfsig(
        desk, stack_env, tmp_path, nss_trusting_the_development_ca):
    first, second = (f"signer-{uuid.uuid4().hex[:8]}@example.com" for _ in range(2))
    envelope = send(desk, first, second)

    signed = sign_through_the_gateway(Guest(stack_env["GATEWAY_URL"]), link_in_mail(stack_env, first), "Signer One")
    assert signed.status_code == 200 and "data-waiting" in signed.text
    signed = sign_through_the_gateway(Guest(stack_env["GATEWAY_URL"]), link_in_mail(stack_env, second), "Signer Two")
    assert signed.status_code == 200

    path = f"/v1/envelopes/{envelope['envelope_id']}"
    assert wait_until(lambda: desk.get(path).json()["status"] == "completed", timeout=60, interval=0.25)
    sealed = desk.get(f"{path}/documents/0/sealed")
    assert sealed.status_code == 200
    file = tmp_path / "agreement (signed).pdf"
    file.write_bytes(sealed.content)
    report = pdfsig(file, nss_trusting_the_development_ca)
    assert "Signature is Valid." in report and "Certificate is Trusted." in report, report
    assert "Total document signed" in report, report


def test_with_a_code_by_email_nothing_of_the_envelope_shows_before_the_code(desk, stack_env):
    address = f"signer-{uuid.uuid4().hex[:8]}@example.com"
    send(desk, address, verification="email")
    url = link_in_mail(stack_env, address)
    guest = Guest(stack_env["GATEWAY_URL"])
    opened = guest.open(url)
    assert opened.status_code == 200 and "Services agreement" not in opened.text
    link_id = re.search(r"/g/([A-Za-z0-9_-]+)/", opened.text)[1]
    before = guest.http.get(f"/g/{link_id}/")
    assert "Services agreement" not in before.text and "data-consent" not in before.text
    assert guest.http.post(f"/g/{link_id}/verify/code").status_code == 200
    code = code_in(mail_to(stack_env, address, containing="verification code is"))
    checked = guest.http.post(f"/g/{link_id}/verify", data={"code": code})
    assert checked.status_code == 200 and "data-consent" in checked.text
