"""A drill's score: how the rehearsal went, from its timeline events alone.

One number out of 100, and the parts it is made of. Each part has a weight and a grade from
0 to 1; the score is the weighted mean of the grades of the parts that could be measured:

    score = round(100 × Σ weight × grade / Σ weight), over the measured parts

- phases (40): the five phases a procedure can set a target for (detect, decide, roll back,
  verify, total: cockpit.core.phases, in the drill's own time). Met, or reached where the
  procedure sets no target, grades 1; missed, or out of order (reached before the milestone it
  follows, so not measurable against its target), 1/2; not reached (or still open) 0. The
  part's grade is their mean. Always measured.
- checklists (20): the items of the during, verification and post lists (what a responder
  works through while and after rolling back): 1 - open / all, where an item done (by hand or
  by itself) or skipped with a reason is settled. Not measured without such items.
- wrong turns (15): answers changed in the wizard: every `wizard.back`, and every answer that
  gives a question already answered on the walk another key (a second responder's, or a new
  walk after the decision). 1 - turns / 3, at least 0.
- status updates (15): updates owed and not sent (`escalation.missed`) against those given (a
  saved draft or a sent message): given / (given + missed). Not measured when the procedure
  sets no update cadence, or nothing was given or missed.
- keystrokes (10): the keys pressed in the drill's sessions (`drill.keys`, recorded by the
  cockpit as a session ends): 1 up to KEY_BUDGET, then down to 0 at twice that. Not measured
  when none were recorded (a drill run before the cockpit counted them).

The drill ends at its closing when closed (a post-mortem written the next day is not the
drill), else at its last event; keystrokes count in every session, the last one's included
(recorded as it ends, after the closing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.core.checklist_state import AUTO_TICKED, KINDS, ChecklistState, Recorded
from cockpit.core.escalation import MISSED as UPDATE_MISSED
from cockpit.core.escalation import UPDATE_KINDS
from cockpit.core.phases import PHASES, TOTAL, Phase, phases
from cockpit.core.state import IncidentState
from cockpit.core.wizard import ANSWERED, BACK

if TYPE_CHECKING:
    from cockpit.core.event_log import Event
    from cockpit.core.incidents import Incident
    from cockpit.core.procedure import Procedure

KEYS = "drill.keys"
"""Keys pressed in one session of a drill (payload: count), recorded as the session ends."""

WEIGHTS = {"phases": 40, "checklists": 20, "wrong_turns": 15, "updates": 15, "keys": 10}
TITLES = {
    "phases": "phases",
    "checklists": "checklists",
    "wrong_turns": "wrong turns",
    "updates": "status updates",
    "keys": "keystrokes",
}
JUDGED = tuple(key for key, _, _, metric in (*PHASES, TOTAL) if metric is not None)
"""The phases a procedure can set a target for: detect, decide, rollback, verify, total."""
PHASE_GRADES = {"met": 1.0, "no target": 1.0, "missed": 0.5, "out of order": 0.5}
"""Any other verdict (not reached, open) grades 0."""
SCORED_LISTS = ("during", "verification", "post")
WRONG_TURN_LIMIT = 3
"""This many wrong turns take the part's whole weight."""
SHOWN_ITEMS = 5
"""Items left open named in the part's line (all of them are in `missed_items`)."""
KEY_BUDGET = 100
"""Keys a drill may take in full: the wizard, an option with a typed confirmation and the
lists ticked take about 60-90 on the built-ins."""


@dataclass(frozen=True)
class Part:
    """One part of the score: its weight, its grade (None: not measured) and why."""

    key: str
    weight: float
    grade: float | None
    detail: str

    @property
    def title(self) -> str:
        """How the part is named on screen."""
        return TITLES[self.key]

    @property
    def points(self) -> float | None:
        """What the part earned out of its weight (None: not measured, left out)."""
        return None if self.grade is None else self.weight * self.grade


