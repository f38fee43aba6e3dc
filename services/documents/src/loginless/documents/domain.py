"""The documents domain: its aggregates as deciders, and the rules they share; no I/O.

Each aggregate -- account, folder, document, share, upload request, and each guest's view or download -- has its
own stream, a state built from it by ``evolve_*``, and ``decide_*`` turning a command into events (or a domain
error). The kernel's runner loads, decides, appends and projects; a command that needs another aggregate gets it
as it is now, loaded from its own stream by the handler (``CreateFolder.account``).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from loginless.documents import filetypes
from loginless.events import IntegrationEvent
from loginless.events.payloads import documents as events
from loginless.events.payloads import payments
from loginless.shared.errors import InvalidRequest, LoginlessError, NotFound
from loginless.shared.eventstore.decider import Decider
from loginless.shared.eventstore.store import Upcasters
from loginless.shared.web.downloads import content_disposition  # noqa: F401 -- documents' own name for it

AccountKind = Literal["client", "guest"]
PortalAccess = Literal["enabled", "disabled", "invited"]

MAX_DISPLAY_NAME = 120  # characters; long enough for real names, short enough for any file system
MAX_EXTENSION = 16


# ---- errors a guest or staff caller can act on ----------------------------------------------------------


class Conflict(LoginlessError):
    status_code = 409
    problem_type = "conflict"
    title = "The request conflicts with the resource's state"


class Forbidden(LoginlessError):
    status_code = 403
    problem_type = "forbidden"
    title = "Not allowed"


class Gone(LoginlessError):
    status_code = 410
    problem_type = "gone"
    title = "No longer available"


class TooLarge(LoginlessError):
    status_code = 413
    problem_type = "too-large"
    title = "The file is too large"


class UnsupportedType(LoginlessError):
    status_code = 415
    problem_type = "unsupported-type"
    title = "This type of file is not accepted"


class EmptyFile(LoginlessError):
    status_code = 400
    problem_type = "empty-file"
    title = "The file is empty"


class LockedUntilPaid(LoginlessError):
    status_code = 403
    problem_type = "locked-until-paid"
    title = "This document unlocks once an invoice is paid"


class TooManyFiles(LoginlessError):
    status_code = 403
    problem_type = "too-many-files"
    title = "No more files can be uploaded through this link"


# ---- identifiers ---------------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    """A random, prefixed id (``doc_…``): unguessable, and its kind is visible in logs and events."""
    return f"{prefix}_{secrets.token_hex(12)}"


def object_key(tenant_id: str, document_id: str) -> str:
    """Object keys are made here, never from a file name, so no guest input reaches the storage namespace."""
    return f"tenants/{tenant_id}/documents/{document_id}"


# ---- names ---------------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")


def sanitize_display_name(raw: str | None, *, fallback: str = "file") -> str:
    """A name safe to show and to offer in ``Content-Disposition``: the last path segment only, without
    control or formatting characters (including right-to-left overrides that disguise an extension), leading
    dots or trailing dots and spaces, at most :data:`MAX_DISPLAY_NAME` characters with its extension kept."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(" " if unicodedata.category(ch) in {"Zl", "Zp"} else ch for ch in name
                   if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"})
    name = _WHITESPACE.sub(" ", name).strip().lstrip(".").rstrip(". ")
    if not name:
        return fallback
    if len(name) > MAX_DISPLAY_NAME:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= MAX_EXTENSION:
            name = stem[: MAX_DISPLAY_NAME - len(extension) - 1].rstrip(". ") + "." + extension
        else:
            name = name[:MAX_DISPLAY_NAME].rstrip(". ")
    return name


def serving_disposition(content_type: str) -> Literal["inline", "attachment"]:
    """Only PDF and raster images are ever shown inline; everything else is downloaded."""
    return "inline" if content_type in filetypes.INLINE_TYPES else "attachment"


def check_text(field_name: str, value: str, *, limit: int = 200) -> str:
    cleaned = _WHITESPACE.sub(" ", "".join(ch for ch in value if unicodedata.category(ch) not in {"Cc", "Cf"}))
    cleaned = cleaned.strip()
    if not cleaned or len(cleaned) > limit:
        raise InvalidRequest(f"{field_name} must be 1 to {limit} characters", field=field_name)
    return cleaned


_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[^@\s<>\"]{1,255}\.[^@\s<>\".]{2,63}$")


def check_email(value: str, field_name: str = "email") -> str:
    value = value.strip()
    if not _EMAIL.match(value) or len(value) > 254:
        raise InvalidRequest(f"{field_name} is not an e-mail address", field=field_name)
    return value


# ---- accounts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    account_id: str
    tenant_id: str
    name: str
    email: str | None
    kind: AccountKind
    portal_access: PortalAccess


