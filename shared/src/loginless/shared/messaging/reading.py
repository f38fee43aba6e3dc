"""What a consumer does with a record, decided before any I/O: handle it, read it through an upcaster, skip it,
or retry its handler a little longer.

A rolling upgrade puts events on a topic that some consumers do not know yet: a new type, or a new version of a
type they know. Retrying those can never succeed and would hold their partition (and every revocation queued behind
it), so they are skipped, counted and logged, and the offset moves on. Only a failure of the handler itself is
retried, with a short back-off inside a small time budget (about a second), and then the record goes to the
dead-letter topic: a poison record never holds a partition for long.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from pydantic import ValidationError

from loginless.events import CloudEvent, UnknownEventType, event_class, registered_events
from loginless.shared.eventstore.store import Upcasters

_TYPE = re.compile(r"^loginless\.(?P<service>[a-z][a-z0-9_]*)\.(?P<name>[A-Za-z0-9]+)\.v(?P<version>[0-9]+)$")


class PoisonMessage(Exception):
    """The message can never be processed (not a CloudEvent, or not valid for its type)."""


class SkipReason(StrEnum):
    UNHANDLED = "unhandled"  # a type this consumer has no use for (or no loginless type at all)
    UNKNOWN_VERSION = "unknown_version"  # another version of a type it handles, with no upcaster to one it reads


@dataclass(frozen=True)
class Handle:
    """Give ``event`` to the handler; ``upcast_from`` names the type it arrived as when an upcaster read it."""

    event: CloudEvent
    upcast_from: str | None = None


@dataclass(frozen=True)
class Skip:
    reason: SkipReason


class EventReader:
    """Which event types a consumer's handler reads, and how other versions reach them.

    ``handles`` lists CloudEvents types (``loginless.links.LinkRevoked.v1``); None means every type in the event
    catalog, for handlers that read any event through ``event_class``. ``upcasters`` carry a version this consumer
    does not read, one registered step at a time, to one it does.
    """

    def __init__(self, handles: Collection[str] | None = None, upcasters: Upcasters | None = None) -> None:
        self.handles = frozenset(handles) if handles is not None else None
        self.upcasters = upcasters or Upcasters()

    def read(self, event: CloudEvent) -> Handle | Skip:
        """Raises :class:`PoisonMessage` when the event has a type this consumer reads but its data does not fit."""
        type_name, data = event.type, event.data
        while True:
            if self._reads(type_name):
                _validate(type_name, data)
                if type_name == event.type:
                    return Handle(event)
                return Handle(event.model_copy(update={"type": type_name, "data": data}), upcast_from=event.type)
            if _TYPE.match(type_name) is None:
                return Skip(SkipReason.UNHANDLED)
            try:
                stepped = self.upcasters.step(type_name, data)
            except Exception as error:  # the upcaster cannot read this payload: it never will
                raise PoisonMessage(f"cannot upcast {type_name}: {error!r}") from error
            if stepped is None:
                break
            type_name, data = stepped
        return Skip(SkipReason.UNKNOWN_VERSION if self._reads_another_version_of(event.type)
                    else SkipReason.UNHANDLED)

    def _reads(self, type_name: str) -> bool:
        if self.handles is not None:
            return type_name in self.handles
        try:
            event_class(type_name)
        except UnknownEventType:
            return False
        return True

    def _reads_another_version_of(self, type_name: str) -> bool:
        received = _TYPE.match(type_name)
        if received is None:
            return False
        read = self.handles if self.handles is not None else registered_events()
        for known in read:
            match = _TYPE.match(known)
            if match and (match["service"], match["name"]) == (received["service"], received["name"]):
                return True
        return False


def _validate(type_name: str, data: dict) -> None:
    try:
        payload_class = event_class(type_name)
    except UnknownEventType:
        return  # a type the handler reads without a model in the catalog: the handler validates it
    try:
        payload_class.model_validate(data)
    except ValidationError as error:
        raise PoisonMessage(f"not a valid {type_name}: {error}") from error


@dataclass(frozen=True)
class RetryPolicy:
    """How long a failing handler is retried before its record goes to the dead letters.

    Attempts back off from ``first_delay_seconds``, doubling, and stop at ``max_attempts`` or when
    ``budget_seconds`` have passed since the first attempt began, whichever comes first.
    """

    max_attempts: int = 5
    first_delay_seconds: float = 0.05
    budget_seconds: float = 1.0

    def delay_after(self, attempt: int, elapsed_seconds: float) -> float | None:
        """The pause before the next attempt, once attempt number ``attempt`` (1-based) failed ``elapsed_seconds``
        after the first began; None: give up."""
        remaining = self.budget_seconds - elapsed_seconds
        if attempt >= self.max_attempts or remaining <= 0:
            return None
        return min(self.first_delay_seconds * 2 ** (attempt - 1), remaining)
