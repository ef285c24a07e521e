"""Rollback metrics across incidents: mean times to detect, decide and recover, success rate,
false positives; drills counted apart from real incidents.

Each incident's milestones are the post-mortem's (IncidentState.milestones, the one reducer) and
its phases the export's (cockpit.core.phases), so `cockpit stats` and `cockpit export` can never
disagree about one incident. Definitions:
- time to detect / decide, and every phase: from the milestone before it (detection from the
  impact's start), as in the export; each with its mean, median and p90;
- time to recover (MTTR): from the opening to the result of the first rollback that succeeded;
- success rate: incidents whose rollback succeeded, of those where one was run (the runbooks'
  quality target: above 95 %);
- false positive: an incident where a trigger fired and no rollback action was ever run; its
  rate is of the incidents where a trigger fired (target: below 5 %).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import mean, median, quantiles
from typing import TYPE_CHECKING, Any

from cockpit.core.clock import parse_iso
from cockpit.core.phases import PHASES, phases
from cockpit.core.state import MILESTONE_KINDS, IncidentState

if TYPE_CHECKING:
    from cockpit.core.event_log import Event
    from cockpit.core.incidents import Incident
    from cockpit.core.timeline_open import AnyTimeline


@dataclass(frozen=True)
class IncidentTimes:
    """One incident's measured times (seconds from its opening) and outcomes."""

    id: int
    drill: bool
    detect: float | None
    decide: float | None
    recover: float | None
    fired: bool
    acted: bool
    rolled_back: bool
    phases: dict[str, float | None]
    """Each phase's seconds (cockpit.core.phases), None when not measured."""


SUCCESS_TARGET = 0.95
"""The runbooks' quality target: more than 95 % of rollbacks succeed."""
FALSE_POSITIVE_TARGET = 0.05
"""...and fewer than 5 % of fired incidents are false positives."""


def incident_times(events: Sequence[Event], incident: Incident) -> IncidentTimes:
    """Measure one incident from its events."""
    opened = parse_iso(incident.opened_at)
    state = IncidentState.replay(incident, events)
    reached = state.milestones()
    measured = {
        phase.key: phase.seconds
        for phase in phases(
            reached,
            incident.opened_at,
            still_open=incident.status == "open",
            scale=state.time_scale,
        )
    }
    recovered = state.recovered_at
    return IncidentTimes(
        id=incident.id,
        drill=incident.drill,
        detect=measured["detect"],
        decide=measured["decide"],
        recover=None
        if recovered is None
        else (parse_iso(recovered) - opened).total_seconds() * state.time_scale,
        fired=reached.get("detect") is not None,
        acted=bool(state.rollbacks),
        rolled_back=recovered is not None,
        phases=measured,
    )


def timeline_times(store: AnyTimeline) -> list[IncidentTimes]:
    """Every incident's times, newest first, from one query over the milestones' kinds.

    Reading just these spares decoding every note, tick and message of every incident, which
    was most of the time of `cockpit stats` over 1,000 incidents (tests/test_stats.py checks
    nothing else is needed).
    """
    found: dict[int | None, list[Event]] = {}
    for event in store.events(kinds=MILESTONE_KINDS):
        found.setdefault(event.incident, []).append(event)
    return [incident_times(found.get(i.id, []), i) for i in store.incidents()]


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return mean(present) if present else None


def spread(values: Iterable[float | None]) -> dict[str, float | None]:
    """Mean, median and p90 of the values present (None for each when there are none)."""
    present = sorted(v for v in values if v is not None)
    if not present:
        return {"mean": None, "median": None, "p90": None}
    p90 = present[0] if len(present) == 1 else quantiles(present, n=10, method="inclusive")[-1]
    return {"mean": mean(present), "median": median(present), "p90": p90}


def quality(value: float | None, target: float, above: bool) -> dict[str, Any]:
    """A rate against its target: met when above (or below) it; None when nothing to rate."""
    met = None if value is None else (value > target if above else value < target)
    return {"value": value, "target": target, "met": met}


def summarize(times: Sequence[IncidentTimes]) -> dict[str, Any]:
    """The metrics over a set of incidents (one kind: real or drills)."""
    acted = [t for t in times if t.acted]
    fired = [t for t in times if t.fired]
    success = sum(t.rolled_back for t in acted) / len(acted) if acted else None
    false_positives = sum(t.fired and not t.acted for t in times)
    return {
        "phases": {key: spread(t.phases.get(key) for t in times) for key, *_ in PHASES},
        "total": spread(t.phases.get("total") for t in times),
        "quality": {
            "success_rate": quality(success, SUCCESS_TARGET, above=True),
            "false_positive_rate": quality(
                false_positives / len(fired) if fired else None, FALSE_POSITIVE_TARGET, above=False
            ),
        },
        "incidents": len(times),
        "mttd_seconds": _mean(t.detect for t in times),
        "mttdecide_seconds": _mean(t.decide for t in times),
        "mttr_seconds": _mean(t.recover for t in times),
        "rollbacks_run": len(acted),
        "rollback_success_rate": success,
        "false_positives": false_positives,
    }


def stats(times: Sequence[IncidentTimes]) -> dict[str, dict[str, Any]]:
    """Real incidents and drills, apart."""
    return {
        "real": summarize([t for t in times if not t.drill]),
        "drills": summarize([t for t in times if t.drill]),
    }
