"""Whether a request under ``/g/{link_id}/`` may go through to the owning service, decided in one place.

Both the fast lane (``proxy_lane.py``) and the Litestar route behind it (``http.py``) ask :func:`admit`; the lane
forwards what is admitted and hands everything else to the route, which shows the page that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote

import structlog
from litestar.types import Scope
from prometheus_client import Counter

from loginless.gateway.guest_cookie import COOKIE_NAME, DEVICE_COOKIE_NAME, LINK_ID_PATTERN, Grant, GuestPass
from loginless.gateway.read_model import LinkFacts, LinkState
from loginless.gateway.runtime import GatewayRuntime
from loginless.gateway.settings import ServiceRoute
from loginless.links.client import LinksUnavailable
from loginless.shared.eventstore import DATABASE_UNAVAILABLE

log = structlog.get_logger(__name__)

READ_MODEL_STALE = Counter(
    "loginless_gateway_link_state_stale_total",
    "Guest requests checked with links because the read model's last report of being caught up was too old")


class Refusal(StrEnum):
    NOT_FOUND = "not_found"  # not a link path the gateway serves
    ADD_SLASH = "add_slash"  # /g/{link_id} without the slash its cookie is scoped to
    NO_PASS = "no_pass"  # no valid cookie for this link
    UNAVAILABLE = "unavailable"  # the link's state cannot be read right now
    UNKNOWN_LINK = "unknown_link"
    CLOSED = "closed"  # revoked or expired (see ``reason``)
    VERIFY_FIRST = "verify_first"  # the cookie only allows entering a one-time code
    NO_ROUTE = "no_route"  # the settings route no service for the link's action


@dataclass(frozen=True)
class Admitted:
    link: LinkState
    route: ServiceRoute
    rest: str  # the raw path after /g/{link_id}, starting with "/"
    device_proven: bool = False  # the browser holds the link's device proof (guest_cookie.Grant.DEVICE)


@dataclass(frozen=True)
class Refused:
    refusal: Refusal
    link: LinkState | None = None
    reason: str | None = None  # for CLOSED: "revoked" or "expired"


_COOKIES_STATE_KEY = "gateway.cookies"


def cookie_values(scope: Scope, name: str) -> list[str]:
    """Every value of cookie ``name`` in the request (a browser may send several, for different paths)."""
    state = scope.setdefault("state", {})
    jar: dict[str, list[str]] | None = state.get(_COOKIES_STATE_KEY)
    if jar is None:  # parsed once per request: the lane asks for two cookies on every request
        jar = state[_COOKIES_STATE_KEY] = {}
        for header, value in scope["headers"]:
            if header == b"cookie":
                for pair in value.decode("latin-1").split(";"):
                    key, _, cookie = pair.strip().partition("=")
                    jar.setdefault(key, []).append(cookie)
    return jar.get(name, [])


def guest_pass(scope: Scope, gateway: GatewayRuntime, link_id: str) -> GuestPass | None:
    """The link's pass among the request's cookies."""
    now = gateway.wall_clock()
    for value in cookie_values(scope, COOKIE_NAME):
        if found := gateway.cookies.decode(value, link_id=link_id, now=now):
            return found
    return None


def device_proven(scope: Scope, gateway: GatewayRuntime, link_id: str) -> bool:
    """Whether the request's browser holds the link's device proof."""
    now = gateway.wall_clock()
    return any((found := gateway.cookies.decode(value, link_id=link_id, now=now)) is not None
               and found.grant is Grant.DEVICE for value in cookie_values(scope, DEVICE_COOKIE_NAME))


async def current_link(gateway: GatewayRuntime, link_id: str) -> LinkState | None:
    """The link's state from the read model; from links when the read model has not heard of it yet, or may have
    missed its revocation (revocation fails closed: links unreachable then means no entry)."""
    link = await gateway.link_states.get(link_id)
    if link is not None and link.revoked_at is not None:
        return link  # a revocation, once known, is final
    if link is not None and link.described:
        if await gateway.link_state_freshness.fresh():
            return link
        READ_MODEL_STALE.inc()
    view = await gateway.links.get(link_id)
    if view is None:
        return link
    await gateway.link_states.merge(LinkFacts.from_view(view))
    return await gateway.link_states.get(link_id)  # merged: a revocation learnt meanwhile is kept


async def link_if_open(gateway: GatewayRuntime, link_id: str) -> LinkState | Refused:
    """The link if a guest holding its cookie may go on, else why not."""
    try:
        link = await current_link(gateway, link_id)
    except (LinksUnavailable, *DATABASE_UNAVAILABLE):
        return Refused(Refusal.UNAVAILABLE)
    if link is None:
        return Refused(Refusal.UNKNOWN_LINK)
    if reason := link.closed_reason(gateway.now()):
        return Refused(Refusal.CLOSED, link, reason)
    return link


def _has_dot_segment(raw_rest: str) -> bool:
    """``.`` or ``..`` segments (plain or percent-encoded) would let a path climb out of ``/guest/``."""
    if "." not in raw_rest and "%" not in raw_rest:
        return False
    return any(unquote(segment) in (".", "..") for segment in raw_rest.split("/"))


async def admit(gateway: GatewayRuntime, scope: Scope, link_id: str) -> Admitted | Refused:
    """May this request for ``/g/{link_id}/...`` be forwarded, and where to."""
    prefix = f"/g/{link_id}"
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    if not LINK_ID_PATTERN.match(link_id) or not raw_path.startswith(prefix):
        return Refused(Refusal.NOT_FOUND)
    rest = raw_path[len(prefix):]
    if not rest:  # the cookie's path is /g/{link_id}/: without the slash the browser would not send it
        return Refused(Refusal.ADD_SLASH)
    if _has_dot_segment(rest):
        return Refused(Refusal.NOT_FOUND)
    found = guest_pass(scope, gateway, link_id)
    if found is None:
        return Refused(Refusal.NO_PASS)
    link = await link_if_open(gateway, link_id)
    if isinstance(link, Refused):
        return link
    if found.grant is not Grant.ACCESS:
        return Refused(Refusal.VERIFY_FIRST, link)
    route = gateway.proxy.route_of(link)
    if route is None:
        return Refused(Refusal.NO_ROUTE, link)
    return Admitted(link, route, rest, device_proven(scope, gateway, link_id))
