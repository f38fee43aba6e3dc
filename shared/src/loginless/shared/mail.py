"""How e-mail leaves any service: one SMTP sender, and the one error that says retrying cannot help."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class RawEmailSender(Protocol):
    async def send_raw(self, message: bytes, *, sender: str, recipients: list[str]) -> None:
        """Send ``message`` byte for byte (a mail composed once and sent the same on every attempt)."""
        ...


class PermanentDeliveryError(Exception):
    """Retrying cannot help (e.g. the mail server refused the address): give up at once."""


class SmtpEmailSender:
    """``smtp://[user:password@]host:port`` (STARTTLS when the server offers it) or ``smtps://`` (TLS)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("the SMTP URL must look like smtp://host:port or smtps://host:port")
        self._options = {
            "hostname": parts.hostname,
            "port": parts.port or (465 if parts.scheme == "smtps" else 25),
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "use_tls": parts.scheme == "smtps",
            "start_tls": False if parts.scheme == "smtps" else None,
            "timeout": timeout,
        }

    async def send(self, message: EmailMessage) -> None:
        await self._send(message)

    async def send_raw(self, message: bytes, *, sender: str, recipients: list[str]) -> None:
        # As stored: the library's own flattening would fold long headers (List-Unsubscribe) into encoded words.
        await self._send(message, sender=sender, recipients=recipients)

    async def _send(self, message: EmailMessage | bytes, **envelope: object) -> None:
        try:
            await aiosmtplib.send(message, **envelope, **self._options)  # type: ignore[arg-type]
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise PermanentDeliveryError("the mail server refused the recipient") from error
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600:
                raise PermanentDeliveryError(f"the mail server refused the message ({error.code})") from error
            raise
