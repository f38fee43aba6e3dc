"""The internal API the gateway uses (/internal/v1), against real PostgreSQL."""

import asyncio
import random
import re
import string
import uuid
from datetime import datetime, timedelta

import pytest

from loginless.links.tokens import new_token

pytestmark = pytest.mark.integration

INTERNAL = {"Authorization": "Bearer test-internal-secret"}
LINK_VIEW_KEYS = {"link_id", "tenant_id", "action", "resource_id", "recipient", "expires_at", "max_uses", "uses",
                  "opens", "last_opened_at", "status", "verification", "revoked_at"}
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"


def token_of(issued: dict) -> str:
    return issued["url"].rsplit("/l/", 1)[1]


async def resolve(client, token: str):
    return await client.post("/internal/v1/links/resolve", json={"token": token}, headers=INTERNAL)


async def test_a_token_resolves_to_its_link_and_resolving_records_nothing(client, staff, issue, stream_types):
    issued = (await issue(client, staff, action="sign", resource_id="sig-42", max_uses=1, verification="email"))[0]

    resolved = await resolve(client, token_of(issued))

    assert resolved.status_code == 200
    view = resolved.json()
    assert LINK_VIEW_KEYS <= set(view)
    assert (view["link_id"], view["tenant_id"], view["action"], view["resource_id"]) == (
        issued["link_id"], staff.tenant_id, "sign", "sig-42")
    assert (view["status"], view["verification"], view["max_uses"], view["opens"]) == ("active", "email", 1, 0)
    assert await stream_types(issued["link_id"]) == ["LinkIssued"]
    by_id = await client.get(f"/internal/v1/links/{issued['link_id']}", headers=INTERNAL)
    assert by_id.json() == view


async def test_ten_thousand_random_and_mutated_tokens_are_all_unknown_and_look_the_same(
        concurrent_client, staff, issue):
    client = concurrent_client
    real = [token_of(link) for link in await issue(client, staff, recipients=[
        {"email": f"r{n}@example.test"} for n in range(5)])]
    rng = random.Random(20260101)

    def mutated(token: str) -> str:
        position = rng.randrange(len(token))
        match rng.randrange(6):
            case 0:  # one character changed
                return token[:position] + rng.choice(TOKEN_ALPHABET.replace(token[position], "")) + token[position + 1:]
            case 1:  # one character dropped
                return token[:position] + token[position + 1:]
            case 2:  # one character added
                return token[:position] + rng.choice(TOKEN_ALPHABET) + token[position:]
            case 3:  # case flipped
                return token.swapcase()
            case 4:  # padded or wrapped the way copy and paste does
                return rng.choice([token + "=", f" {token}", f"{token}\n", f"{token}/", f"%20{token}"])
            case _:  # a character outside the alphabet
                return token[:position] + rng.choice("+/.~!*'()é\x00") + token[position + 1:]

    candidates = [new_token() for _ in range(5000)] + [mutated(rng.choice(real)) for _ in range(5000)]
    candidates += ["", "a", "x" * 43, "x" * 1000]
    assert not set(candidates) & set(real)

    reference = await resolve(client, "no-such-token")
    # A NUL is refused before any lookup, as on every route (422, the same answer whatever the rest of the token).
    malformed = await resolve(client, "no-such\x00token")
    assert (reference.status_code, malformed.status_code) == (404, 422)
    for start in range(0, len(candidates), 50):
        batch = candidates[start:start + 50]
        responses = await asyncio.gather(*(resolve(client, token) for token in batch))
        for token, response in zip(batch, responses, strict=True):
            expected = malformed if "\x00" in token else reference
            assert (response.status_code, response.content) == (expected.status_code, expected.content), token
    assert [(await resolve(client, token)).status_code for token in real] == [200] * 5


async def test_internal_endpoints_refuse_callers_without_the_internal_secret(client, staff, issue):
    link_id = (await issue(client, staff))[0]["link_id"]
    calls = [("post", "/internal/v1/api-keys/verify", {"api_key": staff.api_key}),
             ("post", "/internal/v1/links/resolve", {"token": new_token()}),
             ("get", f"/internal/v1/links/{link_id}", None), ("post", f"/internal/v1/links/{link_id}/use", {}),
             ("get", f"/internal/v1/tenants/{staff.tenant_id}/branding", None)]
    for method, path, body in calls:
        for headers in ({}, {"Authorization": "Bearer wrong"}, staff.headers):
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (path, headers)
    assert (await client.get(f"/v1/links/{link_id}", headers=staff.headers)).json()["uses"] == 0


