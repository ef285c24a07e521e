"""The incident as its timeline says it is: one pure reducer, `IncidentState.apply(event)`.

Every cockpit on the incident, the export, the stats and a resumed session fold the same events
through this one function, so they cannot disagree: what a running cockpit shows is exactly what
replaying the timeline gives. No Textual, no I/O: events in, state out. Automation (recording an
item that ticked itself, paging, escalation reminders) stays with the App that drives the
incident; it reads this state to decide, and what it records comes back through here too.

What it holds: the incident (title, severity, acknowledgement, status), the decision and its
options, the wizard's walk (with answers two responders gave to the same question: the later
wins, the conflict is kept), every checklist item, escalation steps and status updates already
recorded, the outbox, saved drafts, written post-mortem sections, and every action with its
outcome (those still in flight: intent without result) and the steps recorded within it (an
option done by hand ticks its runbook's steps), and who holds which role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cockpit.core.auto_rollback import KINDS as AUTO_KINDS
from cockpit.core.auto_rollback import AutoRun
from cockpit.core.auto_rollback import fold as fold_auto
from cockpit.core.checklist_state import ChecklistState, Recorded
from cockpit.core.clock import parse_iso
from cockpit.core.drafts import SAVED as DRAFT_SAVED
from cockpit.core.escalation import DUE as ESCALATION_DUE
from cockpit.core.escalation import MISSED as ESCALATION_MISSED
from cockpit.core.escalation import UPDATE_KINDS
from cockpit.core.incidents import Incident, advance
from cockpit.core.manual import STEP, StepMark
from cockpit.core.outbox import KINDS as OUTBOX_KINDS
from cockpit.core.outbox import Outbox
from cockpit.core.postmortem import WRITTEN as SECTION_WRITTEN
from cockpit.core.reminders import OVERDUE
from cockpit.core.roles import ROLE_KINDS, Roles
from cockpit.core.wizard import ANSWERED, BACK, DECIDED, Answered, Wizard

if TYPE_CHECKING:
    from cockpit.core.event_log import Event
    from cockpit.core.procedure import Procedure

WIZARD_KINDS = (ANSWERED, BACK, DECIDED)
FIRED = "trigger.fired"
DRILL_CLOCK = "drill.clock"
"""A drill's clock runs faster than the wall's (payload: scale): every clock of the incident
(escalation, status updates, deadlines, timed watches, the phases' targets) runs on it."""
MAX_SCALE = 10_000.0

#: The only kinds the milestones need: `cockpit stats` reads just these for 1,000 incidents.
MILESTONE_KINDS: tuple[str, ...] = (FIRED, DECIDED, "action.intent", "action.result", DRILL_CLOCK)


@dataclass(frozen=True)
class ActionState:
    """One action: its intent, and its result once there is one."""

    action_id: str
    action: str
    summary: str
    actor: str
    started: str
    command: str | None = None
    target: str = ""
    option: str | None = None
    checklist: bool = False
    """A checklist item's own check (a health check, a backup), not a rollback."""
    outcome: str | None = None
    """succeeded, failed or cancelled; None while it runs (or if its cockpit died)."""
    verified: bool = False
    result: str = ""
    ended: str | None = None
    steps: tuple[StepMark, ...] = ()
    """Its steps done or skipped so far (`action.step`: an option done by hand), in order."""


@dataclass(frozen=True)
class Conflict:
    """Two responders answered the same question differently; the later answer stands."""

    node: str
    earlier: Answered
    later: Answered


@dataclass
class IncidentState:
    """Everything the incident's events say, folded one event at a time (see the module)."""

    incident: Incident
    procedure: Procedure | None = None
    events: list[Event] = field(default_factory=list)
    rolled_back_at: datetime | None = None
    """When the last rollback action succeeded (a provider's, or one done by hand): automatic
    checks count only readings after it (a metric healthy before anything was rolled back
    verifies nothing, not even after the decision). A checklist item's own check is no
    rollback."""
    decision: tuple[str, ...] = ()
    """The options the last decision recommended, best first."""
    escalation_keys: set[str] = field(default_factory=set)
    updates_given: list[datetime] = field(default_factory=list)
    outbox: Outbox = field(default_factory=Outbox)
    drafts: dict[str, tuple[str, str]] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)
    actions: dict[str, ActionState] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    last_session: Event | None = None
    """The latest session.* event (started, ended, hangup, crashed)."""
    first_fired: str | None = None
    """When a trigger first fired (the incident was detected)."""
    impact_began: str | None = None
    """When the breach of the first trigger that fired began (its first breaching sample)."""
    time_scale: float = 1.0
    """Drill seconds per wall second (1: a real incident on wall time)."""
    auto: AutoRun | None = None
    """The incident's automatic rollback, once announced (cockpit.core.auto_rollback)."""
    first_decided: str | None = None
    """When the wizard first reached a decision."""
    walk_moved_at: datetime | None = None
    """When the wizard's walk last moved (an answer, a step back, a decision): when it reached
    the question it is at, so a timed watch ("monitor for 10 minutes") counts from there."""
    wizard: Wizard | None = None
    checklists: ChecklistState | None = None
    roles: Roles = field(default_factory=Roles)
    """Who holds which role (lead, responder, communications, observer): cockpit.core.roles."""

    def __post_init__(self) -> None:
        if self.procedure is not None:
            self.use_procedure(self.procedure)

    @classmethod
    def replay(
        cls, incident: Incident, events: Iterable[Event], procedure: Procedure | None = None
    ) -> IncidentState:
        """The state after these events (of this incident, in id order)."""
        state = cls(incident, procedure)
        for event in events:
            state.apply(event)
        return state

    def use_procedure(self, procedure: Procedure) -> None:
        """The procedure is known (validated after the first paint): the parts that need it
        are rebuilt from the events so far."""
        self.procedure = procedure
        self.wizard = Wizard(procedure)
        self.checklists = ChecklistState(procedure)
        self.conflicts = []
        for event in self.events:
            self._procedure_part(event)

    # --- the reducer ------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Fold one event in (events arrive in id order, from any writer)."""
        self.events.append(event)
        kind, payload = event.kind, event.payload
        if kind in ROLE_KINDS:
            self.roles.apply(event)
        if kind.startswith("incident."):
            moved = advance(self.incident, self.incident.id, kind, event.ts, payload)
            if moved is not None:
                self.incident = moved
        elif kind == FIRED:
            if self.first_fired is None:
                self.first_fired = event.ts
                began = payload.get("breach_began")
                self.impact_began = began if isinstance(began, str) and began else None
        elif kind == DECIDED:
            self.first_decided = self.first_decided or event.ts
            self.decision = tuple(str(option) for option in payload.get("options") or ())
        elif kind in AUTO_KINDS:
            self.auto = fold_auto(self.auto, kind, dict(payload))
        elif kind == DRILL_CLOCK and self.incident.drill:
            scale = payload.get("scale")
            if isinstance(scale, int | float) and 1 <= scale <= MAX_SCALE:
                self.time_scale = float(scale)
        elif kind in (ESCALATION_DUE, ESCALATION_MISSED, OVERDUE):
            self.escalation_keys.add(str(payload.get("key")))
        elif kind in OUTBOX_KINDS:
            self.outbox.apply(kind, payload, event.at)
        elif kind == "action.intent":
            self._intent(event)
        elif kind == "action.result":
            self._result(event)
        elif kind == STEP:
            self._step(event)
        elif kind == DRAFT_SAVED:
            self.drafts[str(payload.get("template", ""))] = (
                str(payload.get("subject", "")),
                str(payload.get("body", "")),
            )
        elif kind == SECTION_WRITTEN:
            self.sections[str(payload.get("section", ""))] = str(payload.get("text", ""))
        elif kind.startswith("session."):
            self.last_session = event
        if kind in WIZARD_KINDS:
            self.walk_moved_at = event.at
        if kind in UPDATE_KINDS:  # a saved draft or a sent message: a status update given
            self.updates_given.append(event.at)
        self._procedure_part(event)

    def _procedure_part(self, event: Event) -> None:
        kind = event.kind
        if self.wizard is not None and kind in WIZARD_KINDS:
            replaced = self.wizard.apply(kind, event.payload, event.actor)
            if replaced is not None:
                self.conflicts.append(Conflict(replaced.node, replaced, self.wizard.path[-1]))
        elif self.checklists is not None and kind.startswith("checklist."):
            self.checklists.replay([Recorded(kind, event.payload, event.actor, event.ts)])

    def _intent(self, event: Event) -> None:
        payload: dict[str, Any] = event.payload
        action_id = str(payload.get("action_id", ""))
        self.actions[action_id] = ActionState(
            action_id=action_id,
            action=str(payload.get("action", "")),
            summary=event.summary,
            actor=event.actor,
            started=event.ts,
            command=event.command,
            target=str(payload.get("target", "")),
            option=_text(payload.get("option")),
            checklist=bool(payload.get("checklist")),
        )

    def _result(self, event: Event) -> None:
        payload = event.payload
        action_id = str(payload.get("action_id", ""))
        outcome = str(payload.get("outcome", ""))
        started = self.actions.get(action_id)
        if started is not None:
            self.actions[action_id] = replace(
                started,
                outcome=outcome,
                verified=bool(payload.get("verified")),
                result=event.summary,
                ended=event.ts,
            )
        checked = payload.get("checklist") or (started is not None and started.checklist)
        if outcome == "succeeded" and not checked:
            self.rolled_back_at = event.at

    def _step(self, event: Event) -> None:
        started = self.actions.get(str(event.payload.get("action_id", "")))
        mark = StepMark.from_payload(event.payload, event.actor, event.ts)
        if started is None or mark is None:
            return
        if any(known.index == mark.index for known in started.steps):
            return  # two responders ticked the same step: the first stands
        self.actions[started.action_id] = replace(started, steps=(*started.steps, mark))

    # --- what the views ask -------------------------------------------------------------------

    @property
    def in_flight(self) -> list[ActionState]:
        """Actions recorded as begun and not (yet) as ended: running, or outcome unknown."""
        return [action for action in self.actions.values() if action.outcome is None]

    @property
    def rollbacks(self) -> list[ActionState]:
        """The rollback actions, in the order they began: a provider's or one done by hand;
        a checklist item's own check (a health check, a backup) is none."""
        return [action for action in self.actions.values() if not action.checklist]

    @property
    def recovered_at(self) -> str | None:
        """When the first rollback that succeeded ended (the time to recover ends here)."""
        return min(
            (a.ended for a in self.rollbacks if a.outcome == "succeeded" and a.ended),
            default=None,
        )

    def milestones(self) -> dict[str, str | None]:
        """When each milestone of the post-mortem's Durations table was reached (UTC text),
        None if not (yet): the export's table and `cockpit stats` both read them here."""
        first = next(iter(self.rollbacks), None)
        verified = (a.ended for a in self.rollbacks if a.outcome == "succeeded" and a.verified)
        return {
            "impact": self.impact_began,
            "detect": self.first_fired,
            "acknowledge": self.incident.acknowledged_at,
            "decide": self.first_decided,
            "rollback_start": first.started if first else None,
            "rollback_end": first.ended if first else None,
            "verify": min((at for at in verified if at), default=None),
            "total": self.incident.closed_at,
        }

    def drill_time(self, at: datetime) -> datetime:
        """`at` on the incident's clock: itself for a real incident; for a drill, its opening
        plus the wall time since, times the drill's scale."""
        if self.time_scale == 1.0:
            return at
        opened = parse_iso(self.incident.opened_at)
        return opened + (at - opened) * self.time_scale

    def last_of(self, *kinds: str) -> Event | None:
        """The latest event of one of these kinds."""
        return next((e for e in reversed(self.events) if e.kind in kinds), None)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
