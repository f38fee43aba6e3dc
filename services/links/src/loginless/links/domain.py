"""The link aggregate: one capability link for one recipient. Commands, state, ``decide`` and ``evolve``; no I/O.

A link's stream holds its integration events (``LinkIssued``, ``LinkOpened``, ``LinkUsed``, …). Its status is
not stored but derived at a given moment: revoked beats used up beats expired; anything else is active.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, get_args

from loginless.events import IntegrationEvent
from loginless.events.payloads.links import (
    DeliveryChannel,
    DeliveryStatus,
    GuestAction,
    Language,
    LinkDelivered,
    LinkDeliveryFailed,
    LinkExpired,
    LinkIssued,
    LinkOpened,
    LinkRevoked,
    LinkStatus,
    LinkUsed,
    LinkVerificationLocked,
    LinkVerificationReset,
    Verification,
)
from loginless.links.errors import (
    InvalidFields,
    LinkGone,
    LinkNotFound,
    VerificationCodeTooSoon,
    VerificationLocked,
    VerificationNotRequired,
)
from loginless.shared.eventstore.decider import Decider

ACTIONS: tuple[GuestAction, ...] = get_args(GuestAction)
MAX_RECIPIENTS = 50
MAX_USES_LIMIT = 10_000
MAX_CODE_ATTEMPTS = 5
CODE_LIFETIME = timedelta(minutes=10)
CODE_RESEND_INTERVAL = timedelta(seconds=30)  # each code costs the firm an SMS and the recipient a ping

_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")
_RESOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


# ---- state ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: Language | None = None  # None: the firm did not say


@dataclass(frozen=True)
class Link:
    link_id: str
    tenant_id: str
    action: GuestAction
    resource_id: str
    recipient: Recipient
    issued_at: datetime
    expires_at: datetime
    max_uses: int | None
    verification: Verification
    delivery: DeliveryChannel
    delivery_status: DeliveryStatus
    uses: int = 0
    opens: int = 0
    last_opened_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    verification_locked_at: datetime | None = None
    verification_locked_until: datetime | None = None
    verification_locks: int = 0  # locks since issue or the last reset: each one pauses twice as long
    expiry_recorded: bool = False  # LinkExpired is in the stream

    def verification_locked(self, now: datetime) -> bool:
        return self.verification_locked_until is not None and now < self.verification_locked_until

    def require_unlocked(self, now: datetime) -> None:
        if self.verification_locked(now):
            assert self.verification_locked_until is not None
            raise VerificationLocked("too many wrong codes: this link takes codes again later",
                                     retry_after=_seconds(self.verification_locked_until - now))

    def status(self, now: datetime) -> LinkStatus:
        if self.revoked_at is not None:
            return "revoked"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "used_up"
        if now >= self.expires_at:
            return "expired"
        return "active"

    def require_active(self, now: datetime) -> None:
        if (status := self.status(now)) != "active":
            raise LinkGone(link_id=self.link_id, tenant_id=self.tenant_id, link_status=status)


# ---- commands ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueLink:
    link_id: str
    tenant_id: str
    action: GuestAction
    resource_id: str
    recipient: Recipient
    expires_at: datetime
    max_uses: int | None
    verification: Verification
    delivery: DeliveryChannel
    now: datetime


@dataclass(frozen=True)
class RevokeLink:
    now: datetime


@dataclass(frozen=True)
class OpenLink:
    now: datetime


@dataclass(frozen=True)
class UseLink:
    now: datetime


@dataclass(frozen=True)
class RecordExpiry:
    now: datetime


@dataclass(frozen=True)
class CodeLockPolicy:
    """How long a link refuses codes after ``MAX_CODE_ATTEMPTS`` wrong ones: ``first``, twice that at the next lock,
    and so on up to ``longest``. Guessing stays hopeless (a few codes an hour at most), and the recipient, whose
    link it is, is never locked out for good; staff can end a pause at once (``ResetVerification``)."""

    first: timedelta = timedelta(minutes=15)
    longest: timedelta = timedelta(hours=24)

    def pause(self, earlier_locks: int) -> timedelta:
        if earlier_locks >= 32:  # far past any sane ``longest``; keeps the doubling from growing without end
            return self.longest
        return min(self.first * 2 ** earlier_locks, self.longest)


@dataclass(frozen=True)
class LockVerification:
    """The last wrong code allowed was given: the link takes no codes for a while (``policy``)."""

    now: datetime
    policy: CodeLockPolicy = CodeLockPolicy()


@dataclass(frozen=True)
class ResetVerification:
    """Staff clear the link's lock: codes work again now, and the next lock starts from the first pause."""

    now: datetime


