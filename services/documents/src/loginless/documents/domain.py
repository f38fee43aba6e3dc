"""The documents domain: rules and decisions, no I/O.

State is a snapshot of an aggregate as the read model holds it, with the version of its event stream; each
``decide_*`` function takes state and a command and returns the events to append (or raises a domain error).
Handlers load, decide and append in one transaction.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import quote

from loginless.documents import filetypes
from loginless.shared.errors import InvalidRequest, LoginlessError, NotFound
from loginless.shared.events.payloads import documents as events

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


def content_disposition(disposition: Literal["inline", "attachment"], name: str) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients and the exact name as RFC 8187 ``filename*``."""
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%;' else "_" for ch in name) or "file"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


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


# ---- accounts and folders ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    account_id: str
    tenant_id: str
    name: str
    email: str | None
    kind: AccountKind
    portal_access: PortalAccess
    version: int


def decide_create_account(tenant_id: str, account_id: str, *, name: str, email: str | None, kind: AccountKind,
                          portal_access: bool, now: datetime) -> events.ClientAccountCreated:
    if kind == "guest" and portal_access:
        raise InvalidRequest("guest accounts hold uploads from people without portal access; they have none",
                             field="portal_access")
    return events.ClientAccountCreated(
        account_id=account_id, tenant_id=tenant_id, account_name=check_text("name", name),
        email=check_email(email) if email else None, kind=kind,
        portal_access="enabled" if portal_access else "disabled", created_at=now,
    )


def decide_invite(account: Account, now: datetime) -> events.ClientInvitedToPortal:
    """An account without portal access gets no notifications and cannot log in until invited; the invitation
    itself is an event the portal (or notifications) acts on. Inviting again re-sends."""
    if account.kind == "guest":
        raise Conflict("guest accounts cannot be invited to the portal; create a client account")
    if account.portal_access == "enabled":
        raise Conflict("this client already has portal access")
    if not account.email:
        raise InvalidRequest("the account needs an e-mail address before it can be invited", field="email")
    return events.ClientInvitedToPortal(account_id=account.account_id, tenant_id=account.tenant_id,
                                        email=account.email, invited_at=now)


@dataclass(frozen=True)
class Folder:
    folder_id: str
    tenant_id: str
    account_id: str
    name: str


def decide_create_folder(account: Account, folder_id: str, name: str, now: datetime) -> events.FolderCreated:
    return events.FolderCreated(folder_id=folder_id, tenant_id=account.tenant_id, account_id=account.account_id,
                                folder_name=sanitize_display_name(check_text("name", name), fallback="folder"),
                                created_at=now)


# ---- documents and shares ------------------------------------------------------------------------------


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
class IssuedLink:
    """One recipient's link as the links service issued it. The URL carries the token: it is returned to the
    caller once and never stored or logged here."""

    link_id: str
    email: str
    url: str
    expires_at: datetime
    status: str = "active"
    name: str | None = None


@dataclass(frozen=True)
class Share:
    share_id: str
    tenant_id: str
    document_id: str
    view_only: bool
    expires_at: datetime
    revoked: bool
    version: int


def decide_share(document: Document, share_id: str, links: list[IssuedLink], *, view_only: bool,
                 expires_at: datetime, now: datetime) -> events.DocumentShared:
    return events.DocumentShared(
        share_id=share_id, document_id=document.document_id, tenant_id=document.tenant_id,
        recipients=[events.ShareRecipient(link_id=link.link_id, email=link.email) for link in links],
        view_only=view_only, expires_at=expires_at, shared_at=now,
    )


def decide_revoke_share(share: Share, now: datetime) -> list[events.ShareRevoked]:
    if share.revoked:
        return []  # revoking twice is harmless and changes nothing
    return [events.ShareRevoked(share_id=share.share_id, document_id=share.document_id,
                                tenant_id=share.tenant_id, revoked_at=now)]


def check_guest_share(share: Share | None, now: datetime) -> Share:
    """The share a guest's link points at, if it can still be used (the gateway checks the link itself)."""
    if share is None:
        raise NotFound("no such document")
    if share.revoked or share.expires_at <= now:
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
class UploadRequest:
    upload_request_id: str
    tenant_id: str
    account_id: str
    folder_id: str
    limits: UploadLimits
    deadline: datetime
    revoked: bool
    version: int


def decide_create_upload_request(folder: Folder, upload_request_id: str, links: list[IssuedLink], *,
                                 limits: UploadLimits, deadline: datetime, now: datetime,
                                 ) -> events.UploadRequestCreated:
    return events.UploadRequestCreated(
        upload_request_id=upload_request_id, tenant_id=folder.tenant_id, account_id=folder.account_id,
        folder_id=folder.folder_id,
        recipients=[events.ShareRecipient(link_id=link.link_id, email=link.email) for link in links],
        max_file_size=limits.max_file_size, allowed_types=list(limits.allowed_types), max_files=limits.max_files,
        deadline=deadline, created_at=now,
    )


def decide_revoke_upload_request(request: UploadRequest, now: datetime) -> list[events.UploadRequestRevoked]:
    if request.revoked:
        return []
    return [events.UploadRequestRevoked(upload_request_id=request.upload_request_id, tenant_id=request.tenant_id,
                                        revoked_at=now)]


def check_open_for_uploads(request: UploadRequest | None, now: datetime) -> UploadRequest:
    if request is None:
        raise NotFound("no such upload request")
    if request.revoked:
        raise Gone("this upload link was revoked", reason="revoked")
    if request.deadline <= now:
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
    upload_request_id: str
    link_id: str
    display_name: str
    size: int
    sha256: str
    content_type: str
    uploader_name: str | None = None
    uploader_email: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def decide_file_uploaded(request: UploadRequest, upload: CompletedUpload, now: datetime) -> events.FileUploaded:
    return events.FileUploaded(
        file_id=upload.file_id, tenant_id=request.tenant_id, account_id=request.account_id,
        folder_id=request.folder_id, display_name=upload.display_name, size=upload.size, sha256=upload.sha256,
        content_type=upload.content_type, link_id=upload.link_id, upload_request_id=request.upload_request_id,
        uploader_name=upload.uploader_name, uploader_email=upload.uploader_email, uploaded_at=now,
    )


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
