"""Metric samples and bounded per-metric windows, with the pane state derived from them.

Pure Python. The trigger engine (consecutive / window / baseline) builds on these windows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Sample:
    """One reading of one metric; `value` is None when the source could not read it."""

    metric: str
    value: float | None
    at: datetime
    source: str
    error: str = ""


class PaneState(StrEnum):
    """What a metric pane shows, by colour class and by word."""

    OK = "ok"
    WARNING = "warning"
    BREACH = "breach"
    STALE = "stale"
    NO_DATA = "no data"


_COMPARE = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def compare(value: float, comparison: str, threshold: float) -> bool:
    """Whether `value comparison threshold` holds (comparison is one of > >= < <= == !=)."""
    return bool(_COMPARE[comparison](value, threshold))


@dataclass
class MetricWindow:
    """The most recent samples of one metric, bounded so memory stays flat during long incidents."""

    metric: str
    size: int = 120
    samples: deque[Sample] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.samples = deque(self.samples, maxlen=self.size)

    def add(self, sample: Sample) -> None:
        """Append a sample (oldest drops out when full)."""
        self.samples.append(sample)

    def extend(self, samples: Iterable[Sample]) -> None:
        """Append several samples."""
        for sample in samples:
            self.add(sample)

    @property
    def latest(self) -> Sample | None:
        """The newest sample, if any."""
        return self.samples[-1] if self.samples else None

    def values(self) -> list[float]:
        """The numeric values, missing readings left out (for sparklines)."""
        return [s.value for s in self.samples if s.value is not None]

    def state(self, now: datetime, interval_seconds: float) -> PaneState:
        """STALE, NO DATA or OK from the samples alone; the board adds what the triggers say.

        A window whose newest sample is older than two intervals is STALE: a source that
        stopped answering must never look healthy. A newest sample without a value is NO_DATA.
        """
        latest = self.latest
        if latest is None:
            return PaneState.NO_DATA
        if (now - latest.at).total_seconds() > 2 * interval_seconds:
            return PaneState.STALE
        if latest.value is None:
            return PaneState.NO_DATA
        return PaneState.OK
