"""The request aggregate: who may answer when, and what each change records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loginless.requests import definitions as defs
from loginless.requests import domain

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, tzinfo=UTC)
DEFINITION = defs.parse_definition({"sections": [{"id": "s", "title": {"en": "S"}, "questions": [
    {"id": "name", "type": "short_text", "label": {"en": "Name"}}]}]})


def template() -> domain.Template:
    events = domain.decide_template(None, domain.SaveTemplateVersion("tpl_1", "t1", "Form", DEFINITION, NOW))
    return domain.TEMPLATE.replay(events)


def sent(**changes) -> domain.ClientRequest:  # noqa: ANN003
    recipients = (domain.Recipient("rcp_1", "Ana", "ana@example.test", None, "es"),
                  domain.Recipient("rcp_2", "Bank", "bank@example.test", None, None))
    command = domain.SendRequest("req_1", "t1", "acc_1", template(), 1, True, "Hello", NOW + timedelta(days=7),
                                 recipients, NOW)
    state = domain.REQUEST.replay(domain.decide_request(None, command))
    for recipient_id, link_id in (("rcp_1", "lnk_1"), ("rcp_2", "lnk_2")):
        state = domain.REQUEST.replay(domain.decide_request(
            state, domain.RecordLinkIssued(recipient_id, link_id, NOW)), state)
    return state


def submit(state: domain.ClientRequest, link_id: str = "lnk_1") -> domain.ClientRequest:
    events = domain.decide_request(state, domain.Submit(link_id, {"name": "Ana"}, (), True, "/x", NOW))
    return domain.REQUEST.replay(events, state)


def test_saving_the_same_definition_again_makes_no_new_version_and_a_change_makes_one():
    state = template()
    same = domain.SaveTemplateVersion("tpl_1", "t1", "Form", DEFINITION, NOW)
    assert domain.decide_template(state, same) == []
    changed = domain.SaveTemplateVersion("tpl_1", "t1", "Form 2026", DEFINITION, NOW)
    [event] = domain.decide_template(state, changed)
    assert event.template_version == 2


def test_each_recipient_answers_for_themselves_and_submitting_closes_only_their_answers():
    state = submit(sent())
    assert state.recipient("rcp_1").status == "submitted"
    assert state.recipient("rcp_2").status == "sent"
    with pytest.raises(domain.RequestClosed):
        submit(state)
    submit(state, "lnk_2")


def test_sending_back_reopens_a_submission_with_comments_and_only_a_submission():
    state = sent()
    with pytest.raises(domain.NotSubmitted):
        domain.decide_request(state, domain.SendBack("rcp_1", {"name": "full name"}, None, NOW))
    state = submit(state)
    state = domain.REQUEST.replay(domain.decide_request(
        state, domain.SendBack("rcp_1", {"name": "full name"}, None, NOW + timedelta(minutes=1))), state)
    assert state.recipient("rcp_1").status == "sent_back"
    assert state.recipient("rcp_1").comments == {"name": "full name"}
    submit(state)


def test_a_cancelled_request_takes_no_answers_and_cancelling_twice_records_once():
    state = sent()
    state = domain.REQUEST.replay(domain.decide_request(state, domain.Cancel("mistake", NOW)), state)
    assert domain.decide_request(state, domain.Cancel("again", NOW)) == []
    with pytest.raises(domain.RequestClosed) as closed:
        submit(state)
    assert closed.value.extra["reason"] == "cancelled"


def test_a_link_that_is_not_the_requests_is_not_found():
    with pytest.raises(domain.NotFound):
        domain.decide_request(sent(), domain.OpenRequest("lnk_other", NOW))


def test_opening_is_recorded_once_per_recipient():
    state = sent()
    state = domain.REQUEST.replay(domain.decide_request(state, domain.OpenRequest("lnk_1", NOW)), state)
    assert domain.decide_request(state, domain.OpenRequest("lnk_1", NOW)) == []


def test_a_due_date_in_the_past_is_refused():
    command = domain.SendRequest("req_2", "t1", None, template(), 1, False, None, NOW - timedelta(days=1),
                                 (domain.Recipient("rcp_1", None, "a@example.test", None, None),), NOW)
    with pytest.raises(domain.InvalidRequest):
        domain.decide_request(None, command)
