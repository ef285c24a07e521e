"""The vocabulary of trigger rules, free of pydantic so the first paint does not pay for it."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

Comparison = Literal[">", ">=", "<", "<=", "==", "!="]


class TriggerMode(StrEnum):
    """How breaching samples add up to a firing trigger."""

    CONSECUTIVE = "consecutive"
    WINDOW = "window"
    BASELINE = "baseline"


class NoDataPolicy(StrEnum):
    """What a missing sample counts as."""

    HOLD = "hold"
    BREACH = "breach"
    IGNORE = "ignore"
