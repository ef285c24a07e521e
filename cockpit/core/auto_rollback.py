"""Automatic rollback: when a runbook asks for one, what the cockpit starts, when, and why not.

A procedure opts in per option (`automatic:` in the procedure, cockpit.core.procedure
.AutomaticRollback). When one of the named triggers fires, the driving cockpit announces the
rollback (`auto.announced`: banner, page, chat through the outbox) with a countdown; any
responder can cancel it with one key (`auto.cancelled`). The countdown is the wall's even in a
drill on a faster clock: it is the time a human has to say no. When the
countdown ends the App plans the option and runs it through the same runner as a human's,
recorded with the actor AUTOMATIC (`auto.started`, then the action's intent and result, then
`auto.verified` or `auto.failed`). Guard rails, each a recorded refusal (`auto.refused`) that
escalates and pages: a destructive plan the procedure does not allow, a human action already in
flight, an option whose provider is not configured. At most one automatic rollback per
incident: once announced, the incident never announces another, whatever happens to it.

Pure: the state and the time in, what to do out; the App does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cockpit.core.clock import iso_ms, parse_iso

if TYPE_CHECKING:
    from cockpit.core.procedure import AutomaticRollback, Procedure
    from cockpit.core.state import IncidentState

AUTOMATIC = "cockpit (automatic)"
"""The actor of every step the cockpit takes by itself."""
ANNOUNCED = "auto.announced"
CANCELLED = "auto.cancelled"
STARTED = "auto.started"
REFUSED = "auto.refused"
FAILED = "auto.failed"
VERIFIED = "auto.verified"
KINDS = (ANNOUNCED, CANCELLED, STARTED, REFUSED, FAILED, VERIFIED)
PHASES = {
    ANNOUNCED: "announced",
    CANCELLED: "cancelled",
    STARTED: "started",
    REFUSED: "refused",
    FAILED: "failed",
    VERIFIED: "verified",
}


@dataclass(frozen=True)
class AutoRun:
    """The incident's automatic rollback, as its timeline says."""

    option: str
    rule: str
    starts_at: datetime
    """When the countdown ends (wall time: a human's time to cancel)."""
    phase: str
    """announced, cancelled, started, refused, failed or verified."""
    reason: str = ""

    @property
    def counting_down(self) -> bool:
        return self.phase == "announced"


def fold(run: AutoRun | None, kind: str, payload: dict[str, Any]) -> AutoRun | None:
    """The automatic rollback after one of its events (the reducer's part)."""
    if kind == ANNOUNCED:
        if run is not None:
            return run  # at most one per incident: a second announcement changes nothing
        try:
            starts_at = parse_iso(str(payload.get("starts_at")))
        except (TypeError, ValueError):
            return None
        return AutoRun(str(payload.get("option")), str(payload.get("rule")), starts_at, "announced")
    if run is None or kind not in PHASES:
        return run
    return AutoRun(
        run.option, run.rule, run.starts_at, PHASES[kind], str(payload.get("reason", ""))
    )


def entry_for(procedure: Procedure, rule_id: str) -> AutomaticRollback | None:
    """The procedure's automatic rollback this rule starts, if any."""
    return next((entry for entry in procedure.automatic if rule_id in entry.triggers), None)


def announcement(
    state: IncidentState, rule_id: str, now: datetime
) -> tuple[str, dict[str, Any]] | None:
    """What to announce when `rule_id` fires at `now` (wall): (summary, payload), or None when
    nothing starts (no such opt-in, one already announced, a human acting, incident closed)."""
    procedure = state.procedure
    if procedure is None or state.auto is not None or state.incident.status == "closed":
        return None
    entry = entry_for(procedure, rule_id)
    if entry is None or state.in_flight:
        return None
    starts_at = now + timedelta(seconds=entry.countdown_seconds)
    option = procedure.option(entry.option)
    summary = (
        f"Automatic rollback in {entry.countdown_seconds:g} s: {option.title} "
        f"(trigger {rule_id}); press k to cancel"
    )
    payload = {
        "option": entry.option,
        "rule": rule_id,
        "countdown_seconds": entry.countdown_seconds,
        "starts_at": iso_ms(starts_at),
    }
    return summary, payload


def due(state: IncidentState, now: datetime) -> AutomaticRollback | None:
    """The entry to start now: its countdown ended and nothing cancelled it."""
    run, procedure = state.auto, state.procedure
    if run is None or not run.counting_down or procedure is None:
        return None
    if state.incident.status == "closed" or now < run.starts_at:
        return None
    return next((e for e in procedure.automatic if e.option == run.option), None)


def seconds_left(state: IncidentState, now: datetime) -> float | None:
    """The countdown's seconds left, while it runs."""
    run = state.auto
    if run is None or not run.counting_down:
        return None
    return max(0.0, (run.starts_at - now).total_seconds())
