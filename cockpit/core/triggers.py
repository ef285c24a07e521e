"""Trigger rules evaluated sample by sample, each verdict with its explanation.

Semantics (see TriggerRule):
- consecutive: fires when the last `count` counted samples all breach;
- window: fires when at least `count` of the last `within` counted samples breach;
- baseline: a sample breaches when its percentage change against the median of recent
  non-breaching samples satisfies the comparison; then consecutive counting applies.
A missing value (no reading, or one that is not a finite number: NaN and ±Inf are no data) follows
the rule's no-data policy: `hold` leaves the counters as they are, `breach` counts it as a breach,
`ignore` counts it as a sample that does not breach. Whatever the policy, a missing value is never
healthy: it does not count towards clearing a fired trigger, and a trigger whose last value is
missing says NO DATA, never OK. A fired trigger clears only after `clear_after` healthy samples in
a row, so a flapping metric does not fire, clear, fire on every other sample.

`step()` only moves the counters (about a microsecond: a day of 1 Hz samples replays in well
under a second); a Verdict is a snapshot whose counter and explanation are worded when read.
"""

from __future__ import annotations

import bisect
import math
import operator
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from cockpit.core.metrics import compare
from cockpit.core.rules import NoDataPolicy, TriggerMode

if TYPE_CHECKING:
    from cockpit.core.procedure import TriggerRule


class TriggerStatus(StrEnum):
    """Where a trigger stands."""

    WAITING = "waiting"
    """Not enough samples yet (min_samples or baseline not reached)."""
    OK = "ok"
    PENDING = "pending"
    """Breaching, but not yet for long enough."""
    FIRING = "firing"
    NO_DATA = "no data"
    """The last sample had no value, and nothing fired: not OK, not known."""


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def _fmt(value: float) -> str:
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A trigger's state after a sample, with the numbers that explain it."""

    rule: TriggerRule
    unit: str
    status: TriggerStatus
    value: float | None
    compared: float | None
    reference: float | None
    """The baseline median the value was compared with (baseline mode)."""
    breaches: int
    seen: int
    baseline_size: int
    healthy_run: int
    changed: bool
    """True when this sample made the trigger fire or clear."""

    @property
    def rule_id(self) -> str:
        """The rule's id."""
        return self.rule.id

    @property
    def needed(self) -> int:
        """Breaches the rule needs."""
        return self.rule.count

    @property
    def firing(self) -> bool:
        """Whether the trigger is firing."""
        return self.status is TriggerStatus.FIRING

    @property
    def counter(self) -> str:
        """The counter in words: '3/5 consecutive', '2/4 in last 5', 'baseline 7/30'."""
        rule = self.rule
        if rule.mode is TriggerMode.WINDOW:
            return f"{self.breaches}/{rule.count} in last {rule.within}"
        if rule.mode is TriggerMode.BASELINE and self.baseline_size < (rule.baseline_samples or 1):
            return f"baseline {self.baseline_size}/{rule.baseline_samples}"
        if self.breaches > rule.count:
            return f"{self.breaches} in a row (≥ {rule.count})"
        return f"{self.breaches}/{rule.count} consecutive"

    @property
    def explanation(self) -> str:
        """The values, the threshold and the counter state that led to this status."""
        rule, value, compared = self.rule, self.value, self.compared
        unit = f" {self.unit}" if self.unit and self.unit != "%" else self.unit
        if value is None:
            reading = f"{rule.metric}: no data (policy: {rule.no_data.value})"
        elif rule.mode is TriggerMode.BASELINE and compared is not None:
            reference = self.reference if self.reference is not None else 0.0
            reading = (
                f"{rule.metric} {_fmt(value)}{unit} is {compared:+.0f}% vs baseline "
                f"{_fmt(reference)}{unit} (threshold {rule.comparison} {_fmt(rule.threshold)}%)"
            )
        elif rule.mode is TriggerMode.BASELINE:
            reading = (
                f"{rule.metric} {_fmt(value)}{unit}: building baseline "
                f"{self.baseline_size}/{rule.baseline_samples} samples"
            )
        else:
            crossed = compare(value, rule.comparison, rule.threshold)
            reading = (
                f"{rule.metric} {_fmt(value)}{unit} {'breaches' if crossed else 'within'} "
                f"{rule.comparison} {_fmt(rule.threshold)}{unit}"
            )
        counting = self.counter
        if self.seen < rule.min_samples:
            counting += f", {self.seen}/{rule.min_samples} samples before it may fire"
        if self.status is TriggerStatus.FIRING and self.breaches < rule.count:
            counting += (
                f", still firing until {rule.clear_after} healthy in a row "
                f"({self.healthy_run}/{rule.clear_after})"
            )
        return f"{reading}; {counting} → {self.status.value.upper()}"


