"""Metric samples and bounded per-metric windows, with the pane state derived from them.

Pure Python. The trigger engine (consecutive / window / baseline) builds on these windows.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Sample:
    """One reading of one metric; `value` is None when the source could not read it.

    A value that is not a finite number (NaN, ±Inf, or not a number at all, whichever source
    or bug produced it) is no data, with the reason in `error`: it must never look healthy,
    clear a trigger, or reach a formatter that cannot print it.
    """

    metric: str
    value: float | None
    at: datetime
    source: str
    error: str = ""

    def __post_init__(self) -> None:
        value = self.value
        if value is None or (type(value) is float and math.isfinite(value)):
            return
        number, why = finite(value)
        object.__setattr__(self, "value", number)
        if why:
            object.__setattr__(self, "error", self.error or f"{self.metric}: {why}")


def finite(value: object) -> tuple[float | None, str]:
    """`value` as a finite float, or (None, why it is not one)."""
    if isinstance(value, bool):
        return float(value), ""
    if not isinstance(value, int | float):
        return None, f"not a number: {str(value)[:40]!r}"
    try:
        number = float(value)
    except OverflowError:
        return None, "a number too large to compare"
    if math.isnan(number):
        return None, "NaN is not a reading"
    if math.isinf(number):
        return None, f"{'+' if number > 0 else '-'}Inf is not a reading"
    return number, ""


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
