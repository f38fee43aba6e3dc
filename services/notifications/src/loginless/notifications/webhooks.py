"""Webhooks for systems outside Kafka: where they may point, how each request is signed, and how it is sent.

* **Where**: an endpoint's host must resolve only to public addresses -- never loopback, private, link-local (the
  cloud metadata service), multicast or reserved ranges -- checked when the endpoint is saved and again before
  every send (a name can be pointed elsewhere later). A deployment may allow private addresses (tests, a private
  network it trusts): ``NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE_ADDRESSES``.
* **How it is signed**: Standard Webhooks (the ``standardwebhooks`` library): ``webhook-id`` (the event's id, the
  same on every retry, so a receiver can de-duplicate), ``webhook-timestamp``, and ``webhook-signature`` with one
  ``v1,`` signature per secret in force -- two for a day after a rotation.
* **What is sent**: the CloudEvent in HTTP structured mode, ``content-type: application/cloudevents+json``, the
  same JSON as the Kafka message.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from standardwebhooks.webhooks import Webhook

from loginless.shared.errors import InvalidRequest

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes them: ``whsec_`` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


class UnsafeEndpoint(InvalidRequest):
    problem_type = "unsafe-webhook-endpoint"
    title = "The webhook URL is not allowed"


# IPv6 forms that carry an IPv4 address inside (NAT64, IPv4-compatible): never judged as IPv6 alone.
_EMBEDDING_IPV4 = [ipaddress.ip_network(net) for net in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96")]


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None or ip.teredo is not None or any(ip in net for net in _EMBEDDING_IPV4):
            return False  # tunnels and translations to addresses not worth telling apart: refused outright
    return ip.is_global and not ip.is_multicast


async def check_endpoint_url(url: str, *, allow_private: bool) -> str:
    """``url`` if a webhook may be sent to it, else ``UnsafeEndpoint`` saying why. The host is checked as the HTTP
    client will connect to it (its IDNA form), not as another library would spell it."""
    if len(url) > 2000:
        raise UnsafeEndpoint("the URL is too long")
    try:
        parsed = httpx.URL(url)
        parts = urlsplit(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except (httpx.InvalidURL, ValueError, UnicodeError) as error:
        raise UnsafeEndpoint("the URL is malformed") from error
    if parsed.scheme not in ("https", "http") or not parsed.host or parts.username or parts.password:
        raise UnsafeEndpoint("the URL must be http(s)://host[:port]/path, without credentials")
    if allow_private:
        return url
    try:
        resolved = await asyncio.get_running_loop().getaddrinfo(parsed.host, port)
    except (OSError, UnicodeError, ValueError) as error:
        raise UnsafeEndpoint(f"{parsed.host} does not resolve") from error
    addresses = {info[4][0] for info in resolved}
    if not addresses or not all(_is_public(address) for address in addresses):
        raise UnsafeEndpoint(f"{parsed.host} resolves to an internal address")
    return url


def signature_headers(event_id: str, body: bytes, secrets: list[str], *, at: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers of one request: one signature per secret in force."""
    at = at or datetime.now(UTC)  # the receiver checks it against its own clock: the real time, always
    signatures = " ".join(Webhook(secret).sign(event_id, at, body) for secret in secrets)
    return {"webhook-id": event_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signatures}


@dataclass(frozen=True)
class SendResult:
    ok: bool
    detail: str


class WebhookSender:
    """POSTs one signed CloudEvent; never raises: the result says whether the endpoint took it."""

    def __init__(self, *, timeout_seconds: float, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.timeout_seconds = timeout_seconds
        self._http = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False,
                                       headers={"user-agent": "loginless-webhooks/1"})

    async def send(self, url: str, event_id: str, body: bytes, secrets: list[str]) -> SendResult:
        try:
            await check_endpoint_url(url, allow_private=self.allow_private)
        except UnsafeEndpoint as refused:
            return SendResult(False, refused.detail or "the URL is not allowed")
        headers = {"content-type": "application/cloudevents+json", **signature_headers(event_id, body, secrets)}
        try:
            # The whole exchange, not each phase: a response dripping in must not outlive the delivery's lease.
            async with asyncio.timeout(2 * self.timeout_seconds):
                answer = await self._http.post(url, content=body, headers=headers)
        except Exception as error:  # whatever stopped it (network, a URL the client refuses, the deadline)
            return SendResult(False, f"{type(error).__name__}: {error}"[:300])
        if 200 <= answer.status_code < 300:
            return SendResult(True, str(answer.status_code))
        return SendResult(False, f"the endpoint answered {answer.status_code}")

    async def close(self) -> None:
        await self._http.aclose()
