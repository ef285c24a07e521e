"""Trigger rules evaluated sample by sample, each verdict with its explanation.

Semantics (see TriggerRule):
- consecutive: fires when the last `count` counted samples all breach;
- window: fires when at least `count` of the last `within` counted samples breach;
- baseline: a sample breaches when its percentage change against the median of recent
  non-breaching samples satisfies the comparison; then consecutive counting applies.
A missing value follows the rule's no-data policy: `hold` leaves the counters as they are,
`breach` counts it as a breach, `ignore` counts it as a healthy sample. A fired trigger clears
only after `clear_after` healthy samples in a row, so a flapping metric does not fire, clear,
fire on every other sample.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from cockpit.core.metrics import compare
from cockpit.core.rules import NoDataPolicy, TriggerMode

if TYPE_CHECKING:
    from cockpit.core.procedure import TriggerRule


def median(values: Iterable[float]) -> float:
    """The median (the statistics module costs 35 ms of start-up for this one function)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


class TriggerStatus(StrEnum):
    """Where a trigger stands."""

    WAITING = "waiting"
    """Not enough samples yet (min_samples or baseline not reached)."""
    OK = "ok"
    PENDING = "pending"
    """Breaching, but not yet for long enough."""
    FIRING = "firing"


@dataclass(frozen=True)
class Verdict:
    """A trigger's state after a sample, with the numbers that explain it."""

    rule_id: str
    status: TriggerStatus
    value: float | None
    compared: float | None
    breaches: int
    needed: int
    counter: str
    explanation: str
    changed: bool
    """True when this sample made the trigger fire or clear."""

    @property
    def firing(self) -> bool:
        """Whether the trigger is firing."""
        return self.status is TriggerStatus.FIRING


def _fmt(value: float) -> str:
    return (
        f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2f}".rstrip("0")
    )


class TriggerEvaluator:
    """Incremental evaluation of one rule; feed it samples in time order."""

    def __init__(self, rule: TriggerRule, unit: str = "") -> None:
        self.rule = rule
        self.unit = unit
        self.seen = 0
        self.run = 0
        self.healthy_run = 0
        self.firing = False
        size = rule.within if rule.mode is TriggerMode.WINDOW and rule.within else rule.count
        self.recent: deque[bool] = deque(maxlen=size)
        self.baseline: deque[float] = deque(maxlen=rule.baseline_samples or 1)
        self.last: Verdict | None = None

    def _breach(self, value: float | None) -> tuple[bool | None, float | None]:
        """Whether a value breaches (None = no data, follow the policy) and the compared number."""
        rule = self.rule
        if value is None:
            if rule.no_data is NoDataPolicy.HOLD:
                return None, None
            return rule.no_data is NoDataPolicy.BREACH, None
        if rule.mode is TriggerMode.BASELINE:
            needed = rule.baseline_samples or 1
            if len(self.baseline) < needed:
                self.baseline.append(value)
                return None, None
            reference = median(self.baseline)
            change = (value - reference) / reference * 100 if reference else 0.0
            breach = compare(change, rule.comparison, rule.threshold)
            if not breach:
                self.baseline.append(value)  # breaching values never poison the baseline
            return breach, change
        return compare(value, rule.comparison, rule.threshold), value

    def observe(self, value: float | None) -> Verdict:
        """Take one sample's value (None when the source had no reading) and judge."""
        rule = self.rule
        breach, compared = self._breach(value)
        if breach is not None:
            self.seen += 1
            self.recent.append(breach)
            self.run = self.run + 1 if breach else 0
            self.healthy_run = 0 if breach else self.healthy_run + 1
        breaches = sum(self.recent) if rule.mode is TriggerMode.WINDOW else self.run
        met = breaches >= rule.count and self.seen >= rule.min_samples
        was_firing = self.firing
        if met:
            self.firing = True
        elif self.firing and self.healthy_run >= rule.clear_after:
            self.firing = False
        status = self._status(breaches)
        verdict = Verdict(
            rule_id=rule.id,
            status=status,
            value=value,
            compared=compared,
            breaches=breaches,
            needed=rule.count,
            counter=self._counter(breaches),
            explanation=self._explain(value, compared, breaches, status),
            changed=was_firing != self.firing,
        )
        self.last = verdict
        return verdict

    def _status(self, breaches: int) -> TriggerStatus:
        if self.firing:
            return TriggerStatus.FIRING
        rule = self.rule
        if rule.mode is TriggerMode.BASELINE and len(self.baseline) < (rule.baseline_samples or 1):
            return TriggerStatus.WAITING
        if self.seen < rule.min_samples and breaches == 0:
            return TriggerStatus.WAITING
        return TriggerStatus.PENDING if breaches else TriggerStatus.OK

    def _counter(self, breaches: int) -> str:
        rule = self.rule
        if rule.mode is TriggerMode.WINDOW:
            return f"{breaches}/{rule.count} in last {rule.within}"
        if rule.mode is TriggerMode.BASELINE and len(self.baseline) < (rule.baseline_samples or 1):
            return f"baseline {len(self.baseline)}/{rule.baseline_samples}"
        if breaches > rule.count:
            return f"{breaches} in a row (≥ {rule.count})"
        return f"{breaches}/{rule.count} consecutive"

    def _explain(
        self, value: float | None, compared: float | None, breaches: int, status: TriggerStatus
    ) -> str:
        rule = self.rule
        unit = f" {self.unit}" if self.unit and self.unit != "%" else self.unit
        if value is None:
            reading = f"{rule.metric}: no data (policy: {rule.no_data.value})"
        elif rule.mode is TriggerMode.BASELINE and compared is not None:
            reference = median(self.baseline)
            reading = (
                f"{rule.metric} {_fmt(value)}{unit} is {compared:+.0f}% vs baseline "
                f"{_fmt(reference)}{unit} (threshold {rule.comparison} {_fmt(rule.threshold)}%)"
            )
        elif rule.mode is TriggerMode.BASELINE:
            reading = (
                f"{rule.metric} {_fmt(value)}{unit}: building baseline "
                f"{len(self.baseline)}/{rule.baseline_samples} samples"
            )
        else:
            reading = (
                f"{rule.metric} {_fmt(value)}{unit} "
                f"{'breaches' if compare(value, rule.comparison, rule.threshold) else 'within'} "
                f"{rule.comparison} {_fmt(rule.threshold)}{unit}"
            )
        counting = self._counter(breaches)
        if self.seen < rule.min_samples:
            counting += f", {self.seen}/{rule.min_samples} samples before it may fire"
        if status is TriggerStatus.FIRING and breaches < rule.count:
            counting += (
                f", still firing until {rule.clear_after} healthy in a row "
                f"({self.healthy_run}/{rule.clear_after})"
            )
        return f"{reading}; {counting} → {status.value.upper()}"


def replay(rule: TriggerRule, values: list[float | None], unit: str = "") -> list[Verdict]:
    """Evaluate a rule over recorded values; the verdict after each one."""
    evaluator = TriggerEvaluator(rule, unit)
    return [evaluator.observe(value) for value in values]