async def test_other_services_verify_staff_keys_here(client, staff):
    valid = await client.post("/internal/v1/api-keys/verify", json={"api_key": staff.api_key}, headers=INTERNAL)
    assert valid.status_code == 200
    assert valid.json() == {"tenant_id": staff.tenant_id, "key_id": staff.api_key.split("_")[1]}
    for wrong in (staff.api_key[:-2], staff.api_key + "x", "ll_unknown_" + "a" * 43, "not a key"):
        response = await client.post("/internal/v1/api-keys/verify", json={"api_key": wrong}, headers=INTERNAL)
        assert response.status_code == 401, wrong


async def test_opening_and_using_a_link_are_counted_recorded_and_announced(client, staff, issue, stream_types):
    link_id = (await issue(client, staff))[0]["link_id"]
    guest = {"client_ip": "203.0.113.9", "user_agent": "Mozilla/5.0 (test)"}

    opened = await client.post(f"/internal/v1/links/{link_id}/opened", json=guest, headers=INTERNAL)
    used = await client.post(f"/internal/v1/links/{link_id}/use", json=guest, headers=INTERNAL)
    used_again = await client.post(f"/internal/v1/links/{link_id}/use", headers=INTERNAL)  # body is optional

    assert (opened.status_code, used.status_code, used_again.status_code) == (204, 200, 200)
    assert (used.json()["uses"], used_again.json()["uses"], used_again.json()["opens"]) == (1, 2, 1)
    assert used.json()["last_opened_at"] is not None and used.json()["status"] == "active"
    assert await stream_types(link_id) == ["LinkIssued", "LinkOpened", "LinkUsed", "LinkUsed"]
    accesses = (await client.get(f"/v1/links/{link_id}/accesses", headers=staff.headers)).json()["accesses"]
    assert [(a["kind"], a["client_ip"], a["user_agent"]) for a in accesses] == [
        ("opened", "203.0.113.9", "Mozilla/5.0 (test)"), ("used", "203.0.113.9", "Mozilla/5.0 (test)"),
        ("used", None, None)]


async def test_a_link_that_is_no_longer_active_is_gone_naming_its_id_tenant_and_status(
        client, staff, issue, clock, stream_types):
    revoked, used_up, expiring = [(await issue(client, staff, max_uses=1, expires_in_seconds=3600))[0]
                                  for _ in range(3)]
    await client.post(f"/v1/links/{revoked['link_id']}/revoke", headers=staff.headers)
    await client.post(f"/internal/v1/links/{used_up['link_id']}/use", headers=INTERNAL)
    clock.advance(hours=1)

    for issued, status in ((revoked, "revoked"), (used_up, "used_up"), (expiring, "expired")):
        for response in (await resolve(client, token_of(issued)),
                         await client.post(f"/internal/v1/links/{issued['link_id']}/opened", headers=INTERNAL),
                         await client.post(f"/internal/v1/links/{issued['link_id']}/use", headers=INTERNAL)):
            assert response.status_code == 410
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert (body["link_id"], body["tenant_id"], body["link_status"]) == (issued["link_id"],
                                                                                 staff.tenant_id, status)
            assert body["status"] == 410  # RFC 9457's member keeps its meaning
    assert await stream_types(expiring["link_id"]) == ["LinkIssued"]


async def test_of_simultaneous_uses_of_a_one_time_link_exactly_one_gets_in(
        concurrent_client, staff, issue, stream_types):
    one_time = (await issue(concurrent_client, staff, max_uses=1))[0]["link_id"]
    three_times = (await issue(concurrent_client, staff, max_uses=3))[0]["link_id"]

    async def uses(link_id: str, count: int) -> list[int]:
        responses = await asyncio.gather(*(
            concurrent_client.post(f"/internal/v1/links/{link_id}/use", headers=INTERNAL) for _ in range(count)))
        return sorted(response.status_code for response in responses)

    assert await uses(one_time, 2) == [200, 410]
    assert await uses(three_times, 8) == [200] * 3 + [410] * 5
    assert await stream_types(one_time) == ["LinkIssued", "LinkUsed"]
    assert await stream_types(three_times) == ["LinkIssued"] + ["LinkUsed"] * 3