@dataclass(frozen=True)
class DrillScore:
    """One drill's score, its parts and the facts they were measured from."""

    incident: int
    procedure: str | None
    opened_at: str
    status: str
    score: int
    parts: tuple[Part, ...]
    phases: tuple[Phase, ...]
    keys: int | None
    wrong_turns: int
    missed_items: tuple[tuple[str, str, str], ...]
    """Items of the scored lists still open when the drill ended: (list, item id, text)."""
    updates_given: int
    updates_missed: int
    reached: str | None
    """How far the drill went: `full` (a verified rollback), `rollback` (one succeeded), None."""

    def as_dict(self) -> dict[str, Any]:
        """The score as JSON-ready data."""
        return {
            "incident": self.incident,
            "procedure": self.procedure,
            "opened_at": self.opened_at,
            "status": self.status,
            "score": self.score,
            "parts": [
                {
                    "key": p.key,
                    "weight": p.weight,
                    "grade": p.grade,
                    "points": p.points,
                    "detail": p.detail,
                }
                for p in self.parts
            ],
            "phases": [
                {
                    "key": p.key,
                    "verdict": p.verdict,
                    "seconds": p.seconds,
                    "target_minutes": p.target_minutes,
                }
                for p in self.phases
            ],
            "keys": self.keys,
            "wrong_turns": self.wrong_turns,
            "missed_items": [
                {"list": kind, "item": item, "text": text} for kind, item, text in self.missed_items
            ],
            "updates": {"given": self.updates_given, "missed": self.updates_missed},
            "reached": self.reached,
        }


def drill_events(events: Sequence[Event]) -> list[Event]:
    """The events of the drill itself: up to its closing, or all while it is open."""
    for index, event in enumerate(events):
        if event.kind == "incident.closed":
            return list(events[: index + 1])
    return list(events)


def wrong_turns(events: Sequence[Event]) -> int:
    """Answers changed in the wizard: steps back, and answers replacing another (module)."""
    turns = 0
    walk: list[tuple[str, str]] = []  # the standing answers, in order: (question, key)
    for event in events:
        if event.kind == BACK:
            turns += 1
            walk = walk[:-1]
        elif event.kind == ANSWERED:
            node, key = str(event.payload.get("node", "")), str(event.payload.get("key", ""))
            nodes = [question for question, _ in walk]
            if node not in nodes:
                walk.append((node, key))
            elif walk[nodes.index(node)][1] != key:  # the same answer again changes nothing
                turns += 1
                walk = [*walk[: nodes.index(node)], (node, key)]  # what followed: the old road
    return turns


def keys_pressed(events: Sequence[Event]) -> int | None:
    """Keys pressed in all the drill's sessions; None when none were recorded."""
    counts = [event.payload.get("count") for event in events if event.kind == KEYS]
    numbers = [c for c in counts if isinstance(c, int) and not isinstance(c, bool) and c >= 0]
    return sum(numbers) if counts else None


def score_drill(
    incident: Incident, events: Sequence[Event], procedure: Procedure | None
) -> DrillScore:
    """Score one drill from its events (in id order) under its procedure (None: not loaded,
    scored without targets and checklists)."""
    drill = drill_events(events)
    state = IncidentState.replay(incident, drill, procedure)
    targets: dict[str, tuple[float, str]] = {
        t.metric: (t.under_minutes, t.title) for t in (procedure.targets if procedure else [])
    }
    judged = tuple(
        phase
        for phase in phases(
            state.milestones(),
            state.incident.opened_at,
            still_open=state.incident.status == "open",
            targets=targets,
            scale=state.time_scale,
        )
        if phase.key in JUDGED
    )
    missed = _missed_items(state)
    turns = wrong_turns(drill)
    keys = keys_pressed(events)
    given = sum(event.kind in UPDATE_KINDS for event in drill)
    late = sum(event.kind == UPDATE_MISSED for event in drill)
    cadence = procedure is None or procedure.escalation.status_update_every_minutes is not None
    parts = (
        _phases_part(judged),
        _checklists_part(state, missed),
        Part(
            "wrong_turns",
            WEIGHTS["wrong_turns"],
            max(0.0, 1 - turns / WRONG_TURN_LIMIT),
            f"{turns} answer(s) changed",
        ),
        Part(
            "updates",
            WEIGHTS["updates"],
            given / (given + late) if cadence and given + late else None,
            f"{given} given, {late} owed and not sent"
            if cadence
            else "the procedure sets no update cadence",
        ),
        Part(
            "keys",
            WEIGHTS["keys"],
            None if keys is None else min(1.0, max(0.0, 2 - keys / KEY_BUDGET)),
            "not recorded" if keys is None else f"{keys} keys ({KEY_BUDGET} count in full)",
        ),
    )
    reached = (
        "full"
        if state.milestones()["verify"] is not None
        else "rollback"
        if state.recovered_at is not None
        else None
    )
    return DrillScore(
        incident=incident.id,
        procedure=incident.procedure,
        opened_at=incident.opened_at,
        status=incident.status,
        score=total(parts),
        parts=parts,
        phases=judged,
        keys=keys,
        wrong_turns=turns,
        missed_items=tuple(missed),
        updates_given=given,
        updates_missed=late,
        reached=reached,
    )


