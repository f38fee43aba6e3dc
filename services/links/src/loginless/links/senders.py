"""How SMS leave links (e-mail leaves every service through the kernel's ``loginless.shared.mail``).

SMS goes through ``SmsSender``, chosen by ``LINKS_SMS_PROVIDER``:

- ``twilio``: Twilio's Programmable Messaging, through its documented REST API (one form-encoded POST per message)
  on httpx, which links already uses. Twilio's Python SDK would add about 25 MB and 340 modules to the worker,
  needs aiohttp for its asynchronous client, and has no setting for its base URL, which the tests point at a
  local fake server; one POST is little code to own.
- ``none``: no provider; every SMS is given up at once, so a link is reported failed, never delivered.
- ``outbox-file``: development only (production refuses it at start-up): each message appended to a JSON-lines
  file that people and tests can read. Never to the log, because the message holds the link's token.

A sender says what retrying can fix: ``PermanentDeliveryError`` (``SmsRefused``) for a message the provider will
never take (a bad number), anything else (``SmsProviderUnavailable``: timeouts, refused connections, 429, 5xx) is
retried by the delivery loop with its backoff. No error carries the message's body or the provider's text about it.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx

from loginless.links.messages import SmsMessage
from loginless.shared.mail import PermanentDeliveryError

TWILIO_API_VERSION = "2010-04-01"


class SmsSender(Protocol):
    async def send(self, message: SmsMessage) -> str | None:
        """Hand ``message`` to the provider; return the provider's id for it (None when it gives none)."""
        ...


class SmsRefused(PermanentDeliveryError):
    """The provider refused this message for good (e.g. Twilio's 21211, an invalid 'To' number)."""

    def __init__(self, description: str, *, http_status: int, provider_code: int | None) -> None:
        super().__init__(description)
        self.http_status = http_status
        self.provider_code = provider_code


class SmsProviderUnavailable(Exception):  # noqa: N818 -- named for what it is, like the kernel's DependencyUnavailable
    """The provider could not take the message now (no answer, too many requests, its own failure): retry later."""

    def __init__(self, description: str, *, http_status: int | None = None, provider_code: int | None = None) -> None:
        super().__init__(description)
        self.http_status = http_status
        self.provider_code = provider_code


class TwilioSmsSender:
    """``POST {api_url}/2010-04-01/Accounts/{account_sid}/Messages.json`` with ``To``, ``Body`` and ``From`` or
    ``MessagingServiceSid``, HTTP Basic auth as the account (SID and auth token) or an API key (SID and secret).

    Twilio answers 201 with the message's ``sid``; an error is JSON ``{code, message, more_info, status}``. A 4xx is
    about the message and final, except 401 (our credentials: retried, so messages still go out once an operator
    fixes them), 408 and 429. Those, 5xx, redirects, timeouts and connection errors are retried.
    """

    def __init__(self, *, account_sid: str, username: str, password: str, sender: str = "",
                 messaging_service_sid: str = "", api_url: str = "https://api.twilio.com", timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not (sender or messaging_service_sid):
            raise ValueError("Twilio needs a sender number or id, or a messaging service")
        self._path = f"/{TWILIO_API_VERSION}/Accounts/{account_sid}/Messages.json"
        self._sender = {"MessagingServiceSid": messaging_service_sid} if messaging_service_sid else {"From": sender}
        if messaging_service_sid and sender:
            self._sender["From"] = sender  # a sender of that service, chosen instead of the service's pick
        self._timeout = timeout
        self._http = httpx.AsyncClient(base_url=api_url.rstrip("/"), auth=httpx.BasicAuth(username, password),
                                       timeout=timeout, follow_redirects=False, transport=transport,
                                       headers={"Accept": "application/json"})

    def form(self, message: SmsMessage) -> dict[str, str]:
        """The request's fields: the recipient in E.164 (links keeps phone numbers so), the sender, the text."""
        return {"To": message.to, **self._sender, "Body": message.body}

    async def send(self, message: SmsMessage) -> str | None:
        try:
            response = await self._http.post(self._path, data=self.form(message))
        except httpx.TimeoutException:
            raise SmsProviderUnavailable(f"Twilio did not answer within {self._timeout:g} s") from None
        except httpx.TransportError as error:  # the exception's text, not its chain: nothing of the request leaks
            raise SmsProviderUnavailable(f"cannot reach Twilio ({type(error).__name__})") from None
        if response.is_success:
            sid = _json(response).get("sid")
            return sid if isinstance(sid, str) else None
        raise _failure(response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _json(response: httpx.Response) -> dict:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _failure(response: httpx.Response) -> Exception:
    """The error for a Twilio answer other than success: its code and status, never its text (which may quote the
    recipient's number)."""
    status = response.status_code
    code = _json(response).get("code")
    code = code if isinstance(code, int) else None
    described = f"error {code} (HTTP {status})" if code is not None else f"HTTP {status}"
    if 400 <= status < 500 and status not in (401, 408, 429):
        return SmsRefused(f"Twilio refused the message: {described}", http_status=status, provider_code=code)
    # 401, 408, 429, 5xx, and a redirect (an API URL that is not Twilio's): not about this message.
    return SmsProviderUnavailable(f"Twilio could not take the message now: {described}", http_status=status,
                                  provider_code=code)


class NoSmsSender:
    """``LINKS_SMS_PROVIDER=none``: there is no way to send an SMS here, so each one is given up at once."""

    async def send(self, message: SmsMessage) -> str | None:
        raise PermanentDeliveryError("no SMS provider is configured (LINKS_SMS_PROVIDER=none)")


class OutboxFileSmsSender:
    """Development SMS: one JSON line ``{to, body, link_id, sent_at}`` per message, in a file only we can read."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = asyncio.Lock()

    async def send(self, message: SmsMessage) -> str | None:
        line = json.dumps({"to": message.to, "body": message.body, "link_id": message.link_id,
                           "sent_at": datetime.now(UTC).isoformat()}, ensure_ascii=False) + "\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)
        return None

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as outbox:
            outbox.write(line)
