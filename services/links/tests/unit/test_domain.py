"""The link aggregate without I/O: decide, evolve, status, recipient verification and issue-request rules."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from loginless.events.payloads.links import (
    LinkDelivered,
    LinkDeliveryFailed,
    LinkExpired,
    LinkIssued,
    LinkOpened,
    LinkRevoked,
    LinkUsed,
    LinkVerificationLocked,
    LinkVerificationReset,
)
from loginless.links.domain import (
    CODE_LIFETIME,
    MAX_CODE_ATTEMPTS,
    CodeLockPolicy,
    CodeSendingCaps,
    ExpiryPolicy,
    IssueLink,
    IssueRequest,
    Link,
    LockVerification,
    OpenLink,
    Recipient,
    RecipientRequest,
    RecordDelivery,
    RecordExpiry,
    ResetVerification,
    RevokeLink,
    UseLink,
    VerificationState,
    check_code_request,
    check_issue,
    code_channel,
    decide,
    judge_code,
    normalize_phone,
    replay,
)
from loginless.links.errors import (
    InvalidFields,
    LinkGone,
    LinkNotFound,
    VerificationCodeTooSoon,
    VerificationLocked,
    VerificationNotRequired,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)
POLICY = ExpiryPolicy(defaults={"view": timedelta(days=30), "upload": timedelta(days=14), "sign": timedelta(days=7),
                                "pay": timedelta(days=30), "request": timedelta(days=14)},
                      maximum=timedelta(days=365))


def issued(**changes) -> Link:
    command = IssueLink(link_id="link-1", tenant_id="firm", action="sign", resource_id="doc-1",
                        recipient=Recipient("Ana", "ana@example.test", None, "es"), expires_at=NOW + timedelta(days=7),
                        max_uses=None, verification="none", delivery="email", now=NOW)
    return replay(decide(None, replace(command, **changes)))


def after(link: Link, *commands) -> Link:
    for command in commands:
        link = replay(decide(link, command), link)
    return link


def test_issuing_announces_everything_a_gateway_needs_and_starts_active_and_pending_delivery():
    [event] = decide(None, IssueLink(
        link_id="link-1", tenant_id="firm", action="pay", resource_id="inv-1",
        recipient=Recipient(None, None, "+34600000000", "en"), expires_at=NOW + timedelta(days=1), max_uses=1,
        verification="sms", delivery="sms", now=NOW))
    assert isinstance(event, LinkIssued)
    assert (event.link_id, event.recipient_phone, event.max_uses, event.verification, event.issued_at) == (
        "link-1", "+34600000000", 1, "sms", NOW)
    link = replay([event])
    assert (link.status(NOW), link.delivery_status, link.uses, link.opens) == ("active", "pending", 0, 0)
    assert issued(delivery="none").delivery_status == "none"


def test_a_link_cannot_be_issued_twice():
    with pytest.raises(ValueError):
        decide(issued(), IssueLink("link-1", "firm", "view", "d", Recipient(), NOW, None, "none", "none", NOW))


def test_commands_on_a_link_that_was_never_issued_find_nothing():
    for command in (RevokeLink(NOW), OpenLink(NOW), UseLink(NOW)):
        with pytest.raises(LinkNotFound):
            decide(None, command)


def test_status_is_derived_revoked_beats_used_up_beats_expired():
    link = issued(max_uses=1)
    assert link.status(NOW) == "active"
    assert link.status(link.expires_at) == "expired"  # the expiry instant itself is past
    used_up = after(link, UseLink(NOW))
    assert (used_up.status(NOW), used_up.status(link.expires_at)) == ("used_up", "used_up")
    assert after(used_up, RevokeLink(NOW)).status(link.expires_at) == "revoked"


def test_opening_and_using_count_and_are_refused_once_the_link_is_not_active():
    link = after(issued(max_uses=2), OpenLink(NOW), OpenLink(NOW + timedelta(minutes=1)), UseLink(NOW))
    assert (link.opens, link.last_opened_at, link.uses, link.last_used_at) == (2, NOW + timedelta(minutes=1), 1, NOW)
    [opened] = decide(link, OpenLink(NOW))
    assert isinstance(opened, LinkOpened) and opened.opened_at == NOW
    [used] = decide(link, UseLink(NOW))
    assert isinstance(used, LinkUsed) and used.uses == 2
    used_up = after(link, UseLink(NOW))
    for command in (UseLink(NOW), OpenLink(NOW)):
        with pytest.raises(LinkGone) as gone:
            decide(used_up, command)
        assert gone.value.extra == {"link_id": "link-1", "tenant_id": "firm", "link_status": "used_up"}
    with pytest.raises(LinkGone) as expired:
        decide(link, UseLink(link.expires_at + timedelta(seconds=1)))
    assert expired.value.status_code == 410 and expired.value.extra["link_status"] == "expired"


def test_revoking_twice_announces_it_once():
    [revoked] = decide(issued(), RevokeLink(NOW))
    assert isinstance(revoked, LinkRevoked)
    assert decide(after(issued(), RevokeLink(NOW)), RevokeLink(NOW + timedelta(hours=1))) == []


def test_the_delivery_outcome_is_recorded_once():
    link = issued()
    [delivered] = decide(link, RecordDelivery("email", 2, NOW))
    assert isinstance(delivered, LinkDelivered) and delivered.attempts == 2 and delivered.provider_message_id is None
    [by_sms] = decide(link, RecordDelivery("sms", 1, NOW, provider_message_id="SM" + "0" * 32))
    assert by_sms.provider_message_id == "SM" + "0" * 32  # the provider's id, to look the message up there
    assert after(link, RecordDelivery("email", 2, NOW)).delivery_status == "delivered"
    [failed] = decide(link, RecordDelivery("sms", 8, NOW, failure="SMTPConnectError: refused"))
    assert isinstance(failed, LinkDeliveryFailed) and failed.reason == "SMTPConnectError: refused"
    failed_link = after(link, RecordDelivery("sms", 8, NOW, failure="x"))
    assert failed_link.delivery_status == "failed"
    assert decide(failed_link, RecordDelivery("sms", 9, NOW)) == []


def test_expiry_is_recorded_once_after_the_link_expired_and_never_for_a_link_that_ended_otherwise():
    link = issued()
    assert decide(link, RecordExpiry(link.expires_at - timedelta(seconds=1))) == []
    [expired] = decide(link, RecordExpiry(link.expires_at))
    assert isinstance(expired, LinkExpired) and expired.expires_at == link.expires_at
    assert decide(replay([expired], link), RecordExpiry(link.expires_at + timedelta(days=1))) == []
    assert decide(after(link, RevokeLink(NOW)), RecordExpiry(link.expires_at)) == []


# ---- recipient verification ---------------------------------------------------------------------------------


def test_a_right_fresh_code_verifies_and_resets_the_wrong_tries():
    link = issued(verification="email")
    state = VerificationState(failed_attempts=3, code_issued_at=NOW, code_expires_at=NOW + CODE_LIFETIME)
    judgement = judge_code(link, state, code_matches=True, now=NOW + timedelta(minutes=9))
    assert (judgement.verified, judgement.failed_attempts, judgement.locks) == (True, 0, False)


def test_wrong_or_expired_codes_count_down_and_the_fifth_locks_the_link_for_a_while():
    link = issued(verification="sms")
    state = VerificationState(code_issued_at=NOW, code_expires_at=NOW + CODE_LIFETIME)
    left = []
    for attempt in range(4):
        judgement = judge_code(link, state, code_matches=attempt == 3, now=NOW + CODE_LIFETIME)  # last: expired
        left.append(judgement.attempts_left)
        state = replace(state, failed_attempts=judgement.failed_attempts)
    fifth = judge_code(link, state, code_matches=False, now=NOW)
    assert left == [4, 3, 2, 1]
    # The lock holds the refusal now; the count starts again for after the pause.
    assert not fifth.verified and fifth.locks and fifth.failed_attempts == 0
    [locked] = decide(link, LockVerification(NOW))
    assert isinstance(locked, LinkVerificationLocked) and locked.locked_until == NOW + timedelta(minutes=15)
    locked_link = replay([locked], link)
    assert decide(locked_link, LockVerification(NOW)) == []  # locking twice records nothing more
    with pytest.raises(VerificationLocked) as refused:
        judge_code(locked_link, state, code_matches=True, now=NOW + timedelta(minutes=5))
    assert refused.value.extra["retry_after"] == 600
    with pytest.raises(VerificationLocked):
        decide(locked_link, UseLink(NOW))


def lock(link: Link, at: datetime, policy: CodeLockPolicy = CodeLockPolicy()) -> Link:
    """Five wrong codes at ``at``: the link as the handler leaves it."""
    state = VerificationState(code_issued_at=at, code_expires_at=at + CODE_LIFETIME)
    for _ in range(MAX_CODE_ATTEMPTS):
        judgement = judge_code(link, state, code_matches=False, now=at)
        state = replace(state, failed_attempts=judgement.failed_attempts)
    assert judgement.locks
    return after(link, LockVerification(at, policy))


def test_each_further_lock_pauses_twice_as_long_up_to_the_longest_and_every_pause_ends():
    policy = CodeLockPolicy(first=timedelta(minutes=15), longest=timedelta(hours=24))
    link, at, pauses = issued(verification="email"), NOW, []
    for _ in range(9):
        link = lock(link, at, policy)
        assert link.verification_locked_until is not None
        pauses.append(link.verification_locked_until - at)
        assert link.verification_locked(link.verification_locked_until - timedelta(seconds=1))
        at = link.verification_locked_until  # the pause is over: codes are judged again, never refused for good
        assert not link.verification_locked(at)
        fresh = VerificationState(code_issued_at=at, code_expires_at=at + CODE_LIFETIME)
        assert judge_code(link, fresh, code_matches=True, now=at).verified
    assert [p / timedelta(minutes=15) for p in pauses] == [1, 2, 4, 8, 16, 32, 64, 96, 96]  # 96 x 15 min = 24 h
    assert policy.pause(10_000) == timedelta(hours=24)


def test_a_lock_recorded_before_pauses_were_ends_one_first_pause_after_it_began():
    link = after(issued(verification="email"))
    legacy = replay([LinkVerificationLocked(link_id=link.link_id, tenant_id=link.tenant_id, locked_at=NOW)], link)
    assert legacy.verification_locked(NOW + timedelta(minutes=14))
    assert not legacy.verification_locked(NOW + timedelta(minutes=15))


def test_a_staff_reset_ends_the_lock_at_once_and_the_next_lock_is_the_shortest_again():
    link = lock(lock(issued(verification="sms", recipient=Recipient("Ana", None, "+34600000000", None)), NOW),
                NOW + timedelta(hours=1))
    assert link.verification_locks == 2 and link.verification_locked(NOW + timedelta(hours=1, minutes=1))
    [reset] = decide(link, ResetVerification(NOW + timedelta(hours=1, minutes=1)))
    assert isinstance(reset, LinkVerificationReset)
    cleared = replay([reset], link)
    assert not cleared.verification_locked(NOW + timedelta(hours=1, minutes=1)) and cleared.verification_locks == 0
    again = lock(cleared, NOW + timedelta(hours=2))
    assert again.verification_locked_until == NOW + timedelta(hours=2, minutes=15)


def test_a_reset_is_refused_for_links_without_codes_and_for_links_that_ended():
    with pytest.raises(VerificationNotRequired):
        decide(issued(recipient=Recipient("Ana", None, None, None), delivery="none"), ResetVerification(NOW))
    with pytest.raises(LinkGone):
        decide(after(issued(verification="email"), RevokeLink(NOW)), ResetVerification(NOW))
    with pytest.raises(LinkGone):
        decide(issued(verification="email"), ResetVerification(NOW + timedelta(days=8)))


def test_codes_go_by_the_links_verification_else_to_the_recipients_email_then_phone():
    both = Recipient("Ana", "a@example.test", "+34600000000", None)
    assert code_channel(issued(verification="sms", recipient=both)) == "sms"
    assert code_channel(issued(recipient=both)) == "email"
    assert code_channel(issued(recipient=Recipient("Ana", None, "+34600000000", None), delivery="none")) == "sms"
    assert code_channel(issued(recipient=Recipient("Ana", None, None, None), delivery="none")) is None


def test_without_any_code_sent_a_check_counts_as_wrong():
    judgement = judge_code(issued(verification="email"), VerificationState(), code_matches=False, now=NOW)
    assert (judgement.verified, judgement.attempts_left) == (False, 4)


def test_codes_are_sent_only_for_verifying_active_unlocked_links_and_not_too_often():
    assert check_code_request(issued(verification="email"), VerificationState(), NOW) == NOW + CODE_LIFETIME
    # A link that opens without a code still sends one to its recipient when asked (to prove a new browser) ...
    assert check_code_request(issued(), VerificationState(), NOW) == NOW + CODE_LIFETIME
    # ... unless it has nowhere to send it.
    with pytest.raises(VerificationNotRequired):
        check_code_request(issued(recipient=Recipient("Ana", None, None, "es"), delivery="none"),
                           VerificationState(), NOW)
    with pytest.raises(LinkGone):
        check_code_request(after(issued(verification="sms"), RevokeLink(NOW)), VerificationState(), NOW)
    recent = VerificationState(code_issued_at=NOW, code_expires_at=NOW + CODE_LIFETIME)
    with pytest.raises(VerificationCodeTooSoon) as too_soon:
        check_code_request(issued(verification="sms"), recent, NOW + timedelta(seconds=10.5))
    assert too_soon.value.extra == {"retry_after": 20}
    assert check_code_request(issued(verification="sms"), recent, NOW + timedelta(seconds=30))


def test_sending_codes_is_capped_per_hour_and_per_day_whatever_the_pause_between_two():
    caps = CodeSendingCaps(per_hour=2, per_day=3)
    link = issued(verification="sms")
    hour_ago = NOW - timedelta(minutes=59)
    two_this_hour = VerificationState(recent_sends=(hour_ago, NOW - timedelta(minutes=5)))
    with pytest.raises(VerificationCodeTooSoon) as hour_full:
        check_code_request(link, two_this_hour, NOW, caps)
    assert hour_full.value.extra == {"retry_after": 60}  # when the one 59 minutes old leaves the hour
    assert check_code_request(link, two_this_hour, NOW + timedelta(minutes=1), caps)
    three_today = VerificationState(recent_sends=(NOW - timedelta(hours=23), NOW - timedelta(hours=5),
                                                  NOW - timedelta(hours=2)))
    with pytest.raises(VerificationCodeTooSoon) as day_full:
        check_code_request(link, three_today, NOW, caps)
    assert day_full.value.extra == {"retry_after": 3600}
    older = VerificationState(recent_sends=(NOW - timedelta(days=2),) * 5)  # sends older than a day count for nothing
    assert check_code_request(link, older, NOW, caps)


# ---- issue requests -----------------------------------------------------------------------------------------


def request(**changes) -> IssueRequest:
    base = IssueRequest(action="view", resource_id="doc-1",
                        recipients=(RecipientRequest(name="Ana", email="ana@example.test"),))
    return replace(base, **changes)


def broken_fields(issue_request: IssueRequest) -> list[str]:
    with pytest.raises(InvalidFields) as invalid:
        check_issue(issue_request, POLICY, NOW)
    return sorted(error["field"] for error in invalid.value.extra["errors"])


def test_without_an_sms_provider_links_delivered_or_verified_by_sms_are_refused_and_the_rest_issued():
    by_sms = RecipientRequest(name="Ana", phone="+34 600 000 000", delivery="sms")
    with pytest.raises(InvalidFields) as invalid:
        check_issue(request(recipients=(by_sms,), verification="sms"), POLICY, NOW, sends_sms=False)
    errors = {error["field"]: error["message"] for error in invalid.value.extra["errors"]}
    assert set(errors) == {"recipients[0].delivery", "verification"}
    assert all("sends no SMS" in message for message in errors.values())
    assert check_issue(request(recipients=(by_sms,), verification="sms"), POLICY, NOW).recipients  # with one
    by_email = RecipientRequest(email="ana@example.test", phone="+34 600 000 000", delivery="email")
    assert check_issue(request(recipients=(by_email,)), POLICY, NOW, sends_sms=False).recipients


def test_expiry_is_explicit_relative_or_the_actions_default_with_sign_fixed_at_seven_days():
    assert check_issue(request(action="sign"), POLICY, NOW).expires_at == NOW + timedelta(days=7)
    assert check_issue(request(action="upload"), POLICY, NOW).expires_at == NOW + timedelta(days=14)
    assert check_issue(request(action="pay"), POLICY, NOW).expires_at == NOW + timedelta(days=30)
    explicit = NOW + timedelta(days=2)
    assert check_issue(request(action="sign", expires_at=explicit), POLICY, NOW).expires_at == explicit
    assert check_issue(request(expires_in_seconds=90), POLICY, NOW).expires_at == NOW + timedelta(seconds=90)


@pytest.mark.parametrize(("changes", "fields"), [
    ({"expires_at": NOW - timedelta(seconds=1)}, ["expires_at"]),
    ({"expires_at": NOW}, ["expires_at"]),
    ({"expires_at": NOW + timedelta(days=366)}, ["expires_at"]),
    ({"expires_at": datetime(2026, 4, 1)}, ["expires_at"]),  # no time zone
    ({"expires_in_seconds": 0}, ["expires_in_seconds"]),
    ({"expires_in_seconds": -60}, ["expires_in_seconds"]),
    ({"expires_in_seconds": 60, "expires_at": NOW + timedelta(days=1)}, ["expires_at"]),
    ({"max_uses": 0}, ["max_uses"]),
    ({"max_uses": 10_001}, ["max_uses"]),
    ({"resource_id": ""}, ["resource_id"]),
    ({"resource_id": "doc 1"}, ["resource_id"]),
    ({"resource_id": "../etc/passwd"}, ["resource_id"]),
    ({"resource_id": "x" * 129}, ["resource_id"]),
    ({"action": "delete"}, ["action"]),
    ({"recipients": ()}, ["recipients"]),
    ({"recipients": (RecipientRequest(email="a@example.test"),) * 51}, ["recipients"]),
])
def test_request_level_rules(changes, fields):
    """Bad inputs tried: expiry in the past, at this instant, beyond 365 days, without a time zone, as zero or
    negative seconds, or given both ways; max_uses 0 and above 10,000; an empty resource id, one with a space,
    a path, one too long; an unknown action; no recipients and more than 50."""
    assert broken_fields(request(**changes)) == fields


@pytest.mark.parametrize(("recipient", "verification", "fields"), [
    (RecipientRequest(name="Ana"), "none", ["recipients[0]"]),
    (RecipientRequest(email="ana@"), "none", ["recipients[0].email"]),
    (RecipientRequest(email="ana example@test.es"), "none", ["recipients[0].email"]),
    (RecipientRequest(email="ana@example"), "none", ["recipients[0].email"]),
    (RecipientRequest(email="a@b.es\r\nBcc: x@y.es"), "none", ["recipients[0].email"]),
    (RecipientRequest(phone="600 000 000"), "none", ["recipients[0].phone"]),
    (RecipientRequest(phone="+34 6OO"), "none", ["recipients[0].phone"]),
    (RecipientRequest(email="a@example.test", name="Ana\nBcc: x@y.es"), "none", ["recipients[0].name"]),
    (RecipientRequest(email="a@example.test", name="A" * 201), "none", ["recipients[0].name"]),
    (RecipientRequest(phone="+34600000000", delivery="email"), "none", ["recipients[0].delivery"]),
    (RecipientRequest(email="a@example.test", delivery="sms"), "none", ["recipients[0].delivery"]),
    (RecipientRequest(phone="+34600000000"), "email", ["recipients[0].email"]),
    (RecipientRequest(email="a@example.test"), "sms", ["recipients[0].phone"]),
])
def test_recipient_rules(recipient, verification, fields):
    """Bad inputs tried: no contact at all; e-mails without a domain, with a space, without a dot in the domain,
    with a header injected; phones without a country code or with letters; names with a newline or over 200
    characters; e-mail delivery to a phone-only recipient and SMS to an e-mail-only one; e-mail verification
    without an e-mail and SMS verification without a phone."""
    assert broken_fields(request(recipients=(recipient,), verification=verification)) == fields


def test_every_broken_rule_is_reported_at_once():
    bad = request(resource_id="", max_uses=0, recipients=(RecipientRequest(), RecipientRequest(email="x")))
    assert broken_fields(bad) == ["max_uses", "recipients[0]", "recipients[1].email", "resource_id"]


def test_recipients_are_normalised_and_each_keeps_its_delivery_channel():
    checked = check_issue(request(recipients=(
        RecipientRequest(name="  Ana  ", email=" ana@example.test ", language="es", delivery="email"),
        RecipientRequest(phone="+34 (600) 000-000", delivery="sms"))), POLICY, NOW)
    assert checked.recipients == ((Recipient("Ana", "ana@example.test", None, "es"), "email"),
                                  (Recipient(None, None, "+34600000000", None), "sms"))
    assert normalize_phone("+1 415 555 0100") == "+14155550100" and normalize_phone("0034600000000") is None
