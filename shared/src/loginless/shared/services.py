"""The services of loginless and the guest actions each serves: the one list a new service is added to.

Everything else that enumerates services reads it: the local stack (``make run``, ``make test``), the gateway's
default routes, the default lifetime of each kind of link, ``make contracts``. Like the event payloads beside it,
it is part of the contract catalog, not of the kernel: the kernel's packages name no service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import get_args

from loginless.events.payloads.links import GuestAction


@dataclass(frozen=True)
class Service:
    name: str  # its package is ``loginless.<name>``, its folder ``services/<name>``, its settings ``<NAME>_*``
    local_port: int  # where the local stack serves its API
    guest_actions: tuple[GuestAction, ...] = ()  # the link actions whose guest pages it serves


@dataclass(frozen=True)
class GuestActionSpec:
    """How long a link for a guest action lives unless its issuer says otherwise, and whether a deployment may
    change that default."""

    default_lifetime: timedelta
    adjustable: bool = True


SERVICES: tuple[Service, ...] = (
    Service("gateway", 8000),
    Service("links", 8001),
    Service("documents", 8002, guest_actions=("view", "upload")),
    Service("signing", 8003, guest_actions=("sign",)),
    Service("payments", 8004, guest_actions=("pay",)),
    Service("requests", 8005, guest_actions=("request",)),
    Service("notifications", 8006),
)

GUEST_ACTIONS: dict[GuestAction, GuestActionSpec] = {
    "view": GuestActionSpec(timedelta(days=30)),
    "upload": GuestActionSpec(timedelta(days=14)),
    "sign": GuestActionSpec(timedelta(days=7), adjustable=False),  # the seed article: a signing link lasts 7 days
    "pay": GuestActionSpec(timedelta(days=30)),
    "request": GuestActionSpec(timedelta(days=14)),
}


def service_names() -> tuple[str, ...]:
    return tuple(service.name for service in SERVICES)


def owner_of(action: GuestAction) -> Service:
    """The service whose guest pages a link for ``action`` opens."""
    return next(service for service in SERVICES if action in service.guest_actions)


def _check() -> None:
    actions = set(get_args(GuestAction))
    served = [action for service in SERVICES for action in service.guest_actions]
    if sorted(served) != sorted(actions) or set(GUEST_ACTIONS) != actions:
        raise RuntimeError("every guest action needs exactly one serving service and one lifetime")


_check()
