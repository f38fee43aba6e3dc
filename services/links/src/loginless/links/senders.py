"""How messages leave links: e-mail over SMTP, SMS through a provider.

SMS goes through ``SmsSender``, so a real provider (Twilio, Vonage…) is one class with a ``send`` method. The
development adapter appends each message to a JSON-lines file that people and tests can read; never to the
log, because the message holds the link's token.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from loginless.links.messages import SmsMessage


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmsSender(Protocol):
    async def send(self, message: SmsMessage) -> None: ...


class PermanentDeliveryError(Exception):
    """Retrying cannot help (e.g. the mail server refused the address): give up at once."""


class SmtpEmailSender:
    """``smtp://[user:password@]host:port`` (STARTTLS when the server offers it) or ``smtps://`` (TLS)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("LINKS_SMTP_URL must look like smtp://host:port or smtps://host:port")
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
        try:
            await aiosmtplib.send(message, **self._options)
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise PermanentDeliveryError("the mail server refused the recipient") from error
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600:
                raise PermanentDeliveryError(f"the mail server refused the message ({error.code})") from error
            raise


class OutboxFileSmsSender:
    """Development SMS: one JSON line ``{to, body, link_id, sent_at}`` per message, in a file only we can read."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = asyncio.Lock()

    async def send(self, message: SmsMessage) -> None:
        line = json.dumps({"to": message.to, "body": message.body, "link_id": message.link_id,
                           "sent_at": datetime.now(UTC).isoformat()}, ensure_ascii=False) + "\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as outbox:
            outbox.write(line)
