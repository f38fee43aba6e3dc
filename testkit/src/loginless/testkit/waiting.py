"""Wait for a condition with a deadline instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 30.0, interval: float = 0.05,
                     message: str = "condition") -> T:
    """Call ``check`` until it returns a truthy value or raises nothing falsy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = await check()
            if result:
                return result
        except AssertionError as error:
            last_error = error
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not reached within {timeout} s") from last_error
        await asyncio.sleep(interval)


def wait_until(condition: Callable[[], T], *, timeout: float, interval: float = 0.02) -> T | None:
    """The blocking form, for tests that drive a running stack: poll ``condition`` until it returns something
    truthy; return it, or None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)
    return result