@dataclass(frozen=True)
class CreateAccount:
    account_id: str
    tenant_id: str
    name: str
    email: str | None
    kind: AccountKind
    portal_access: bool
    now: datetime


@dataclass(frozen=True)
class InviteToPortal:
    now: datetime


def decide_account(state: Account | None, command: CreateAccount | InviteToPortal) -> list[IntegrationEvent]:
    match command:
        case CreateAccount():
            if state is not None:
                raise Conflict("this account exists already")
            if command.kind == "guest" and command.portal_access:
                raise InvalidRequest("guest accounts hold uploads from people without portal access; they have "
                                     "none", field="portal_access")
            return [events.ClientAccountCreated(
                account_id=command.account_id, tenant_id=command.tenant_id,
                account_name=check_text("name", command.name),
                email=check_email(command.email) if command.email else None, kind=command.kind,
                portal_access="enabled" if command.portal_access else "disabled", created_at=command.now)]
        case InviteToPortal(now=now):
            # Without portal access a client gets no notifications and cannot log in until invited; the
            # invitation is an event the portal (or notifications) acts on. Inviting again re-sends it.
            if state is None:
                raise NotFound("no such account")
            if state.kind == "guest":
                raise Conflict("guest accounts cannot be invited to the portal; create a client account")
            if state.portal_access == "enabled":
                raise Conflict("this client already has portal access")
            if not state.email:
                raise InvalidRequest("the account needs an e-mail address before it can be invited", field="email")
            return [events.ClientInvitedToPortal(account_id=state.account_id, tenant_id=state.tenant_id,
                                                 email=state.email, invited_at=now)]
    raise TypeError(f"unknown command {command!r}")


def evolve_account(state: Account | None, event: IntegrationEvent) -> Account:
    match event:
        case events.ClientAccountCreated():
            return Account(account_id=event.account_id, tenant_id=event.tenant_id, name=event.account_name,
                           email=event.email, kind=event.kind, portal_access=event.portal_access)
        case events.ClientInvitedToPortal() if state is not None:
            return replace(state, portal_access="invited")
    raise TypeError(f"{type(event).__name__} does not apply to an account")


ACCOUNT: Decider[Account, CreateAccount | InviteToPortal] = Decider(decide_account, evolve_account)


# ---- folders ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Folder:
    folder_id: str
    tenant_id: str
    account_id: str
    name: str


@dataclass(frozen=True)
class CreateFolder:
    folder_id: str
    account: Account | None  # as it is now; None: no such account
    name: str
    now: datetime


def decide_folder(state: Folder | None, command: CreateFolder) -> list[IntegrationEvent]:
    if state is not None:
        raise Conflict("this folder exists already")
    if command.account is None:
        raise NotFound("no such account")
    return [events.FolderCreated(
        folder_id=command.folder_id, tenant_id=command.account.tenant_id, account_id=command.account.account_id,
        folder_name=sanitize_display_name(check_text("name", command.name), fallback="folder"),
        created_at=command.now)]


def evolve_folder(state: Folder | None, event: IntegrationEvent) -> Folder:
    if isinstance(event, events.FolderCreated):
        return Folder(event.folder_id, event.tenant_id, event.account_id, event.folder_name)
    raise TypeError(f"{type(event).__name__} does not apply to a folder")


FOLDER: Decider[Folder, CreateFolder] = Decider(decide_folder, evolve_folder)


# ---- recipients and their links (of shares and upload requests alike) ---------------------------------

LinkStatus = Literal["pending", "active", "revoked", "expired"]
ResourceStatus = Literal["pending", "active", "failed", "revoked"]
Holder = TypeVar("Holder", bound="LinkHolder")


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None = None
    language: Literal["en", "es"] | None = None


def check_recipients(recipients: list[Recipient], *, limit: int = 50) -> list[Recipient]:
    if not recipients:
        raise InvalidRequest("at least one recipient is required", field="recipients")
    if len(recipients) > limit:
        raise InvalidRequest(f"at most {limit} recipients per call", field="recipients")
    cleaned, seen = [], set()
    for recipient in recipients:
        email = check_email(recipient.email, "recipients.email")
        if email.lower() in seen:
            raise InvalidRequest(f"{email} is listed twice", field="recipients")
        seen.add(email.lower())
        name = check_text("recipients.name", recipient.name) if recipient.name else None
        cleaned.append(Recipient(email=email, name=name, language=recipient.language))
    return cleaned


def resolve_expiry(now: datetime, *, expires_at: datetime | None, expires_in_seconds: int | None,
                   default: timedelta, maximum: timedelta = timedelta(days=366)) -> datetime:
    if expires_at is not None and expires_in_seconds is not None:
        raise InvalidRequest("give expires_at or expires_in_seconds, not both", field="expires_at")
    if expires_in_seconds is not None:
        expires_at = now + timedelta(seconds=expires_in_seconds)
    expires_at = expires_at or now + default
    if expires_at.tzinfo is None:
        raise InvalidRequest("expires_at needs a time zone", field="expires_at")
    if expires_at <= now:
        raise InvalidRequest("the expiry must be in the future", field="expires_at")
    if expires_at > now + maximum:
        raise InvalidRequest("the expiry may be at most a year away", field="expires_at")
    return expires_at