@dataclass(frozen=True)
class RecordDelivery:
    channel: Literal["email", "sms"]
    attempts: int
    now: datetime
    failure: str | None = None  # None: delivered
    provider_message_id: str | None = None  # the SMS provider's id of the message it accepted


Command = (IssueLink | RevokeLink | OpenLink | UseLink | RecordDelivery | RecordExpiry | LockVerification
           | ResetVerification)


def decide(state: Link | None, command: Command) -> list[IntegrationEvent]:
    """The events a command produces on a link in ``state`` (``None``: not issued yet), or a domain error."""
    if isinstance(command, IssueLink):
        if state is not None:
            raise ValueError(f"link {command.link_id} was issued already")
        return [LinkIssued(
            link_id=command.link_id, tenant_id=command.tenant_id, action=command.action,
            resource_id=command.resource_id, recipient_name=command.recipient.name,
            recipient_email=command.recipient.email, recipient_phone=command.recipient.phone,
            recipient_language=command.recipient.language, expires_at=command.expires_at,
            max_uses=command.max_uses, verification=command.verification, delivery=command.delivery,
            issued_at=command.now,
        )]
    if state is None:
        raise LinkNotFound()
    ids = {"link_id": state.link_id, "tenant_id": state.tenant_id}
    match command:
        case RevokeLink(now=now):
            return [] if state.revoked_at is not None else [LinkRevoked(**ids, revoked_at=now)]
        case OpenLink(now=now):
            state.require_active(now)
            return [LinkOpened(**ids, opened_at=now)]
        case UseLink(now=now):
            state.require_active(now)
            state.require_unlocked(now)
            return [LinkUsed(**ids, used_at=now, uses=state.uses + 1)]
        case LockVerification(now=now, policy=policy):
            if state.verification_locked(now):
                return []  # a lock in force already: a second report of the same wrong codes changes nothing
            return [LinkVerificationLocked(**ids, locked_at=now,
                                           locked_until=now + policy.pause(state.verification_locks))]
        case ResetVerification(now=now):
            if code_channel(state) is None:
                raise VerificationNotRequired("this link has no one-time codes to reset")
            state.require_active(now)
            return [LinkVerificationReset(**ids, reset_at=now)]
        case RecordExpiry(now=now):
            if state.expiry_recorded or state.status(now) != "expired":
                return []  # not expired yet, recorded already, or ended otherwise (revoked, used up)
            return [LinkExpired(**ids, expires_at=state.expires_at)]
        case RecordDelivery(channel=channel, attempts=attempts, now=now, failure=failure,
                            provider_message_id=message_id):
            if state.delivery_status != "pending":
                return []  # the outcome is known already: a repeated report changes nothing
            if failure is None:
                return [LinkDelivered(**ids, channel=channel, delivered_at=now, attempts=attempts,
                                      provider_message_id=message_id)]
            return [LinkDeliveryFailed(**ids, channel=channel, failed_at=now, attempts=attempts, reason=failure)]
    raise TypeError(f"unknown command {command!r}")


def evolve(state: Link | None, event: IntegrationEvent) -> Link:
    if isinstance(event, LinkIssued):
        return Link(
            link_id=event.link_id, tenant_id=event.tenant_id, action=event.action, resource_id=event.resource_id,
            recipient=Recipient(event.recipient_name, event.recipient_email, event.recipient_phone,
                                event.recipient_language),
            issued_at=event.issued_at, expires_at=event.expires_at, max_uses=event.max_uses,
            verification=event.verification, delivery=event.delivery,
            delivery_status="none" if event.delivery == "none" else "pending",
        )
    if state is None:
        raise ValueError(f"{type(event).__name__} before LinkIssued")
    match event:
        case LinkRevoked(revoked_at=at):
            return replace(state, revoked_at=at)
        case LinkOpened(opened_at=at):
            return replace(state, opens=state.opens + 1, last_opened_at=at)
        case LinkUsed(used_at=at, uses=uses):
            return replace(state, uses=uses, last_used_at=at)
        case LinkDelivered():
            return replace(state, delivery_status="delivered")
        case LinkDeliveryFailed():
            return replace(state, delivery_status="failed")
        case LinkVerificationLocked(locked_at=at, locked_until=until):
            # An event from before pauses were recorded: its lock lasted one first pause.
            until = until if until is not None else at + CodeLockPolicy.first
            return replace(state, verification_locked_at=at, verification_locked_until=until,
                           verification_locks=state.verification_locks + 1)
        case LinkVerificationReset():
            return replace(state, verification_locked_at=None, verification_locked_until=None,
                           verification_locks=0)
        case LinkExpired():
            return replace(state, expiry_recorded=True)
    raise TypeError(f"unknown event {type(event).__name__}")


LINK: Decider[Link, Command] = Decider(decide, evolve)


