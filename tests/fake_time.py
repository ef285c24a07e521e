"""A monotonic clock for the simulators' asynchronous jobs: seconds pass only when told to."""

from __future__ import annotations


class FakeClock:
    """Seconds that pass only when a sleeper (or the test) says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
