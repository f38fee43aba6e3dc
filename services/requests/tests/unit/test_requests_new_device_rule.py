"""Who must pass a code before seeing a request's answers (``verify_new_devices``), without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loginless.requests import definitions as defs
from loginless.requests import domain
from loginless.requests.handlers import holds_answers, must_prove_device
from loginless.requests.repository import DraftAnswer
from loginless.shared.web.assertion import GuestAssertion, GuestRecipient

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, tzinfo=UTC)
DEFINITION = defs.parse_definition({"sections": [{"id": "s", "title": {"en": "S"}, "questions": [
    {"id": "name", "type": "short_text", "label": {"en": "Name"}}]}]})


def template() -> domain.Template:
    return domain.TEMPLATE.replay(domain.decide_template(None, domain.SaveTemplateVersion(
        "tpl_1", "t1", "Form", DEFINITION, NOW)))


def submit(state: domain.ClientRequest) -> domain.ClientRequest:
    events = domain.decide_request(state, domain.Submit("lnk_1", {"name": "Ana"}, (), True, "/x", NOW))
    return domain.REQUEST.replay(events, state)


def request(*, verify_new_devices: bool) -> domain.ClientRequest:
    command = domain.SendRequest("req_1", "t1", None, template(), 1, False, None, None,
                                 (domain.Recipient("rcp_1", "Ana", "ana@example.test", None, "es"),), NOW,
                                 verify_new_devices=verify_new_devices)
    state = domain.REQUEST.replay(domain.decide_request(None, command))
    return domain.REQUEST.replay(domain.decide_request(state, domain.RecordLinkIssued("rcp_1", "lnk_1", NOW)), state)


def guest(*, device_proven: bool) -> GuestAssertion:
    return GuestAssertion(link_id="lnk_1", tenant_id="t1", action="request", resource_id="req_1",
                          recipient=GuestRecipient(email="ana@example.test"), link_expires_at=NOW + timedelta(days=7),
                          audience="requests", device_proven=device_proven)


def test_only_a_browser_not_yet_proven_on_a_request_that_asks_for_it_must_prove_itself():
    assert must_prove_device(request(verify_new_devices=True), guest(device_proven=False))
    assert not must_prove_device(request(verify_new_devices=True), guest(device_proven=True))
    assert not must_prove_device(request(verify_new_devices=False), guest(device_proven=False))


def test_the_switch_is_a_fact_of_the_request_recorded_when_it_is_sent():
    [sent_event] = domain.decide_request(None, domain.SendRequest(
        "req_1", "t1", None, template(), 1, False, None, None,
        (domain.Recipient("rcp_1", "Ana", "ana@example.test", None, "es"),), NOW, verify_new_devices=True))
    assert sent_event.verify_new_devices is True
    assert domain.REQUEST.replay([sent_event]).verify_new_devices is True


def test_answers_given_after_sending_or_a_submission_count_and_what_the_firm_prefilled_does_not():
    state = request(verify_new_devices=True)
    recipient = state.recipient("rcp_1")
    prefilled = {"name": DraftAnswer("Ana", 1, state.sent_at)}  # saved with the sending
    assert not holds_answers(state, recipient, {})
    assert not holds_answers(state, recipient, prefilled)
    given = {**prefilled, "iban": DraftAnswer("ES91 2100 0418 4502 0005 1332", 1, NOW + timedelta(seconds=1))}
    assert holds_answers(state, recipient, given)
    submitted = submit(state)
    assert holds_answers(submitted, submitted.recipient("rcp_1"), prefilled)