def replay(events: Iterable[IntegrationEvent], state: Link | None = None) -> Link | None:
    return LINK.replay(events, state)


# ---- recipient verification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationState:
    """The link's current one-time code (its expiry; the hash stays with the handler), wrong tries so far, and
    when codes were sent within the last day."""

    failed_attempts: int = 0
    code_issued_at: datetime | None = None
    code_expires_at: datetime | None = None
    recent_sends: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class CodeSendingCaps:
    """How many codes one link may send per hour and per day, beyond the pause between two: each one costs the firm
    an SMS or pings the recipient, and whoever holds the link could otherwise flood them."""

    per_hour: int = 5
    per_day: int = 10

    # The windows the caps count in, longest last: a send older than the last is forgotten.
    def windows(self) -> tuple[tuple[timedelta, int], ...]:
        return (timedelta(hours=1), self.per_hour), (timedelta(days=1), self.per_day)


def code_channel(link: Link) -> Literal["email", "sms"] | None:
    """Where the link's one-time codes go: its verification's channel; for a link that opens without one, the
    recipient's e-mail (else phone) -- a code asked later to prove a new browser (a request's answers on a second
    device). None: the link has nowhere to send a code."""
    if link.verification != "none":
        return link.verification
    return "email" if link.recipient.email else "sms" if link.recipient.phone else None


def _require_verifiable(link: Link, now: datetime) -> None:
    if code_channel(link) is None:
        raise VerificationNotRequired("this link has nowhere to send a verification code")
    link.require_active(now)
    link.require_unlocked(now)


def check_code_request(link: Link, verification: VerificationState, now: datetime,
                       caps: CodeSendingCaps = CodeSendingCaps()) -> datetime:
    """Whether a new code may be sent now; return the new code's expiry. Too soon after the last one, or with the
    link's codes for the hour or the day used up: ``VerificationCodeTooSoon`` with the seconds to wait."""
    _require_verifiable(link, now)
    if verification.code_issued_at is not None and now < verification.code_issued_at + CODE_RESEND_INTERVAL:
        raise VerificationCodeTooSoon("wait before asking for another code",
                                      retry_after=_seconds(verification.code_issued_at + CODE_RESEND_INTERVAL - now))
    for window, cap in caps.windows():
        sent = sorted(at for at in verification.recent_sends if at > now - window)
        if len(sent) >= cap:  # one more may go once enough of these left the window
            raise VerificationCodeTooSoon("this link sent as many codes as it may for now",
                                          retry_after=_seconds(sent[len(sent) - cap] + window - now))
    return now + CODE_LIFETIME


def _seconds(wait: timedelta) -> int:
    return max(1, math.ceil(wait.total_seconds()))


@dataclass(frozen=True)
class CodeJudgement:
    verified: bool
    failed_attempts: int  # wrong codes since the last right one or the last lock (what the handler keeps)
    locks: bool = False  # this wrong code was the last one allowed: the handler runs ``LockVerification``

    @property
    def attempts_left(self) -> int:
        return MAX_CODE_ATTEMPTS - self.failed_attempts


def judge_code(link: Link, verification: VerificationState, *, code_matches: bool, now: datetime) -> CodeJudgement:
    """A presented code: right and unexpired verifies (and resets the tries); anything else counts as wrong,
    and the ``MAX_CODE_ATTEMPTS``-th wrong one locks the link for a while. The count then starts again, so after
    the pause the recipient has ``MAX_CODE_ATTEMPTS`` tries before the next, longer one."""
    _require_verifiable(link, now)
    fresh = verification.code_expires_at is not None and now < verification.code_expires_at
    if code_matches and fresh:
        return CodeJudgement(verified=True, failed_attempts=0)
    failed = verification.failed_attempts + 1
    if failed >= MAX_CODE_ATTEMPTS:
        return CodeJudgement(verified=False, failed_attempts=0, locks=True)
    return CodeJudgement(verified=False, failed_attempts=failed)


# ---- issuing: checking a request --------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientRequest:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: Language | None = None  # None: the firm did not say
    delivery: DeliveryChannel = "none"


@dataclass(frozen=True)
class IssueRequest:
    action: GuestAction
    resource_id: str
    recipients: tuple[RecipientRequest, ...]
    expires_at: datetime | None = None
    expires_in_seconds: int | None = None
    max_uses: int | None = None
    verification: Verification = "none"


@dataclass(frozen=True)
class ExpiryPolicy:
    """Default lifetime per action and the longest lifetime allowed."""

    defaults: Mapping[str, timedelta]
    maximum: timedelta

    def __post_init__(self) -> None:
        if set(self.defaults) != set(ACTIONS):
            raise ValueError(f"a default lifetime for each of {', '.join(ACTIONS)} is required")