async def test_a_verification_code_is_sent_to_the_recipient_and_accepted_once(
        client, staff, issue, delivery_worker, sms_outbox, clock):
    link = (await issue(client, staff, verification="sms",
                        recipients=[{"email": "v@example.test", "phone": "+34 622 000 111"}]))[0]
    path = f"/internal/v1/links/{link['link_id']}/verification-code"

    assert (await client.post(path, headers=INTERNAL)).status_code == 202
    too_soon = await client.post(path, headers=INTERNAL)
    assert too_soon.status_code == 429 and too_soon.json()["retry_after"] == 30
    await delivery_worker.deliver_due()
    [message] = sms_outbox()
    assert (message["to"], message["link_id"]) == ("+34622000111", link["link_id"])
    code = re.search(r"\b(\d{6})\b", message["body"])[1]

    right = await client.post(f"{path}/check", json={"code": code}, headers=INTERNAL)
    assert (right.status_code, right.json()) == (200, {"verified": True})
    spent = await client.post(f"{path}/check", json={"code": code}, headers=INTERNAL)
    assert spent.status_code == 422  # a code opens the door once

    clock.advance(seconds=31)
    assert (await client.post(path, headers=INTERNAL)).status_code == 202
    await delivery_worker.deliver_due()
    newest = re.search(r"\b(\d{6})\b", sms_outbox()[-1]["body"])[1]
    clock.advance(minutes=10)  # the code's whole validity
    expired = await client.post(f"{path}/check", json={"code": newest}, headers=INTERNAL)
    assert expired.status_code == 422


async def send_code(client, link_id: str, delivery_worker, sms_outbox) -> str:
    """Ask links for a code for ``link_id`` and read it from the SMS that went out."""
    assert (await client.post(f"/internal/v1/links/{link_id}/verification-code", headers=INTERNAL)).status_code == 202
    await delivery_worker.deliver_due()
    return re.search(r"\b(\d{6})\b", sms_outbox()[-1]["body"])[1]


async def five_wrong_codes(client, link_id: str, right: str) -> list:
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    path = f"/internal/v1/links/{link_id}/verification-code/check"
    return [await client.post(path, json={"code": wrong}, headers=INTERNAL) for _ in range(5)]


async def test_five_wrong_codes_pause_the_links_codes_and_a_right_code_works_after_the_pause(
        client, staff, issue, delivery_worker, sms_outbox, stream_types, clock):
    link = (await issue(client, staff, verification="sms", recipients=[{"phone": "+34 633 000 222"}]))[0]
    link_id, path = link["link_id"], f"/internal/v1/links/{link['link_id']}/verification-code"
    code = await send_code(client, link_id, delivery_worker, sms_outbox)

    *first_four, fifth = await five_wrong_codes(client, link_id, code)

    assert [(r.status_code, r.json()["attempts_left"]) for r in first_four] == [(422, 4), (422, 3), (422, 2), (422, 1)]
    assert fifth.status_code == 423 and fifth.headers["content-type"] == "application/problem+json"
    assert fifth.json()["retry_after"] == 900 and fifth.headers["retry-after"] == "900"  # LINKS_CODE_LOCK_SECONDS
    clock.advance(minutes=5)
    right_too_early = await client.post(f"{path}/check", json={"code": code}, headers=INTERNAL)
    assert right_too_early.status_code == 423 and right_too_early.json()["retry_after"] == 600
    assert (await client.post(path, headers=INTERNAL)).status_code == 423
    assert (await client.post(f"/internal/v1/links/{link_id}/use", headers=INTERNAL)).status_code == 423
    view = (await client.get(f"/v1/links/{link_id}", headers=staff.headers)).json()
    assert view["verification_locked"] is True
    assert datetime.fromisoformat(view["verification_locked_until"]) == clock.now + timedelta(minutes=10)

    clock.advance(minutes=10)  # the pause is over (and the old code expired with it): a new code works
    fresh = await send_code(client, link_id, delivery_worker, sms_outbox)
    assert (await client.post(f"{path}/check", json={"code": fresh}, headers=INTERNAL)).json() == {"verified": True}
    assert (await client.post(f"/internal/v1/links/{link_id}/use", headers=INTERNAL)).status_code == 200
    assert await stream_types(link_id) == ["LinkIssued", "LinkVerificationLocked", "LinkUsed"]
    view = (await client.get(f"/v1/links/{link_id}", headers=staff.headers)).json()
    assert (view["verification_locked"], view["verification_locked_until"]) == (False, None)


