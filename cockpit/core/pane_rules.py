"""What a metric pane measures a reading against: the scale of its bars, and, for a metric no
trigger watches, what the procedure itself calls healthy.

Bars scaled to their own highest reading say nothing: a steady 0.40 % error rate fills them
as a 9 % one would. Their top is the line the procedure draws instead: the lowest threshold of
its triggers on the metric (for a baseline trigger, the baseline moved by its percentage), so a
full bar means "at the trigger", and a low steady value draws low bars. A metric without such
a line has a fixed top: 100 for a percentage, else the highest reading but never below 1 (a
0/1 flag is drawn 0 to 1).

A metric no trigger watches (ai-saas' health_check_failed) has no verdict, so its pane would say
OK whatever it reads. The procedure still says what healthy is: its checklists' automatic
checks on the metric ("health_check_failed == 0 for 3 samples"); a reading that fails one is
not OK.

Pure Python (no Textual, no Rich).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cockpit.core.metrics import compare
from cockpit.core.rules import TriggerMode

if TYPE_CHECKING:
    from cockpit.core.procedure import Procedure, TriggerRule
    from cockpit.core.triggers import Verdict

PERCENT_TOP = 100.0
"""The top of a percentage's bars when no trigger draws a line for it."""

FLOOR = 1.0
"""The lowest top of any other metric's bars: a flag reading 0 is drawn low, not full."""


@dataclass(frozen=True)
class Scale:
    """The value a full bar stands for, and why that value (said on the pane)."""

    top: float
    why: str
    """Why that top: 'threshold', 'baseline +50%', 'highest', or '' (a fixed top)."""


def _fmt(value: float) -> str:
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _line(rule: TriggerRule, verdict: Verdict | None) -> tuple[float, str] | None:
    """Where `rule` starts to breach, on the metric's own axis; None when it draws no line
    there (a fall below a threshold, an inequality, a baseline still filling)."""
    threshold = rule.threshold
    if rule.mode is TriggerMode.BASELINE:
        reference = verdict.reference if verdict is not None else None
        if rule.comparison not in (">", ">=") or not reference or reference <= 0:
            return None
        return reference * (1 + threshold / 100), f"baseline +{_fmt(threshold)}%"
    if rule.comparison in (">", ">=", "==") and threshold > 0:
        return threshold, "threshold"
    return None


def pane_scale(
    unit: str,
    history: Sequence[float],
    rules: Iterable[tuple[TriggerRule, Verdict | None]],
) -> Scale:
    """The scale of a pane's bars: the first line the metric's triggers draw, else a fixed top.

    Args:
        unit: The metric's unit ("%" gets 0-100 when no trigger draws a line).
        history: The readings drawn.
        rules: The metric's triggers with their latest verdicts (a baseline's reference).
    """
    lines = [found for rule, verdict in rules if (found := _line(rule, verdict)) is not None]
    if lines:
        top, why = min(lines)
        return Scale(top, why)
    if unit == "%":
        return Scale(PERCENT_TOP, "")
    highest = max(history, default=0.0)
    return Scale(highest, "highest") if highest > FLOOR else Scale(FLOOR, "")


def scale_label(scale: Scale, low: float, unit: str, room: int) -> str:
    """'scale 0–5% (threshold)', shortened to fit `room` columns ('0–5% (threshold)', '0–5%')."""
    suffix = unit if unit in ("", "%") else f" {unit}"
    span = f"{_fmt(low)}–{_fmt(scale.top)}{suffix}"
    why = f" ({scale.why})" if scale.why else ""
    for label in (f"scale {span}{why}", f"{span}{why}", span):
        if len(label) <= room:
            return label
    return ""


def unhealthy(procedure: Procedure, metric: str, value: float) -> str:
    """Why `value` is not healthy by the procedure's own checks on `metric`, or "" when it is
    (or no check names the metric). Meant for a metric no trigger watches."""
    for checklist in procedure.checklists.values():
        for item in checklist.items:
            check = item.auto
            if check is None or check.metric != metric:
                continue
            if check.comparison is None or check.threshold is None:
                continue
            if not compare(value, check.comparison, check.threshold):
                wanted = f"{check.comparison} {_fmt(check.threshold)}"
                return f"checklist wants {wanted}; no trigger watches it"
    return ""