@dataclass(frozen=True)
class RecipientLink:
    """One recipient and, once the links service issued it, their link (never its URL: that holds the token)."""

    email: str
    name: str | None = None
    language: Literal["en", "es"] | None = None
    link_id: str | None = None
    status: LinkStatus = "pending"


class LinkHolder:
    """What shares and upload requests have in common: recipients whose links are issued after the resource is
    recorded, and a status (``pending`` until every link exists). Mixed into both state classes."""

    tenant_id: str
    recipients: tuple[RecipientLink, ...]
    status: ResourceStatus
    resource_id: str

    def recipient_link(self, link_id: str) -> RecipientLink | None:
        return next((r for r in self.recipients if r.link_id == link_id), None)

    def still_to_issue(self) -> list[tuple[int, RecipientLink]]:
        """The recipients without a link yet, with their position (part of the key that issues theirs)."""
        return [(index, r) for index, r in enumerate(self.recipients) if r.link_id is None]

    def live_links(self) -> list[str]:
        """Links that work at links now, as far as this resource knows."""
        return [r.link_id for r in self.recipients if r.link_id is not None and r.status == "active"]

    @property
    def ended(self) -> bool:
        return self.status in ("failed", "revoked")


@dataclass(frozen=True)
class RecordLinkIssued:
    email: str
    link_id: str
    now: datetime


@dataclass(frozen=True)
class FailIssuance:
    reason: str
    now: datetime


@dataclass(frozen=True)
class RevokeRecipientLink:
    """Staff revoke one recipient's link; the others keep working."""

    link_id: str
    now: datetime


@dataclass(frozen=True)
class RecordLinkEnded:
    """The links service reports one of our links revoked or expired."""

    link_id: str
    ending: Literal["revoked", "expired"]
    at: datetime


@dataclass(frozen=True)
class RevokeResource:
    now: datetime


RecipientLinkCommand = RecordLinkIssued | FailIssuance | RevokeRecipientLink | RecordLinkEnded | RevokeResource


def decide_recipient_links(state: LinkHolder | None, command: RecipientLinkCommand, *,
                           when_complete: Callable[[LinkHolder, list[RecipientLink]], IntegrationEvent],
                           when_failed: Callable[[LinkHolder, str, datetime], IntegrationEvent],
                           when_revoked: Callable[[LinkHolder, datetime], IntegrationEvent],
                           ) -> list[IntegrationEvent]:
    """The rules shared by shares and upload requests; ``when_*`` make each one's own events."""
    if state is None:
        raise NotFound("no such resource")
    ids = {"resource_id": state.resource_id, "tenant_id": state.tenant_id}
    match command:
        case RecordLinkIssued(email=email, link_id=link_id, now=now):
            recipient = next((r for r in state.recipients if r.email == email), None)
            if recipient is None:
                raise ValueError(f"{email} is not a recipient of {state.resource_id}")
            if recipient.link_id is not None:
                return []  # recorded already: the issuing step ran twice
            issued: list[IntegrationEvent] = [events.RecipientLinkIssued(
                **ids, link_id=link_id, email=email, recipient_name=recipient.name, issued_at=now)]
            rest = [r for r in state.recipients if r.link_id is None and r.email != email]
            if state.status == "pending" and not rest:
                linked = [replace(r, link_id=link_id, status="active") if r.email == email else r
                          for r in state.recipients]
                issued.append(when_complete(state, linked))
            return issued
        case FailIssuance(reason=reason, now=now):
            return [when_failed(state, reason, now)] if state.status == "pending" else []
        case RevokeResource(now=now):
            return [when_revoked(state, now)] if not state.ended else []
        case RevokeRecipientLink(link_id=link_id, now=now):
            recipient = state.recipient_link(link_id)
            if recipient is None:
                raise NotFound("no such link for this resource")
            if recipient.status in ("revoked", "expired"):
                return []
            return [events.RecipientLinkRevoked(**ids, link_id=link_id, revoked_at=now)]
        case RecordLinkEnded(link_id=link_id, ending=ending, at=at):
            recipient = state.recipient_link(link_id)
            if recipient is None or recipient.status != "active":
                return []
            if ending == "revoked":
                return [events.RecipientLinkRevoked(**ids, link_id=link_id, revoked_at=at)]
            return [events.RecipientLinkExpired(**ids, link_id=link_id, expires_at=at)]
    raise TypeError(f"unknown command {command!r}")


