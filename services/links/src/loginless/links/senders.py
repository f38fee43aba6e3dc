"""How SMS leave links (e-mail leaves every service through the kernel's ``loginless.shared.mail``).

SMS goes through ``SmsSender``, so a real provider (Twilio, Vonage…) is one class with a ``send`` method. The
development adapter appends each message to a JSON-lines file that people and tests can read; never to the
log, because the message holds the link's token.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from loginless.links.messages import SmsMessage


class SmsSender(Protocol):
    async def send(self, message: SmsMessage) -> None: ...


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