def total(parts: Sequence[Part]) -> int:
    """The score out of 100: the weighted mean of the measured parts' grades."""
    measured = [p for p in parts if p.grade is not None]
    weight = sum(p.weight for p in measured)
    if not weight:
        return 0
    return round(100 * sum(p.weight * (p.grade or 0.0) for p in measured) / weight)


def _phases_part(judged: Sequence[Phase]) -> Part:
    grade = sum(PHASE_GRADES.get(p.verdict, 0.0) for p in judged) / len(judged)
    said = {"no target": "reached (no target)"}
    detail = " · ".join(
        f"{p.label.split(' (')[0]} {said.get(p.verdict, p.verdict)}" for p in judged
    )
    return Part("phases", WEIGHTS["phases"], grade, detail)


def _missed_items(state: IncidentState) -> list[tuple[str, str, str]]:
    checklists, procedure = state.checklists, state.procedure
    if checklists is None or procedure is None:
        return []
    return [
        (kind, item.id, item.text)
        for kind in SCORED_LISTS
        if kind in procedure.checklists
        for item in procedure.checklists[kind].items
        if checklists.state(kind, item.id).status == "open"
    ]


def _checklists_part(state: IncidentState, missed: Sequence[tuple[str, str, str]]) -> Part:
    procedure = state.procedure
    lists = [k for k in SCORED_LISTS if procedure is not None and k in procedure.checklists]
    count = sum(len(procedure.checklists[k].items) for k in lists) if procedure else 0
    if not count:
        return Part("checklists", WEIGHTS["checklists"], None, "no during or after lists")
    shown = ", ".join(f"{kind}/{item}" for kind, item, _ in missed[:SHOWN_ITEMS])
    if len(missed) > SHOWN_ITEMS:
        shown += f" (+{len(missed) - SHOWN_ITEMS} more)"
    detail = f"{len(missed)} of {count} items not ticked" + (f": {shown}" if missed else "")
    return Part("checklists", WEIGHTS["checklists"], 1 - len(missed) / count, detail)


def practice_ticks(
    score: DrillScore, events: Sequence[Event], procedure: Procedure
) -> list[tuple[str, str, dict[str, Any]]]:
    """The practice-drill items this drill did (an item's `drill`: `rollback` ticks when a
    rollback succeeded, `full` when one was verified) and that are still open, as the
    (kind, summary, payload) of `checklist.auto_ticked` events to record."""
    done = {"full": ("rollback", "full"), "rollback": ("rollback",)}.get(score.reached or "", ())
    checklists = ChecklistState(procedure)
    checklists.replay(Recorded(e.kind, e.payload, e.actor, e.ts) for e in events if e.kind in KINDS)
    how = (
        "went through to a verified rollback"
        if score.reached == "full"
        else "rolled back successfully"
    )
    return [
        (
            AUTO_TICKED,
            f"Ticked by itself: {item.text} (drill {score.incident} {how}; "
            f"scored {score.score}/100)",
            {"list": kind, "item": item.id, "drill_score": score.score},
        )
        for kind, checklist in procedure.checklists.items()
        for item in checklist.items
        if item.drill in done and checklists.state(kind, item.id).status == "open"
    ]