@dataclass(frozen=True)
class CheckedIssue:
    expires_at: datetime
    recipients: tuple[tuple[Recipient, DeliveryChannel], ...]


def normalize_phone(phone: str) -> str | None:
    """E.164 (``+34600000000``) from what people type (``+34 600-000 000``), or ``None`` if it is not a number."""
    compact = _PHONE_PUNCTUATION.sub("", phone)
    return compact if _E164.match(compact) else None


def is_email(value: str) -> bool:
    return len(value) <= 254 and _EMAIL.match(value) is not None


NO_SMS = "this deployment sends no SMS (LINKS_SMS_PROVIDER=none)"


def check_issue(request: IssueRequest, policy: ExpiryPolicy, now: datetime, *,
                sends_sms: bool = True) -> CheckedIssue:
    """Every rule of an issue request; raise ``InvalidFields`` naming all that are broken. ``sends_sms``: whether
    the deployment has an SMS provider (without one a link delivered or verified by SMS could only fail)."""
    errors: list[dict[str, str]] = []

    def error(field_name: str, message: str) -> None:
        errors.append({"field": field_name, "message": message})

    if request.action not in ACTIONS:
        error("action", f"one of {', '.join(ACTIONS)}")
    if not _RESOURCE_ID.match(request.resource_id):
        error("resource_id", "1 to 128 letters, digits and . _ : - (starting with a letter or digit)")
    if not 1 <= len(request.recipients) <= MAX_RECIPIENTS:
        error("recipients", f"between 1 and {MAX_RECIPIENTS} recipients")
    if request.max_uses is not None and not 1 <= request.max_uses <= MAX_USES_LIMIT:
        error("max_uses", f"between 1 and {MAX_USES_LIMIT}, or absent for no limit")
    expires_at = _expiry(request, policy, now, error)

    recipients = []
    for index, wanted in enumerate(request.recipients):
        where = f"recipients[{index}]"
        email = wanted.email.strip() if wanted.email else None
        phone = normalize_phone(wanted.phone) if wanted.phone else None
        name = wanted.name.strip() if wanted.name else None
        if wanted.phone and phone is None:
            error(f"{where}.phone", "an international number such as +34 600 000 000")
        if email and not is_email(email):
            error(f"{where}.email", "not an e-mail address")
        if not email and not wanted.phone:
            error(where, "an e-mail address or a phone number is required")
        if name is not None and (len(name) > 200 or _CONTROL_CHARACTERS.search(name)):
            error(f"{where}.name", "up to 200 characters, without control characters")
        if wanted.delivery == "email" and not email:
            error(f"{where}.delivery", "delivery by e-mail needs the recipient's e-mail address")
        if wanted.delivery == "sms" and not wanted.phone:
            error(f"{where}.delivery", "delivery by SMS needs the recipient's phone number")
        if wanted.delivery == "sms" and not sends_sms:
            error(f"{where}.delivery", f"{NO_SMS}: deliver by e-mail, or as none and hand the link over")
        if request.verification == "email" and not email:
            error(f"{where}.email", "verification by e-mail needs the recipient's e-mail address")
        if request.verification == "sms" and not wanted.phone:
            error(f"{where}.phone", "verification by SMS needs the recipient's phone number")
        recipients.append((Recipient(name or None, email, phone, wanted.language), wanted.delivery))

    if request.verification == "sms" and not sends_sms:
        error("verification", f"{NO_SMS}: verify by e-mail")
    if errors:
        raise InvalidFields(errors)
    assert expires_at is not None
    return CheckedIssue(expires_at=expires_at, recipients=tuple(recipients))


def _expiry(request: IssueRequest, policy: ExpiryPolicy, now: datetime,
            error: Callable[[str, str], None]) -> datetime | None:
    if request.expires_at is not None and request.expires_in_seconds is not None:
        error("expires_at", "give expires_at or expires_in_seconds, not both")
        return None
    if request.expires_at is not None:
        if request.expires_at.tzinfo is None:
            error("expires_at", "needs a time zone, e.g. 2030-01-31T18:00:00Z")
            return None
        expires_at = request.expires_at
    elif request.expires_in_seconds is not None:
        if request.expires_in_seconds <= 0:
            error("expires_in_seconds", "must be positive")
            return None
        expires_at = now + timedelta(seconds=request.expires_in_seconds)
    elif request.action in ACTIONS:
        expires_at = now + policy.defaults[request.action]
    else:
        return None  # the unknown action is reported already
    if expires_at <= now:
        error("expires_at", "is in the past")
        return None
    if expires_at - now > policy.maximum:
        error("expires_at", f"at most {policy.maximum.days} days from now")
        return None
    return expires_at
