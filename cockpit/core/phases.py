"""An incident's phases: each measured from the milestone before it, held against its target.

The runbooks set targets per phase (detect < 5 min, decide < 2 min, roll back < 5 min), so a
phase counts from the end of the one before it, not from the incident's opening: a 3-minute
detection followed by a 10-second decision is a decision met. Detection counts from the impact's
start (the first breaching sample of the trigger that fired first), or from the opening when no
trigger fired with one (an incident opened by hand, or recorded before the cockpit kept it).

A milestone not reached is skipped: the next phase counts from the last one reached. A milestone
reached before the one it follows (a decision taken before any trigger fired) is out of order:
it has no duration and is neither met nor missed. The total runs from the impact (or the
opening) to the incident's closing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from cockpit.core.clock import parse_iso

#: (phase, label, the milestone it ends at, the procedure target it is held against or None).
PHASES: tuple[tuple[str, str, str, str | None], ...] = (
    ("detect", "Detect (impact → first trigger fired)", "detect", "time_to_detect"),
    ("acknowledge", "Acknowledge (→ acknowledged)", "acknowledge", None),
    ("decide", "Decide (→ first decision)", "decide", "time_to_decide"),
    ("start", "Start (→ first rollback action)", "rollback_start", None),
    ("rollback", "Roll back (→ the action's result)", "rollback_end", "time_to_rollback"),
    ("verify", "Verify (→ first verified result)", "verify", "time_to_verify"),
    ("resolve", "Resolve (→ closed)", "total", None),
)
TOTAL = ("total", "Total (impact → closed)", "total", "total_duration")
MILESTONE_LABELS = {
    "impact": "impact began",
    "opened": "opened",
    "detect": "trigger fired",
    "acknowledge": "acknowledged",
    "decide": "decided",
    "rollback_start": "rollback started",
    "rollback_end": "rollback ended",
    "verify": "rollback verified",
    "total": "closed",
}


@dataclass(frozen=True)
class Phase:
    """One phase of one incident."""

    key: str
    label: str
    start: str
    """The milestone it counts from (`impact`, `opened`, `detect`, ...)."""
    started: str | None
    """When that milestone was reached (UTC text)."""
    at: str | None
    """When it ended (UTC text), None if not reached."""
    seconds: float | None
    target_minutes: float | None
    target_title: str | None
    verdict: str
    """met, missed, no target, open, not reached or out of order."""


def when(text: str | None) -> datetime | None:
    """A milestone's time, None when absent or not a time (a damaged payload is not a crash)."""
    if not text:
        return None
    try:
        return parse_iso(text)
    except (TypeError, ValueError):
        return None


def phases(
    reached: Mapping[str, str | None],
    opened_at: str,
    *,
    still_open: bool,
    targets: Mapping[str, tuple[float, str]] | None = None,
    scale: float = 1.0,
) -> list[Phase]:
    """The phases of one incident, then the total; `targets` maps a target metric to (minutes,
    title). `reached` is IncidentState.milestones(). A drill on a faster clock (`scale` drill
    seconds a wall second) is measured and judged in drill time."""
    targets = targets or {}
    impact = reached.get("impact")
    first = ("impact", impact) if when(impact) else ("opened", opened_at)
    start = first
    rows: list[Phase] = []
    for key, label, milestone, metric in PHASES:
        rows.append(_phase(key, label, start, reached, milestone, metric, targets, scale))
        at, start_at = when(reached.get(milestone)), when(start[1])
        if at is not None and (start_at is None or at >= start_at):
            start = (milestone, reached.get(milestone))
    key, label, milestone, metric = TOTAL
    if first[0] == "opened":
        label = "Total (opened → closed)"
    rows.append(_phase(key, label, first, reached, milestone, metric, targets, scale))
    return open_verdicts(rows, still_open)


def _phase(
    key: str,
    label: str,
    start: tuple[str, str | None],
    reached: Mapping[str, str | None],
    milestone: str,
    metric: str | None,
    targets: Mapping[str, tuple[float, str]],
    scale: float,
) -> Phase:
    text = reached.get(milestone)
    at, start_at = when(text), when(start[1])
    target = targets.get(metric) if metric else None
    minutes, title = target if target else (None, None)
    seconds: float | None = None
    if at is None:
        verdict = "not reached"
    elif start_at is not None and at < start_at:
        verdict = "out of order"
    else:
        seconds = (at - start_at).total_seconds() * scale if start_at is not None else None
        if minutes is None or seconds is None:
            verdict = "no target"
        else:
            verdict = "met" if seconds < minutes * 60 else "missed"
    return Phase(
        key, label, start[0], start[1], text if at else None, seconds, minutes, title, verdict
    )


def open_verdicts(rows: Sequence[Phase], still_open: bool) -> list[Phase]:
    """A phase not reached in an incident still open is `open`, not `not reached`."""
    if not still_open:
        return list(rows)
    return [replace(r, verdict="open") if r.verdict == "not reached" else r for r in rows]
