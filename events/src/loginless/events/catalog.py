"""The catalog of integration events: versioned pydantic payloads, registered by their CloudEvents type.

An event's type string is ``loginless.<service>.<EventName>.v<N>``, never a Python import path, so a
payload class can move or be renamed without breaking stored events or subscribers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

_registry: dict[str, type[IntegrationEvent]] = {}


class UnknownEventType(LookupError):
    """A stored or received event names a type this process does not know."""


class IntegrationEvent(BaseModel):
    """Base of every published event payload (the CloudEvent's ``data``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[int]

    def __init_subclass__(cls, *, service: str | None = None, name: str | None = None,
                          version: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if service is None:  # an abstract intermediate class
            return
        cls.service, cls.name, cls.version = service, name or cls.__name__, version or 1
        if cls.type_name() in _registry:
            raise ValueError(f"event type {cls.type_name()} registered twice")
        _registry[cls.type_name()] = cls

    @classmethod
    def type_name(cls) -> str:
        return f"loginless.{cls.service}.{cls.name}.v{cls.version}"

    @classmethod
    def source(cls) -> str:
        return f"/loginless/{cls.service}"


def event_class(type_name: str) -> type[IntegrationEvent]:
    try:
        return _registry[type_name]
    except KeyError:
        raise UnknownEventType(type_name) from None


def registered_events() -> dict[str, type[IntegrationEvent]]:
    """Every registered event type (importing the payload modules registers them)."""
    from loginless.events import payloads  # noqa: F401  (registration side effect)

    return dict(sorted(_registry.items()))
