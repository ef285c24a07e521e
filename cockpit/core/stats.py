"""Rollback metrics across incidents: mean times to detect, decide and recover, success rate,
false positives; drills counted apart from real incidents.

Each incident's milestones are the post-mortem's (IncidentState.milestones, the one reducer), so
`cockpit stats` and `cockpit export` can never disagree about one incident. Definitions:
- time to detect / decide: from the incident's opening to the first trigger.fired / decision;
- time to recover (MTTR): to the result of the first rollback action that succeeded;
- success rate: incidents whose rollback succeeded, of those where one was run;
- false positive: an incident where a trigger fired and no rollback action was ever run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import mean
from typing import TYPE_CHECKING, Any

from cockpit.core.clock import parse_iso
from cockpit.core.state import MILESTONE_KINDS, IncidentState

if TYPE_CHECKING:
    from cockpit.core.event_log import Event
    from cockpit.core.incidents import Incident
    from cockpit.core.timeline import Timeline


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


def incident_times(events: Sequence[Event], incident: Incident) -> IncidentTimes:
    """Measure one incident from its events."""
    opened = parse_iso(incident.opened_at)
    state = IncidentState.replay(incident, events)
    reached = state.milestones()

    def since(key: str) -> float | None:
        at = reached.get(key)
        return None if at is None else (parse_iso(at) - opened).total_seconds()

    recovered = state.recovered_at
    return IncidentTimes(
        id=incident.id,
        drill=incident.drill,
        detect=since("detect"),
        decide=since("decide"),
        recover=None if recovered is None else (parse_iso(recovered) - opened).total_seconds(),
        fired=reached.get("detect") is not None,
        acted=bool(state.rollbacks),
        rolled_back=recovered is not None,
    )


def timeline_times(store: Timeline) -> list[IncidentTimes]:
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


def summarize(times: Sequence[IncidentTimes]) -> dict[str, Any]:
    """The metrics over a set of incidents (one kind: real or drills)."""
    acted = [t for t in times if t.acted]
    return {
        "incidents": len(times),
        "mttd_seconds": _mean(t.detect for t in times),
        "mttdecide_seconds": _mean(t.decide for t in times),
        "mttr_seconds": _mean(t.recover for t in times),
        "rollbacks_run": len(acted),
        "rollback_success_rate": (
            sum(t.rolled_back for t in acted) / len(acted) if acted else None
        ),
        "false_positives": sum(t.fired and not t.acted for t in times),
    }


def stats(times: Sequence[IncidentTimes]) -> dict[str, dict[str, Any]]:
    """Real incidents and drills, apart."""
    return {
        "real": summarize([t for t in times if not t.drill]),
        "drills": summarize([t for t in times if t.drill]),
    }
