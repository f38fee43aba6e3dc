"""Deciders: the pure rules of an aggregate, as every service's ``domain.py`` writes them.

A decider is ``decide(state, command) -> events`` and ``evolve(state, event) -> state``, with no I/O: the runner
(``runner.py``) loads, decides, appends and projects around it, the same way for every aggregate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from loginless.events import IntegrationEvent

State = TypeVar("State")
Command = TypeVar("Command")


@dataclass(frozen=True)
class Decider(Generic[State, Command]):
    """An aggregate's rules. ``decide`` raises a domain error to refuse a command and returns no events when the
    command changes nothing; ``evolve`` never refuses (the events happened). States carry a ``tenant_id``."""

    decide: Callable[[State | None, Command], Sequence[IntegrationEvent]]
    evolve: Callable[[State | None, IntegrationEvent], State]

    def replay(self, events: Iterable[IntegrationEvent], state: State | None = None) -> State | None:
        for event in events:
            state = self.evolve(state, event)
        return state
