"""The live picture of an incident's metrics: windows, trigger evaluators and pane views.

Pure Python, fed by the App with samples; the dashboard renders `views()` and `verdicts()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cockpit.core.metrics import MetricWindow, PaneState, Sample
from cockpit.core.pane_rules import Scale, pane_scale, unhealthy
from cockpit.core.triggers import TriggerEvaluator, TriggerStatus, Verdict

if TYPE_CHECKING:
    from cockpit.core.procedure import Procedure, TriggerRule


@dataclass(frozen=True)
class MetricView:
    """What one metric pane shows."""

    metric: str
    title: str
    unit: str
    value: float | None
    state: PaneState
    history: list[float]
    counter: str
    detail: str
    scale: Scale | None = None
    """What a full bar stands for (cockpit.core.pane_rules)."""


@dataclass(frozen=True)
class TriggerChange:
    """A trigger that fired or cleared on the latest sample."""

    rule: TriggerRule
    verdict: Verdict
    began: datetime | None = None
    """When the breach that fired it began: the first breaching sample of the episode (the
    impact's start, from which time to detect counts)."""


class Board:
    """Windows and evaluators for every metric of a procedure."""

    def __init__(self, procedure: Procedure, interval_seconds: float, *, window: int = 120) -> None:
        self.procedure = procedure
        self.interval_seconds = interval_seconds
        self.windows = {name: MetricWindow(name, window) for name in procedure.metrics}
        self.evaluators = {
            rule.id: TriggerEvaluator(rule, procedure.metrics[rule.metric].unit)
            for rule in procedure.triggers
        }
        self.sources: dict[str, str] = {}
        """metric -> source that last fed it."""
        self.began: dict[str, datetime] = {}
        """rule id -> the time of the first breaching sample since the rule last had none."""

    def expect(self, source: str, metrics: list[str]) -> None:
        """Note that `source` feeds `metrics`, so their panes wait instead of saying no source."""
        for metric in metrics:
            self.sources.setdefault(metric, source)

    def ingest(self, samples: list[Sample]) -> list[TriggerChange]:
        """Add samples; return the triggers that fired or cleared because of them."""
        changes = []
        for sample in samples:
            window = self.windows.get(sample.metric)
            if window is None:
                continue  # a source may feed more than the procedure watches
            window.add(sample)
            self.sources[sample.metric] = sample.source
            for rule in self.procedure.triggers:
                if rule.metric != sample.metric:
                    continue
                verdict = self.evaluators[rule.id].observe(sample.value)
                if not verdict.breaches:
                    self.began.pop(rule.id, None)
                elif rule.id not in self.began:
                    self.began[rule.id] = sample.at
                if verdict.changed:
                    changes.append(TriggerChange(rule, verdict, self.began.get(rule.id)))
        return changes

    def verdicts(self) -> list[tuple[TriggerRule, Verdict | None]]:
        """Every trigger with its latest verdict (None before its first sample)."""
        return [(rule, self.evaluators[rule.id].last) for rule in self.procedure.triggers]

    def firing(self) -> list[tuple[TriggerRule, Verdict]]:
        """The triggers firing now."""
        return [(rule, v) for rule, v in self.verdicts() if v is not None and v.firing]

    def views(self, now: datetime) -> list[MetricView]:
        """One view per procedure metric, in the procedure's order."""
        return [self._view(name, now) for name in self.procedure.metrics]

    def _view(self, name: str, now: datetime) -> MetricView:
        spec = self.procedure.metrics[name]
        window = self.windows[name]
        state = window.state(now, self.interval_seconds)
        rules = [(rule, v) for rule, v in self.verdicts() if rule.metric == name]
        verdicts = [v for _rule, v in rules if v is not None]
        lead = max(verdicts, key=lambda v: (v.firing, v.breaches / v.needed), default=None)
        if state is PaneState.OK and lead is not None:
            if lead.status is TriggerStatus.FIRING:
                state = PaneState.BREACH
            elif lead.status is TriggerStatus.PENDING:
                state = PaneState.WARNING
        latest = window.latest
        # No trigger, no verdict: the procedure's own checks say whether the reading is OK.
        judged = ""
        if state is PaneState.OK and not rules and latest is not None and latest.value is not None:
            judged = unhealthy(self.procedure, name, latest.value)
            if judged:
                state = PaneState.WARNING
        if latest is None:
            detail = (
                "waiting for the first sample" if name in self.sources else "no source feeds it"
            )
        elif state is PaneState.STALE:
            age = (now - latest.at).total_seconds()
            detail = f"last sample {age:.0f}s ago from {latest.source}"
            if latest.value is None and latest.error:
                detail += f": {latest.error}"  # e.g. rate limited, and when it polls again
        elif latest.value is None:
            detail = latest.error or "no value"
        else:
            detail = judged or (lead.counter if lead is not None else "")
        history = window.values()
        return MetricView(
            metric=name,
            title=spec.title,
            unit=spec.unit,
            value=latest.value if latest is not None and state is not PaneState.STALE else None,
            state=state,
            history=history,
            counter=lead.counter if lead is not None else "",
            detail=detail,
            scale=pane_scale(spec.unit, history, rules),
        )