def evolve_recipient_links(state: Holder, event: IntegrationEvent) -> Holder:
    def with_link(link_id_or_email: str, **changes: object) -> tuple[RecipientLink, ...]:
        return tuple(replace(r, **changes) if link_id_or_email in (r.link_id, r.email) else r
                     for r in state.recipients)

    match event:
        case events.RecipientLinkIssued():
            return replace(state, recipients=with_link(event.email, link_id=event.link_id, status="active"))
        case events.RecipientLinkRevoked():
            return replace(state, recipients=with_link(event.link_id, status="revoked"))
        case events.RecipientLinkExpired():
            return replace(state, recipients=with_link(event.link_id, status="expired"))
    raise TypeError(f"{type(event).__name__} does not apply to {state.resource_id}")


def _requested(recipients: list[Recipient]) -> list[events.RequestedRecipient]:
    return [events.RequestedRecipient(email=r.email, recipient_name=r.name, language=r.language) for r in recipients]


def _recipient_links(requested: list[events.RequestedRecipient]) -> tuple[RecipientLink, ...]:
    return tuple(RecipientLink(email=r.email, name=r.recipient_name, language=r.language) for r in requested)


def _linked(recipients: list[events.ShareRecipient]) -> tuple[RecipientLink, ...]:
    """Recipients of a resource recorded before links were issued after it (its first event names them)."""
    return tuple(RecipientLink(email=r.email, link_id=r.link_id, status="active") for r in recipients)


# ---- documents ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    document_id: str
    tenant_id: str
    account_id: str
    folder_id: str | None
    display_name: str
    size: int
    sha256: str
    content_type: str
    object_key: str


# ---- shares --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Share(LinkHolder):
    share_id: str
    tenant_id: str
    document_id: str
    view_only: bool
    expires_at: datetime
    recipients: tuple[RecipientLink, ...]
    status: ResourceStatus
    failure: str | None = None
    lock: PaymentLock | None = None

    @property
    def resource_id(self) -> str:
        return self.share_id

    @property
    def locked(self) -> bool:
        return self.lock is not None and self.lock.locked


@dataclass(frozen=True)
class PrepareShare:
    share_id: str
    document: Document | None
    recipients: list[Recipient]
    view_only: bool
    expires_at: datetime
    now: datetime
    lock: LockUntilPaid | None = None  # locked from the start, until this invoice is paid


# ---- pay to unlock: a share locked until an invoice of the payments service is paid -------------------------

_INVOICE_ID = re.compile(r"^inv_[0-9a-f]{24}$")


def check_invoice_id(value: str, field_name: str = "invoice_id") -> str:
    """An id as the payments service makes them; documents cannot ask payments whether it exists (see
    docs/pay-to-unlock.md), so a typo is caught here at least."""
    if not _INVOICE_ID.match(value):
        raise InvalidRequest(f"{field_name} is not an invoice id (inv_ and 24 hexadecimal digits)", field=field_name)
    return value


@dataclass(frozen=True)
class PaymentLock:
    invoice_id: str
    locked: bool  # False once the invoice is paid; True again if a reversal reopens it


@dataclass(frozen=True)
class LockUntilPaid:
    """Staff lock a share until an invoice is paid; ``invoice_paid``: documents has already seen it paid."""

    invoice_id: str
    invoice_paid: bool
    now: datetime


@dataclass(frozen=True)
class UnlockForPaidInvoice:
    """Payments announced the invoice paid (InvoicePaid)."""

    invoice_id: str
    now: datetime


@dataclass(frozen=True)
class RelockForReopenedInvoice:
    """A payment of the invoice was reversed and left it unpaid (PaymentReversed): what it unlocked locks again."""

    invoice_id: str
    now: datetime


@dataclass(frozen=True)
class ReleaseLock:
    """Staff take the lock off by hand (the invoice was settled some other way)."""

    now: datetime


LockCommand = LockUntilPaid | UnlockForPaidInvoice | RelockForReopenedInvoice | ReleaseLock
ShareCommand = PrepareShare | RecipientLinkCommand | LockCommand


