"""Clocks that tests move by hand, so expiry, caches and rate limits are tested without waiting."""

from datetime import UTC, datetime, timedelta


class ManualClock:
    """For code that takes ``clock: Callable[[], float]`` (``time.monotonic``'s shape): seconds that pass only when
    the test says; set ``now`` or call :meth:`advance`."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ManualWallClock:
    """For code that takes ``clock: Callable[[], datetime]``: starts at the real time (aware, UTC), then moves only
    by :meth:`advance` (``timedelta``'s keywords)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class ShiftedClock:
    """For a service under test that runs on real time (its worker polls, its leases run out), moved ahead by
    what a test sets in ``shift`` (and sets back after): expiry tested without waiting."""

    def __init__(self) -> None:
        self.shift = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.shift
