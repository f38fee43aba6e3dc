"""What the gateway's request handlers share for the life of an API process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from litestar.connection import ASGIConnection

from loginless.gateway.guest_cookie import GuestCookies
from loginless.gateway.proxy import GuestProxy
from loginless.gateway.rate_limit import InvalidTokenLimiter
from loginless.gateway.read_model import LinkStateFreshness, LinkStateStore
from loginless.gateway.settings import GatewaySettings
from loginless.links.client import LinksApi


@dataclass
class GatewayRuntime:
    """The gateway API process's context (its ``ServiceContext``)."""

    settings: GatewaySettings
    links: LinksApi
    link_states: LinkStateStore
    link_state_freshness: LinkStateFreshness
    proxy: GuestProxy
    cookies: GuestCookies
    invalid_tokens: InvalidTokenLimiter
    wall_clock: Callable[[], float] = field(default=time.time)
    api_keys: None = None  # the gateway has no staff API
    guest_assertions: None = None  # ... and is not behind itself

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_clock(), UTC)


def gateway_runtime(connection: ASGIConnection) -> GatewayRuntime:
    return connection.app.state.runtime.context