def decide_lock(share: Share, command: LockCommand) -> list[IntegrationEvent]:
    ids = dict(share_id=share.share_id, document_id=share.document_id, tenant_id=share.tenant_id)
    lock = share.lock
    match command:
        case LockUntilPaid(invoice_id=invoice_id, invoice_paid=paid, now=now):
            if share.ended:
                raise Conflict("this share has ended; share the document again")
            if lock is not None and lock.invoice_id == invoice_id:
                return []  # locked on this invoice already (a retried request)
            if lock is not None:
                raise Conflict(f"this share is locked until invoice {lock.invoice_id} is paid; unlock it first",
                               invoice_id=lock.invoice_id)
            locked = events.ShareLocked(**ids, invoice_id=invoice_id, reason="staff", locked_at=now)
            if not paid:
                return [locked]
            # Paid before the lock: recorded as it happened -- locked, and unlocked by a payment already seen.
            return [locked, events.ShareUnlocked(**ids, invoice_id=invoice_id, reason="invoice_paid",
                                                 unlocked_at=now)]
        case UnlockForPaidInvoice(invoice_id=invoice_id, now=now):
            if lock is None or lock.invoice_id != invoice_id or not lock.locked:
                return []
            return [events.ShareUnlocked(**ids, invoice_id=invoice_id, reason="invoice_paid", unlocked_at=now)]
        case RelockForReopenedInvoice(invoice_id=invoice_id, now=now):
            if lock is None or lock.invoice_id != invoice_id or lock.locked:
                return []
            return [events.ShareLocked(**ids, invoice_id=invoice_id, reason="payment_reversed", locked_at=now)]
        case ReleaseLock(now=now):
            if lock is None:
                return []
            return [events.ShareUnlocked(**ids, invoice_id=lock.invoice_id, reason="released", unlocked_at=now)]
    raise TypeError(f"unknown command {command!r}")


def check_unlocked(share: Share) -> None:
    """A locked share's document is neither shown nor handed out, whatever the URL."""
    if share.locked:
        raise LockedUntilPaid("this document unlocks once its invoice is paid", invoice_id=share.lock.invoice_id)


@dataclass(frozen=True)
class InvoiceStanding:
    """An invoice as documents has seen it on ``payments.events``: its number and whether it is paid. A replica
    of the payments service's facts, kept per tenant; ``margin_minor`` is what was received beyond what is
    payable (InvoicePaid's ``overpaid_minor``), less the reversals seen since: a reversal within it leaves the
    invoice paid, as payments judges it."""

    tenant_id: str
    invoice_id: str
    number: str | None = None
    paid: bool = False
    margin_minor: int = 0


StandingChange = Literal["paid", "reopened"] | None


def invoice_standing_after(standing: InvoiceStanding | None,
                           event: payments.InvoiceIssued | payments.InvoicePaid | payments.PaymentReversed,
                           ) -> tuple[InvoiceStanding, StandingChange]:
    """The standing after one of payments' events, and what that means for shares locked on the invoice."""
    standing = standing or InvoiceStanding(tenant_id=event.tenant_id, invoice_id=event.invoice_id)
    match event:
        case payments.InvoiceIssued(number=number):
            return replace(standing, number=number), None
        case payments.InvoicePaid(number=number, overpaid_minor=overpaid):
            # "paid" even if it was already: unlocking is idempotent, and staying locked is the worse mistake.
            return replace(standing, number=number or standing.number, paid=True,
                           margin_minor=overpaid or 0), "paid"
        case payments.PaymentReversed(amount_minor=amount):
            if not standing.paid:
                return standing, None
            if amount <= standing.margin_minor:
                return replace(standing, margin_minor=standing.margin_minor - amount), None
            return replace(standing, paid=False, margin_minor=0), "reopened"
    raise TypeError(f"{type(event).__name__} does not change an invoice's standing")


def decide_share(state: Share | None, command: ShareCommand) -> list[IntegrationEvent]:
    if isinstance(command, PrepareShare):
        if state is not None:
            raise Conflict("this share exists already")
        if command.document is None:
            raise NotFound("no such document")
        prepared = events.SharePrepared(
            share_id=command.share_id, document_id=command.document.document_id,
            tenant_id=command.document.tenant_id, recipients=_requested(command.recipients),
            view_only=command.view_only, expires_at=command.expires_at, prepared_at=command.now)
        if command.lock is None:
            return [prepared]
        return [prepared, *decide_lock(evolve_share(None, prepared), command.lock)]
    if isinstance(command, LockCommand):
        if state is None:
            raise NotFound("no such share")
        return decide_lock(state, command)
    return decide_recipient_links(
        state, command,
        when_complete=lambda share, linked: events.DocumentShared(
            share_id=share.share_id, document_id=share.document_id, tenant_id=share.tenant_id,
            recipients=[events.ShareRecipient(link_id=r.link_id, email=r.email) for r in linked],
            view_only=share.view_only, expires_at=share.expires_at, shared_at=command.now),
        when_failed=lambda share, reason, now: events.ShareFailed(
            share_id=share.share_id, document_id=share.document_id, tenant_id=share.tenant_id, reason=reason,
            failed_at=now),
        when_revoked=lambda share, now: events.ShareRevoked(
            share_id=share.share_id, document_id=share.document_id, tenant_id=share.tenant_id, revoked_at=now),
    )


