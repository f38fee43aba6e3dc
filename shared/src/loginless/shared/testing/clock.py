"""A clock that tests move by hand, for code that takes ``clock: Callable[[], float]`` (``time.monotonic``'s shape)."""


class ManualClock:
    """Seconds that pass only when the test says: set ``now`` or call :meth:`advance`."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
