"""How bad a drill of any procedure gets: its own metrics, healthy before the bad deploy and
breaching its own rollback triggers after it (`cockpit demo --procedure NAME|FILE`).

The demo service knows a few metrics by their real shape (error_rate from request counters,
p95_latency_ms from a latency histogram, health_check_failed from /health probes, ...): the
levels here set how far those go, so a procedure that rolls back above 10 % errors sees more
than 10 %. Every other metric the procedure names (memory_pct, db_pool_exhausted, a file's own)
is served as a plain gauge that follows the scenario: healthy, breaching, healthy again once
the rollback takes. Pure: the procedure in, numbers out (which metrics have a real shape is
cockpit.demo.sources' SHAPED, derived from its queries).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cockpit.core.rules import Comparison, TriggerMode
from cockpit.demo.sources import SHAPED

if TYPE_CHECKING:
    from cockpit.core.procedure import Procedure, TriggerRule

BASELINE = 100.0
"""A metric judged against its own baseline starts here."""

_COMPARE: dict[Comparison, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Level:
    """One metric in the drill: its healthy value, its value at the worst of the bad deploy,
    and whether it is a yes/no signal (bad from half-way into the ramp)."""

    healthy: float
    bad: float
    step: bool = False

    def at(self, badness: float) -> float:
        """The value when the deploy is `badness` bad (0 healthy .. 1 the worst)."""
        if self.step:
            return self.bad if badness >= 0.5 else self.healthy
        return self.healthy + badness * (self.bad - self.healthy)


def _candidates(rule: TriggerRule, percent: bool) -> tuple[list[float], list[float]]:
    """(values that stay clear of `rule`, values that breach it), most natural first; a
    percentage never goes past 100."""
    t = rule.threshold
    if rule.mode is TriggerMode.BASELINE:
        # The rule compares the percentage change against the baseline's median.
        return [BASELINE], [BASELINE * max(0.1, 1.0 + 2.0 * t / 100.0)]
    if rule.comparison == "==":
        return [0.0 if t != 0 else 1.0], [t]
    if rule.comparison == "!=":
        return [t], [t + 1.0]
    margin = max(1.0, abs(t) * 0.5)
    if percent and rule.comparison in (">", ">=") and 0 <= t < 100:
        margin = min(margin, (100.0 - t) / 2)
    if rule.comparison in (">", ">="):
        clear = [t * 0.3] if t > 0 else [t] if rule.comparison == ">" else [t - margin]
        return clear, [t + margin]
    clear = [t * 2.0] if t > 0 else [t + margin]
    return clear, [t * 0.5 if t > 0 and rule.comparison == "<" else t - margin]


def _breaches(rule: TriggerRule, value: float) -> bool:
    if rule.mode is TriggerMode.BASELINE:
        change = (value - BASELINE) / BASELINE * 100.0
        return _COMPARE[rule.comparison](change, rule.threshold)
    return _COMPARE[rule.comparison](value, rule.threshold)


def level(procedure: Procedure, metric: str) -> Level:
    """The drill's level for `metric`: healthy clear of every trigger on it, bad breaching
    every rollback trigger it can (the most of them when they pull apart)."""
    rules = [rule for rule in procedure.triggers if rule.metric == metric]
    if not rules:
        return Level(0.0, 1.0)
    clear: list[float] = []
    bad: list[float] = []
    spec = procedure.metrics.get(metric)
    percent = spec is not None and spec.unit == "%"
    for rule in rules:
        fine, breaching = _candidates(rule, percent)
        clear += fine
        bad += breaching
    healthy = next(
        (value for value in clear if not any(_breaches(rule, value) for rule in rules)), clear[0]
    )
    rolling = [rule for rule in rules if rule.action == "rollback"] or rules
    worst = max(bad, key=lambda value: sum(_breaches(rule, value) for rule in rolling))
    step = all(rule.comparison in ("==", "!=") for rule in rules)
    return Level(healthy, worst, step)


def levels(procedure: Procedure) -> dict[str, Level]:
    """A level for every metric the procedure names (its metrics and its triggers')."""
    names = list(procedure.metrics) + [rule.metric for rule in procedure.triggers]
    return {name: level(procedure, name) for name in dict.fromkeys(names)}


def scenario_settings(procedure: Procedure) -> dict[str, float]:
    """Scenario keywords so the service's shaped metrics breach the procedure's triggers."""
    settings: dict[str, float] = {}
    rules = {rule.metric for rule in procedure.triggers}
    if "error_rate" in rules:  # percent
        errors = level(procedure, "error_rate")
        settings["bad_error_ratio"] = max(errors.bad, 9.0) / 100.0
        settings["healthy_error_ratio"] = min(errors.healthy, 0.4) / 100.0
    if "p95_latency_ms" in rules:
        shaped = [rule for rule in procedure.triggers if rule.metric == "p95_latency_ms"]
        worst = 650.0
        for rule in shaped:
            if rule.mode is TriggerMode.BASELINE:  # the healthy 180 ms is the baseline
                worst = max(worst, 180.0 * max(0.1, 1.0 + 2.0 * rule.threshold / 100.0))
            elif rule.comparison in (">", ">="):
                worst = max(worst, rule.threshold * 1.5)
        settings["bad_p95_seconds"] = worst / 1000.0
    if "db_connection_failures" in rules:  # per minute
        settings["bad_db_failures_per_minute"] = max(
            4.0, level(procedure, "db_connection_failures").bad
        )
    return settings


def gauges(procedure: Procedure) -> dict[str, Level]:
    """The metrics the service serves as plain gauges: every one it has no shape for."""
    return {name: found for name, found in levels(procedure).items() if name not in SHAPED}