def evolve_share(state: Share | None, event: IntegrationEvent) -> Share:
    match event:
        case events.SharePrepared():
            return Share(share_id=event.share_id, tenant_id=event.tenant_id, document_id=event.document_id,
                         view_only=event.view_only, expires_at=event.expires_at,
                         recipients=_recipient_links(event.recipients), status="pending")
        case events.DocumentShared() if state is None:
            return Share(share_id=event.share_id, tenant_id=event.tenant_id, document_id=event.document_id,
                         view_only=event.view_only, expires_at=event.expires_at,
                         recipients=_linked(event.recipients), status="active")
    if state is None:
        raise TypeError(f"{type(event).__name__} before the share was prepared")
    match event:
        case events.DocumentShared():
            return replace(state, status="active")
        case events.ShareFailed(reason=reason):
            return replace(state, status="failed", failure=reason)
        case events.ShareRevoked():
            return replace(state, status="revoked")
        case events.ShareLocked(invoice_id=invoice_id):
            return replace(state, lock=PaymentLock(invoice_id, locked=True))
        case events.ShareUnlocked(reason="released"):
            return replace(state, lock=None)
        case events.ShareUnlocked(invoice_id=invoice_id):
            return replace(state, lock=PaymentLock(invoice_id, locked=False))
    return evolve_recipient_links(state, event)


SHARE: Decider[Share, ShareCommand] = Decider(decide_share, evolve_share)


def check_guest_share(share: Share | None, link_id: str, now: datetime) -> Share:
    """The share a guest's link points at, if the guest may still see it (the gateway checks the link too)."""
    if share is None or (recipient := share.recipient_link(link_id)) is None:
        raise NotFound("no such document")
    if share.status == "revoked" or recipient.status == "revoked":
        raise Gone("this share was withdrawn", reason="revoked")
    if share.ended or recipient.status != "active" or share.expires_at <= now:
        raise Gone("this share has ended")
    return share


def check_download(share: Share) -> None:
    if share.view_only:
        raise Forbidden("this document was shared for viewing only")


# ---- upload requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadLimits:
    max_file_size: int
    allowed_types: tuple[str, ...]
    max_files: int


def decide_upload_limits(*, max_file_size: int | None, allowed_types: list[str] | None, max_files: int | None,
                         default_size: int, size_ceiling: int, default_max_files: int) -> UploadLimits:
    size = max_file_size or default_size
    if not 1 <= size <= size_ceiling:
        raise InvalidRequest(f"max_file_size must be between 1 and {size_ceiling} bytes", field="max_file_size")
    files = max_files or default_max_files
    if not 1 <= files <= 1000:
        raise InvalidRequest("max_files must be between 1 and 1000", field="max_files")
    types = tuple(dict.fromkeys(allowed_types)) if allowed_types else filetypes.DEFAULT_ALLOWED_TYPES
    for mime in types:
        if not re.match(r"^[a-z]+/([a-z0-9][a-z0-9.+-]*|\*)$", mime):
            raise InvalidRequest(f"{mime!r} is not a MIME type or family like image/*", field="allowed_types")
    return UploadLimits(max_file_size=size, allowed_types=types, max_files=files)


@dataclass(frozen=True)
class UploadRequest(LinkHolder):
    upload_request_id: str
    tenant_id: str
    account_id: str
    folder_id: str
    limits: UploadLimits
    deadline: datetime
    recipients: tuple[RecipientLink, ...]
    status: ResourceStatus

    @property
    def resource_id(self) -> str:
        return self.upload_request_id


@dataclass(frozen=True)
class PrepareUploadRequest:
    upload_request_id: str
    folder: Folder | None
    recipients: list[Recipient]
    limits: UploadLimits
    deadline: datetime
    now: datetime


@dataclass(frozen=True)
class RecordRefusedFile:
    """The antivirus refused a guest's file: it is deleted, and the refusal is a fact staff can see."""

    upload: CompletedUpload
    signature: str | None
    now: datetime


UploadRequestCommand = PrepareUploadRequest | RecipientLinkCommand | RecordRefusedFile