class TriggerEvaluator:
    """Incremental evaluation of one rule; feed it samples in time order."""

    def __init__(self, rule: TriggerRule, unit: str = "") -> None:
        self.rule = rule
        self.unit = unit
        self.window_mode = rule.mode is TriggerMode.WINDOW
        self.baseline_mode = rule.mode is TriggerMode.BASELINE
        self.seen = 0
        self.run = 0
        self.breaches = 0
        self.healthy_run = 0
        self.firing = False
        self.value: float | None = None
        self.compared: float | None = None
        self.reference: float | None = None
        size = rule.within if self.window_mode and rule.within else rule.count
        self.recent: deque[bool] = deque(maxlen=size)
        self.baseline_size = rule.baseline_samples or 1
        self.baseline: deque[float] = deque()
        self.ordered: list[float] = []
        """The baseline kept sorted as well, so its median costs nothing per sample."""
        self.breaches_rule = _OPERATORS[rule.comparison]
        self.threshold = rule.threshold
        self.last: Verdict | None = None
        self.observed = 0
        """Samples taken, with or without a value."""

    def _remember(self, value: float) -> None:
        """Add a healthy value to the baseline, dropping the oldest when it is full."""
        if len(self.baseline) == self.baseline_size:
            oldest = self.baseline.popleft()
            del self.ordered[bisect.bisect_left(self.ordered, oldest)]
        self.baseline.append(value)
        bisect.insort(self.ordered, value)

    def _median(self) -> float:
        ordered = self.ordered
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2

    def _breach(self, value: float | None) -> bool | None:
        """Whether a value breaches; None when it does not count (held gap, baseline filling)."""
        rule = self.rule
        if value is None:
            if rule.no_data is NoDataPolicy.HOLD:
                return None
            return rule.no_data is NoDataPolicy.BREACH
        if self.baseline_mode:
            if len(self.baseline) < self.baseline_size:
                self._remember(value)
                return None
            reference = self._median()
            change = (value - reference) / reference * 100 if reference else 0.0
            self.reference, self.compared = reference, change
            breach = self.breaches_rule(change, self.threshold)
            if not breach:
                self._remember(value)  # breaching values never poison the baseline
            return breach
        self.compared = value
        return self.breaches_rule(value, self.threshold)

    def step(self, value: float | None) -> bool:
        """Take one sample's value (None: no reading); True when the trigger fired or cleared."""
        if value is not None and not math.isfinite(value):
            value = None  # NaN compares false everywhere: it would pass for healthy
        self.observed += 1
        self.value = value
        self.compared = None
        breach = self._breach(value)
        if breach is not None:
            self.seen += 1
            recent = self.recent
            if self.window_mode:
                if len(recent) == recent.maxlen and recent[0]:
                    self.breaches -= 1
                self.breaches += breach
            recent.append(breach)
            if breach:
                self.run += 1
                self.healthy_run = 0
            else:
                self.run = 0
                if value is not None:  # a gap counted by `ignore` is not a healthy reading
                    self.healthy_run += 1
            if not self.window_mode:
                self.breaches = self.run
        rule = self.rule
        if self.breaches >= rule.count and self.seen >= rule.min_samples:
            if not self.firing:
                self.firing = True
                return True
        elif self.firing and self.healthy_run >= rule.clear_after:
            self.firing = False
            return True
        return False

    def status(self) -> TriggerStatus:
        """The status after the last sample."""
        if self.firing:
            return TriggerStatus.FIRING
        rule = self.rule
        if self.baseline_mode and len(self.baseline) < self.baseline_size:
            return TriggerStatus.WAITING
        if self.breaches:
            return TriggerStatus.PENDING
        if self.value is None and self.observed:
            return TriggerStatus.NO_DATA
        if self.seen < rule.min_samples:
            return TriggerStatus.WAITING
        return TriggerStatus.OK

    def verdict(self, changed: bool = False) -> Verdict:
        """A snapshot of the current state."""
        return Verdict(
            self.rule,
            self.unit,
            self.status(),
            self.value,
            self.compared,
            self.reference if self.baseline_mode else None,
            self.breaches,
            self.seen,
            len(self.baseline),
            self.healthy_run,
            changed,
        )

    def observe(self, value: float | None) -> Verdict:
        """Take one sample's value and judge it; the verdict is kept as `last`."""
        verdict = self.verdict(self.step(value))
        self.last = verdict
        return verdict


def replay(rule: TriggerRule, values: list[float | None], unit: str = "") -> list[Verdict]:
    """Evaluate a rule over recorded values; the verdict after each one."""
    evaluator = TriggerEvaluator(rule, unit)
    return [evaluator.observe(value) for value in values]