async def test_a_second_lock_pauses_twice_as_long(client, staff, issue, delivery_worker, sms_outbox, clock):
    link_id = (await issue(client, staff, verification="sms", recipients=[{"phone": "+34 633 000 223"}]))[0]["link_id"]
    first = (await five_wrong_codes(client, link_id, await send_code(client, link_id, delivery_worker, sms_outbox)))
    clock.advance(minutes=15)
    second = (await five_wrong_codes(client, link_id, await send_code(client, link_id, delivery_worker, sms_outbox)))
    assert [first[-1].json()["retry_after"], second[-1].json()["retry_after"]] == [900, 1800]


async def test_staff_reset_ends_the_pause_at_once_and_only_for_the_tenants_own_links(
        client, staff, make_staff, issue, delivery_worker, sms_outbox, stream_types):
    """Bad inputs tried: another tenant's link (404), a made-up id (404), a revoked link (410), no API key (401)."""
    link_id = (await issue(client, staff, verification="sms", recipients=[{"phone": "+34 633 000 224"}]))[0]["link_id"]
    path = f"/internal/v1/links/{link_id}/verification-code"
    code = await send_code(client, link_id, delivery_worker, sms_outbox)
    assert (await five_wrong_codes(client, link_id, code))[-1].status_code == 423
    other = await make_staff(name="Other Firm")

    assert (await client.post(f"/v1/links/{link_id}/verification/reset", headers=other.headers)).status_code == 404
    assert (await client.post(f"/v1/links/{link_id}/verification/reset")).status_code == 401
    assert (await client.post(f"{path}/check", json={"code": code}, headers=INTERNAL)).status_code == 423
    reset = await client.post(f"/v1/links/{link_id}/verification/reset", headers=staff.headers)

    assert reset.status_code == 200 and reset.json()["verification_locked"] is False
    assert (await client.post(f"{path}/check", json={"code": code}, headers=INTERNAL)).json() == {"verified": True}
    assert await stream_types(link_id) == ["LinkIssued", "LinkVerificationLocked", "LinkVerificationReset"]
    # The wrong codes before the reset are forgotten too: a new wrong one leaves four more.
    wrong = await client.post(f"{path}/check", json={"code": "000000" if code != "000000" else "111111"},
                              headers=INTERNAL)
    assert wrong.json()["attempts_left"] == 4

    unknown = await client.post(f"/v1/links/{uuid.uuid4()}/verification/reset", headers=staff.headers)
    revoked = (await issue(client, staff, verification="sms", recipients=[{"phone": "+34633000226"}]))[0]
    await client.post(f"/v1/links/{revoked['link_id']}/revoke", headers=staff.headers)
    ended = await client.post(f"/v1/links/{revoked['link_id']}/verification/reset", headers=staff.headers)
    assert (unknown.status_code, ended.status_code) == (404, 410)
    assert all(r.headers["content-type"] == "application/problem+json" for r in (unknown, ended))
    assert await stream_types(revoked["link_id"]) == ["LinkIssued", "LinkRevoked"]  # nothing half-written


async def test_a_link_without_verification_sends_a_code_to_prove_a_new_browser_and_checks_it(client, staff, issue):
    """The gateway asks for one when a service wants a new browser proven (requests' ``verify_new_devices``)."""
    link_id = (await issue(client, staff))[0]["link_id"]
    path = f"/internal/v1/links/{link_id}/verification-code"
    assert (await client.post(path, headers=INTERNAL)).status_code == 202
    wrong = await client.post(f"{path}/check", json={"code": "12345"}, headers=INTERNAL)
    assert wrong.status_code == 422 and wrong.json()["attempts_left"] == 4