def decide_upload_request(state: UploadRequest | None, command: UploadRequestCommand) -> list[IntegrationEvent]:
    if isinstance(command, PrepareUploadRequest):
        if state is not None:
            raise Conflict("this upload request exists already")
        if command.folder is None:
            raise NotFound("no such folder")
        folder, limits = command.folder, command.limits
        return [events.UploadRequestPrepared(
            upload_request_id=command.upload_request_id, tenant_id=folder.tenant_id, account_id=folder.account_id,
            folder_id=folder.folder_id, recipients=_requested(command.recipients),
            max_file_size=limits.max_file_size, allowed_types=list(limits.allowed_types),
            max_files=limits.max_files, deadline=command.deadline, prepared_at=command.now)]
    if isinstance(command, RecordRefusedFile):
        if state is None:
            raise NotFound("no such upload request")
        upload = command.upload
        return [events.FileRefused(
            upload_request_id=state.upload_request_id, tenant_id=state.tenant_id, file_id=upload.file_id,
            link_id=upload.link_id, display_name=upload.display_name, size=upload.size, sha256=upload.sha256,
            content_type=upload.content_type, scan_engine=upload.scan_engine, signature=command.signature,
            refused_at=command.now)]
    return decide_recipient_links(
        state, command,
        when_complete=lambda request, linked: events.UploadRequestCreated(
            upload_request_id=request.upload_request_id, tenant_id=request.tenant_id,
            account_id=request.account_id, folder_id=request.folder_id,
            recipients=[events.ShareRecipient(link_id=r.link_id, email=r.email) for r in linked],
            max_file_size=request.limits.max_file_size, allowed_types=list(request.limits.allowed_types),
            max_files=request.limits.max_files, deadline=request.deadline, created_at=command.now),
        when_failed=lambda request, reason, now: events.UploadRequestFailed(
            upload_request_id=request.upload_request_id, tenant_id=request.tenant_id, reason=reason, failed_at=now),
        when_revoked=lambda request, now: events.UploadRequestRevoked(
            upload_request_id=request.upload_request_id, tenant_id=request.tenant_id, revoked_at=now),
    )


def evolve_upload_request(state: UploadRequest | None, event: IntegrationEvent) -> UploadRequest:
    match event:
        case events.UploadRequestPrepared() | events.UploadRequestCreated() if state is None:
            prepared = isinstance(event, events.UploadRequestPrepared)
            return UploadRequest(
                upload_request_id=event.upload_request_id, tenant_id=event.tenant_id, account_id=event.account_id,
                folder_id=event.folder_id, deadline=event.deadline,
                limits=UploadLimits(event.max_file_size, tuple(event.allowed_types), event.max_files),
                recipients=_recipient_links(event.recipients) if prepared else _linked(event.recipients),
                status="pending" if prepared else "active")
    if state is None:
        raise TypeError(f"{type(event).__name__} before the upload request was prepared")
    match event:
        case events.UploadRequestCreated():
            return replace(state, status="active")
        case events.UploadRequestFailed():
            return replace(state, status="failed")
        case events.UploadRequestRevoked():
            return replace(state, status="revoked")
        case events.FileRefused():
            return state  # the file never became part of the request
    return evolve_recipient_links(state, event)


UPLOAD_REQUEST: Decider[UploadRequest, UploadRequestCommand] = Decider(decide_upload_request, evolve_upload_request)


def check_open_for_uploads(request: UploadRequest | None, link_id: str, now: datetime) -> UploadRequest:
    """The upload request a guest's link points at, if it still takes files through that link."""
    if request is None or (recipient := request.recipient_link(link_id)) is None:
        raise NotFound("no such upload request")
    if request.ended or recipient.status == "revoked":
        raise Gone("this upload link was revoked", reason="revoked")
    if request.deadline <= now or recipient.status == "expired":
        raise Gone("the deadline for uploads has passed", reason="deadline")
    return request


def check_new_file(request: UploadRequest, *, length: int, files_so_far: int) -> None:
    """Whether a guest may start uploading a file of ``length`` bytes through a link that has already
    received (or is receiving) ``files_so_far`` files."""
    if length == 0:
        raise EmptyFile("the file is empty")
    if length > request.limits.max_file_size:
        raise TooLarge("the file is larger than this link accepts", max_file_size=request.limits.max_file_size)
    if files_so_far >= request.limits.max_files:
        raise TooManyFiles("this link has received all the files it accepts", max_files=request.limits.max_files)


def check_file_type(request: UploadRequest, sniffed: filetypes.FileType) -> None:
    if sniffed.executable or not filetypes.type_allowed(sniffed.mime, request.limits.allowed_types):
        raise UnsupportedType("this type of file is not accepted here", detected_type=sniffed.mime)


@dataclass(frozen=True)
class CompletedUpload:
    """A guest's file, complete in storage, its checksum computed from the bytes as stored."""

    file_id: str
    link_id: str
    display_name: str
    size: int
    sha256: str
    content_type: str
    uploader_name: str | None = None
    uploader_email: str | None = None
    scan_engine: str = ""  # what found it clean


# ---- the documents themselves: added by staff or uploaded by guests ----------------------------------------


@dataclass(frozen=True)
class AddDocument:
    """Staff stored a document (complete in object storage, hashed on the way)."""

    document_id: str
    tenant_id: str
    account: Account | None
    folder: Folder | None
    folder_id: str | None
    display_name: str
    size: int
    sha256: str
    content_type: str
    now: datetime


@dataclass(frozen=True)
class RecordUploadedFile:
    """A guest's file is complete, verified and scanned: it becomes a document of the request's folder."""

    request: UploadRequest | None
    upload: CompletedUpload
    now: datetime


DocumentCommand = AddDocument | RecordUploadedFile


