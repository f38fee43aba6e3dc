"""Notifications' rules without I/O: the reminder schedule, pending actions that end, preferences, digests' hour,
unsubscribe tokens and the mails' headers and wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from loginless.events.payloads.notifications import NotificationSettingsChanged, ReminderSent
from loginless.notifications.domain import (
    PENDING_ACTION,
    PREFERENCES,
    ChangePreferences,
    PendingAction,
    Preferences,
    ReminderNotDue,
    ReminderSchedule,
    SendReminder,
    StopReminders,
    TrackAction,
    Unsubscribe,
    next_digest_at,
    next_reminder,
)
from loginless.notifications.mails import Fact, MailComposer
from loginless.notifications.unsubscribe import UnsubscribeLinks
from loginless.shared.branding import Branding
from loginless.shared.errors import InvalidRequest

pytestmark = pytest.mark.unit

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def awaited(*, lifetime: timedelta = timedelta(days=14), action: str = "upload") -> PendingAction:
    return PENDING_ACTION.replay([*PENDING_ACTION.decide(None, TrackAction(
        link_id="l-1", tenant_id="firm", action=action, resource_id="upr_1", issued_at=SENT,  # type: ignore[arg-type]
        expires_at=SENT + lifetime, now=SENT))])


def send_every_due(pending: PendingAction, schedule: ReminderSchedule, *, until: datetime) -> list[ReminderSent]:
    """Run the worker at each due moment up to ``until``; the reminders it sends."""
    sent: list[ReminderSent] = []
    while (due := next_reminder(pending, schedule)) is not None and due.at <= until:
        events = PENDING_ACTION.decide(pending, SendReminder(schedule, due.at))
        sent.extend(events)  # type: ignore[arg-type]
        pending = PENDING_ACTION.replay(events, pending)
    return sent


# ---- the reminder schedule ----------------------------------------------------------------------------------


def test_the_default_schedule_reminds_after_two_days_then_every_three_and_once_a_day_before_expiry():
    sent = send_every_due(awaited(), ReminderSchedule(), until=SENT + timedelta(days=30))

    assert [(r.sent_at - SENT, r.kind, r.number) for r in sent] == [
        (2 * DAY, "pending", 1), (5 * DAY, "pending", 2), (8 * DAY, "pending", 3), (11 * DAY, "pending", 4),
        (13 * DAY, "expiry_warning", 5)]  # day 14 would pass the warning, which is the last


def test_a_shared_document_is_not_chased_but_gets_the_warning_before_its_link_expires():
    sent = send_every_due(awaited(action="view", lifetime=timedelta(days=30)), ReminderSchedule(),
                          until=SENT + timedelta(days=30))
    assert [(r.sent_at - SENT, r.kind) for r in sent] == [(29 * DAY, "expiry_warning")]


def test_pending_reminders_stop_at_the_tenants_maximum_and_the_expiry_warning_still_comes():
    sent = send_every_due(awaited(), ReminderSchedule(max_reminders=2), until=SENT + timedelta(days=30))
    assert [(r.sent_at - SENT, r.kind) for r in sent] == [(2 * DAY, "pending"), (5 * DAY, "pending"),
                                                           (13 * DAY, "expiry_warning")]


def test_a_worker_that_was_down_sends_one_late_reminder_not_a_burst():
    pending, schedule = awaited(), ReminderSchedule()
    late = SENT + timedelta(days=7)  # the day-2 and day-5 reminders were both missed

    [reminder] = PENDING_ACTION.decide(pending, SendReminder(schedule, late))
    pending = PENDING_ACTION.replay([reminder], pending)

    assert next_reminder(pending, schedule).at == late + 3 * DAY


def test_a_link_too_short_for_the_schedule_gets_only_what_fits():
    short = awaited(lifetime=timedelta(hours=20))  # expiry warning would come before it was even sent
    assert send_every_due(short, ReminderSchedule(), until=SENT + DAY) == []
    three_days = awaited(lifetime=timedelta(days=3))
    assert [(r.sent_at - SENT, r.kind) for r in send_every_due(three_days, ReminderSchedule(),
                                                                until=SENT + timedelta(days=3))] == [
        (2 * DAY, "expiry_warning")]  # the first reminder and the warning fall together: one mail


def test_a_disabled_schedule_or_a_stopped_action_has_nothing_due():
    assert next_reminder(awaited(), ReminderSchedule(enabled=False)) is None
    stopped = PENDING_ACTION.replay(PENDING_ACTION.decide(
        awaited(), StopReminders("l-1", "firm", "done", SENT + DAY)), awaited())
    assert next_reminder(stopped, ReminderSchedule()) is None
    with pytest.raises(ReminderNotDue):
        PENDING_ACTION.decide(stopped, SendReminder(ReminderSchedule(), SENT + 3 * DAY))


def test_a_reminder_not_yet_due_or_sent_by_another_worker_is_not_sent_again():
    pending, schedule = awaited(), ReminderSchedule()
    with pytest.raises(ReminderNotDue):
        PENDING_ACTION.decide(pending, SendReminder(schedule, SENT + DAY))
    sent = PENDING_ACTION.decide(pending, SendReminder(schedule, SENT + 2 * DAY))
    pending = PENDING_ACTION.replay(sent, pending)
    with pytest.raises(ReminderNotDue):  # the loser of a race is judged again on what won
        PENDING_ACTION.decide(pending, SendReminder(schedule, SENT + 2 * DAY))


def test_an_action_done_before_its_link_was_heard_of_is_never_reminded():
    done_first = PENDING_ACTION.replay(PENDING_ACTION.decide(None, StopReminders("l-1", "firm", "done", SENT)))
    track = TrackAction(link_id="l-1", tenant_id="firm", action="upload", resource_id="upr_1", issued_at=SENT,
                        expires_at=SENT + 14 * DAY, now=SENT)
    assert PENDING_ACTION.decide(done_first, track) == []
    assert next_reminder(done_first, ReminderSchedule()) is None
    again = StopReminders("l-1", "firm", "revoked", SENT + DAY)
    assert PENDING_ACTION.decide(done_first, again) == []  # the first reason stands


# ---- preferences ----------------------------------------------------------------------------------------------


def preferences(**values: object) -> Preferences:
    return Preferences(tenant_id="firm", **values)  # type: ignore[arg-type]


def test_preferences_that_break_rules_are_refused_naming_each_rule():
    wanted = preferences(owner_addresses=("owner@firm.test", "not an address", "x@y"), digest_hour=24,
                         timezone="Mars/Olympus", reminders=ReminderSchedule(interval=timedelta(0), max_reminders=99))
    with pytest.raises(InvalidRequest) as refused:
        PREFERENCES.decide(None, ChangePreferences(wanted, SENT))
    assert sorted(e["field"] for e in refused.value.extra["errors"]) == [
        "digest_hour", "max_reminders", "owner_addresses[1]", "owner_addresses[2]", "reminder_interval", "timezone"]


def test_saved_preferences_are_trimmed_and_deduplicated_and_each_save_is_recorded():
    wanted = preferences(owner_addresses=(" Owner@Firm.test ", "owner@firm.test", "desk@firm.test"))
    [changed] = PREFERENCES.decide(None, ChangePreferences(wanted, SENT))
    assert isinstance(changed, NotificationSettingsChanged)
    assert changed.owner_addresses == ["Owner@Firm.test", "desk@firm.test"]
    state = PREFERENCES.replay([changed])
    [saved_again] = PREFERENCES.decide(state, ChangePreferences(wanted, SENT + DAY))  # how a bounce is retried
    assert PREFERENCES.replay([saved_again], state) == state


def test_an_unsubscribed_address_gets_no_alerts_and_stays_unsubscribed_when_settings_are_saved_again():
    state = PREFERENCES.replay(PREFERENCES.decide(None, ChangePreferences(
        preferences(owner_addresses=("owner@firm.test", "desk@firm.test")), SENT)))
    events = PREFERENCES.decide(state, Unsubscribe("firm", "Desk@Firm.test", SENT))
    state = PREFERENCES.replay(events, state)
    assert PREFERENCES.decide(state, Unsubscribe("firm", "desk@firm.test", SENT)) == []  # once is enough
    state = PREFERENCES.replay(PREFERENCES.decide(state, ChangePreferences(
        preferences(owner_addresses=("owner@firm.test", "desk@firm.test"), digest_hour=7), SENT)), state)
    assert state.alert_recipients() == ("owner@firm.test",)
    assert PREFERENCES.replay(PREFERENCES.decide(state, ChangePreferences(
        preferences(owner_addresses=("owner@firm.test",), owner_alerts="off"), SENT)), state).alert_recipients() == ()


def test_the_digest_goes_out_at_the_tenants_hour_in_its_time_zone_across_daylight_saving():
    # Madrid is UTC+1 in winter and UTC+2 in summer; summer time ended on 2026-10-25.
    assert next_digest_at(datetime(2026, 10, 24, 12, 0, tzinfo=UTC), 8, "Europe/Madrid") == datetime(
        2026, 10, 25, 7, 0, tzinfo=UTC)
    assert next_digest_at(datetime(2026, 10, 25, 12, 0, tzinfo=UTC), 8, "Europe/Madrid") == datetime(
        2026, 10, 26, 7, 0, tzinfo=UTC)
    assert next_digest_at(datetime(2026, 10, 26, 6, 59, tzinfo=UTC), 8, "Europe/Madrid") == datetime(
        2026, 10, 26, 7, 0, tzinfo=UTC)  # before the hour: the same day's digest


# ---- unsubscribe links and mails -------------------------------------------------------------------------------


def test_an_unsubscribe_link_names_its_tenant_and_address_and_one_made_up_or_altered_names_nothing():
    links = UnsubscribeLinks(b"key", "https://guests.example.test/")
    url = links.url_for("firm", "Owner@Firm.test")
    token = url.rsplit("/", 1)[1]

    assert url.startswith("https://guests.example.test/unsubscribe/")
    assert links.read(token) == ("firm", "owner@firm.test")
    payload, signature = token.split(".")
    other = UnsubscribeLinks(b"key", "https://x.test").url_for("other-firm", "owner@firm.test").rsplit("/", 1)[1]
    for forged in (f"{other.split('.')[0]}.{signature}", f"{payload}.{signature[:-2]}AA", payload, "", "...",
                   UnsubscribeLinks(b"another key", "https://x.test").url_for("firm", "owner@firm.test")
                   .rsplit("/", 1)[1]):
        assert links.read(forged) is None, forged


BRANDING = Branding(name="Ortega & Lane", color="#0b6e4f", contact_name="Front desk",
                    contact_email="desk@ortega-lane.test")


def test_an_owner_alert_has_both_parts_one_click_unsubscribe_and_escapes_what_guests_wrote():
    fact = Fact("uploaded", SENT, '<script>alert(1)</script>.pdf', who="Ana <ana@example.test>", size=2048,
                sha256="ab" * 32)
    mail = MailComposer("loginless <no-reply@notify.test>").owner_alert(
        BRANDING, "owner@firm.test", "es", [fact], unsubscribe_url="https://guests.example.test/unsubscribe/t.s")
    message = message_from_bytes(bytes(mail.message), policy=default_policy)

    assert message["Subject"] == "Ortega & Lane: se han subido archivos"
    assert message["List-Unsubscribe"] == "<https://guests.example.test/unsubscribe/t.s>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == mail.message_id and message["Content-Language"] == "es"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert 'Ana <ana@example.test> ha subido «<script>alert(1)</script>.pdf» (2 KB)' in text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;.pdf" in html


def test_an_upload_receipt_lists_each_file_with_its_fingerprint_and_has_no_unsubscribe():
    files = [Fact("uploaded", SENT, "payslip-1.pdf", size=1000, sha256="1" * 64),
             Fact("uploaded", SENT + timedelta(seconds=5), "payslip-2.pdf", size=3000, sha256="2" * 64)]
    mail = MailComposer("no-reply@notify.test").upload_receipt(BRANDING, "ana@example.test", "en", files,
                                                                name="Ana Ortiz")
    message = message_from_bytes(bytes(mail.message), policy=default_policy)

    assert message["Subject"] == "Ortega & Lane: we received your 2 files"
    assert message["List-Unsubscribe"] is None and message["Reply-To"] == "Front desk <desk@ortega-lane.test>"
    text = message.get_body(("plain",)).get_content()
    assert "Hello Ana Ortiz," in text and f"SHA-256: {'1' * 64}" in text and f"SHA-256: {'2' * 64}" in text
    assert text.index("payslip-1.pdf") < text.index("payslip-2.pdf")