def decide_document(state: Document | None, command: DocumentCommand) -> list[IntegrationEvent]:
    if state is not None:
        raise Conflict("this document exists already")
    match command:
        case AddDocument():
            if command.account is None or command.account.tenant_id != command.tenant_id:
                raise NotFound("no such account")
            if command.folder_id is not None and (
                    command.folder is None or command.folder.account_id != command.account.account_id):
                raise NotFound("no such folder in this account")
            return [events.DocumentAdded(
                document_id=command.document_id, tenant_id=command.tenant_id,
                account_id=command.account.account_id, folder_id=command.folder_id,
                display_name=command.display_name, size=command.size, sha256=command.sha256,
                content_type=command.content_type, added_at=command.now)]
        case RecordUploadedFile(upload=upload, now=now):
            request = check_open_for_uploads(command.request, upload.link_id, now)
            return [events.FileUploadedV2(
                file_id=upload.file_id, tenant_id=request.tenant_id, account_id=request.account_id,
                folder_id=request.folder_id, display_name=upload.display_name, size=upload.size,
                sha256=upload.sha256, content_type=upload.content_type,
                scan_verdict="not_scanned" if upload.scan_engine in ("", "none") else "clean",
                scan_engine=upload.scan_engine, link_id=upload.link_id,
                upload_request_id=request.upload_request_id, uploader_name=upload.uploader_name,
                uploader_email=upload.uploader_email, uploaded_at=now)]
    raise TypeError(f"unknown command {command!r}")


def evolve_document(state: Document | None, event: IntegrationEvent) -> Document:
    match event:
        case events.DocumentAdded():
            return Document(event.document_id, event.tenant_id, event.account_id, event.folder_id,
                            event.display_name, event.size, event.sha256, event.content_type,
                            object_key(event.tenant_id, event.document_id))
        case events.FileUploadedV2():
            return Document(event.file_id, event.tenant_id, event.account_id, event.folder_id,
                            event.display_name, event.size, event.sha256, event.content_type,
                            object_key(event.tenant_id, event.file_id))
    raise TypeError(f"{type(event).__name__} does not apply to a document")


DOCUMENT: Decider[Document, DocumentCommand] = Decider(decide_document, evolve_document)

# Stored events of old versions, read as the current ones (the kernel's ``Upcasters``).
UPCASTERS = Upcasters()


@UPCASTERS.register("documents", "FileUploaded", from_version=1)
def file_uploaded_v1_to_v2(data: dict) -> dict:
    """A file recorded before verdicts were: it passed whatever scanner ran then, which said nothing more."""
    return {**data, "scan_verdict": "unrecorded", "scan_engine": "unrecorded"}


def file_uploaded_v1(uploaded: events.FileUploadedV2) -> events.FileUploaded:
    """The v1 copy of a FileUploaded, published beside v2 for subscribers that have not moved yet."""
    return events.FileUploaded(**uploaded.model_dump(include=set(events.FileUploaded.model_fields)))


# ---- guests' views and downloads: one stream each, so each can be forgotten whole ---------------------------


@dataclass(frozen=True)
class Access:
    access_id: str
    tenant_id: str


@dataclass(frozen=True)
class RecordAccess:
    access_id: str
    kind: Literal["view", "download"]
    share: Share
    link_id: str
    client_ip: str | None
    user_agent: str | None
    now: datetime


def decide_access(state: Access | None, command: RecordAccess) -> list[IntegrationEvent]:
    if state is not None:
        return []  # recorded already
    share = command.share
    common = dict(access_id=command.access_id, document_id=share.document_id, share_id=share.share_id,
                  tenant_id=share.tenant_id, link_id=command.link_id, client_ip=command.client_ip,
                  user_agent=command.user_agent)
    if command.kind == "view":
        return [events.DocumentViewed(**common, viewed_at=command.now)]
    return [events.DocumentDownloaded(**common, downloaded_at=command.now)]


def evolve_access(state: Access | None, event: IntegrationEvent) -> Access:
    if isinstance(event, events.DocumentViewed | events.DocumentDownloaded):
        return Access(event.access_id, event.tenant_id)
    raise TypeError(f"{type(event).__name__} does not apply to an access record")


ACCESS: Decider[Access, RecordAccess] = Decider(decide_access, evolve_access)


def clean_uploader(name: str | None, email: str | None) -> tuple[str | None, str | None]:
    """Optional details a guest types on the upload page; bad ones are dropped rather than refusing a file."""
    cleaned_name = None
    if name:
        try:
            cleaned_name = check_text("name", name, limit=120)
        except InvalidRequest:
            cleaned_name = None
    cleaned_email = None
    if email:
        try:
            cleaned_email = check_email(email)
        except InvalidRequest:
            cleaned_email = None
    return cleaned_name, cleaned_email
