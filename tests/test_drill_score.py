"""A drill's score (issue 19, item 3), from known timeline events on a fixed clock: each part
alone (phases met, missed, out of order and not reached; checklist items left open; wrong
turns; status updates; keys), a whole drill, and the history of drills with their trend."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.core.clock import FixedClock, iso_ms
from cockpit.core.drill_history import drill_scores, history, history_lines
from cockpit.core.drill_score import DrillScore, score_drill, wrong_turns
from cockpit.core.procedure import Procedure
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline

SCORED = ("during", "verification", "post")


class Drill:
    """A drill incident whose events land at given minutes after its opening."""

    def __init__(self, timeline: Timeline, clock: FixedClock, procedure: str = "pulse-messages"):
        self.timeline, self.clock = timeline, clock
        self.opened = clock.now()
        self.id = timeline.open_incident("Drill", "P1", procedure, drill=True).id

    def at(self, minutes: float) -> None:
        self.clock.advance(minutes * 60 - (self.clock.now() - self.opened).total_seconds())

    def record(self, kind: str, payload: dict[str, object] | None = None) -> None:
        self.timeline.record(self.id, kind, kind, payload or {})

    def fired(self, minutes: float, impact: float | None = None) -> None:
        self.at(minutes)
        began = None if impact is None else iso_ms(self.opened + timedelta(minutes=impact))
        self.record("trigger.fired", {"rule": "error-rate", "breach_began": began})

    def answer(self, node: str, key: str) -> None:
        self.record("wizard.answered", {"node": node, "key": key, "label": key})

    def decided(self, minutes: float) -> None:
        self.at(minutes)
        self.record("wizard.decided", {"options": ["blue-green"]})

    def rollback(self, start: float, end: float, outcome: str = "succeeded") -> None:
        self.at(start)
        intent = self.timeline.begin_action(
            self.id, "vercel.promote", "Switch", {"option": "blue-green"}, command="x"
        )
        self.at(end)
        self.timeline.finish_action(
            self.id,
            str(intent.payload["action_id"]),
            outcome,  # type: ignore[arg-type]
            "done",
            {"verified": outcome == "succeeded", "option": "blue-green"},
        )

    def tick_all_but(self, procedure: Procedure, open_items: int, skipped: int = 0) -> None:
        items = [(k, i.id) for k in SCORED for i in procedure.checklists[k].items]
        for n, (kind, item) in enumerate(items[open_items:]):
            if n < skipped:
                self.record("checklist.skipped", {"list": kind, "item": item, "reason": "n/a"})
            else:
                self.record("checklist.ticked", {"list": kind, "item": item})

    def close(self, minutes: float) -> None:
        self.at(minutes)
        self.timeline.close_incident(self.id, "drill over")

    def score(self, procedure: Procedure | None) -> DrillScore:
        incident = self.timeline.incident(self.id)
        return score_drill(incident, self.timeline.events(self.id), procedure)


def parts(score: DrillScore) -> dict[str, float | None]:
    return {part.key: part.points for part in score.parts}


def verdicts(score: DrillScore) -> dict[str, str]:
    return {phase.key: phase.verdict for phase in score.phases}


def test_a_whole_drill_scores_by_the_documented_formula(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    drill = Drill(timeline, clock)
    drill.fired(1, impact=0.5)  # detect: 30 s, under 5 min
    drill.at(1.5)
    drill.answer("users-majority", "n")
    drill.record("wizard.back")  # a wrong turn
    drill.answer("users-majority", "y")  # the answer after the step back: the same turn
    drill.decided(2)  # decide: 1 min from the trigger, under 2
    drill.rollback(3, 10)  # roll back: 7 min, over 5; verified at once (no target): met
    drill.tick_all_but(pulse_procedure, open_items=5, skipped=1)  # 5 of 25 open
    drill.record("escalation.missed", {"key": "update:1"})
    for _ in range(3):
        drill.record("draft.saved", {"template": "internal", "subject": "s", "body": "b"})
    drill.record("drill.keys", {"count": 80})
    drill.close(20)  # total: 19.5 min from the impact, over 15
    drill.record("drill.keys", {"count": 60})  # the last session's, after the closing
    drill.record("checklist.ticked", {"list": "during", "item": "alert-oncall"})  # too late

    score = drill.score(pulse_procedure)
    assert verdicts(score) == {
        "detect": "met",
        "decide": "met",
        "rollback": "missed",
        "verify": "no target",
        "total": "missed",
    }
    assert parts(score) == {
        "phases": 40 * (1 + 1 + 0.5 + 1 + 0.5) / 5,  # 32
        "checklists": 20 * (1 - 5 / 25),  # 16
        "wrong_turns": 15 * (1 - 1 / 3),  # 10
        "updates": 15 * 3 / 4,  # 11.25
        "keys": 10 * (2 - 140 / 100),  # 6
    }
    assert score.score == round(32 + 16 + 10 + 11.25 + 6) == 75
    assert score.keys == 140 and score.wrong_turns == 1 and score.reached == "full"
    assert [item for _, item, _ in score.missed_items][:1] == ["alert-oncall"]
    assert json.loads(json.dumps(score.as_dict()))["score"] == 75


def test_phases_out_of_order_missing_and_open(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    early = Drill(timeline, clock)
    early.decided(1)  # before any trigger fired: out of order, half
    early.fired(3)
    early.close(4)
    score = early.score(pulse_procedure)
    assert verdicts(score) == {
        "detect": "met",
        "decide": "out of order",
        "rollback": "not reached",
        "verify": "not reached",
        "total": "met",
    }
    assert parts(score)["phases"] == 40 * (1 + 0.5 + 0 + 0 + 1) / 5

    still = Drill(timeline, clock)
    still.fired(1)
    score = still.score(pulse_procedure)  # never decided, still open
    assert verdicts(score)["decide"] == "open" and verdicts(score)["total"] == "open"
    assert parts(score)["phases"] == 40 * 1 / 5


def test_phases_are_judged_on_the_drill_clock(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    drill = Drill(timeline, clock)
    drill.record("drill.clock", {"scale": 120.0})
    drill.fired(0.01)
    drill.decided(0.01 + 1.5 / 60)  # 1.5 wall seconds: 3 drill minutes, over 2
    score = drill.score(pulse_procedure)
    assert verdicts(score)["decide"] == "missed"
    assert score.phases[1].seconds == pytest.approx(180)


def test_wrong_turns_count_each_change_once(timeline: Timeline, clock: FixedClock) -> None:
    drill = Drill(timeline, clock)
    drill.answer("users-majority", "n")
    drill.answer("users-tenth", "y")
    drill.answer("users-majority", "n")  # the same answer again: no turn
    drill.answer("users-tenth", "n")  # a second answer to a question answered: a turn
    drill.record("wizard.back")  # a step back: a turn ...
    drill.answer("users-tenth", "y")  # ... and its new answer is the same turn
    drill.decided(1)
    drill.answer("users-majority", "y")  # a new walk, another answer: a turn
    events = timeline.events(drill.id)
    assert wrong_turns(events) == 3
    score = drill.score(None)
    assert parts(score)["wrong_turns"] == 0.0  # three take it all


def test_checklist_items_left_open_and_skipped(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    drill = Drill(timeline, clock)
    drill.tick_all_but(pulse_procedure, open_items=0, skipped=3)  # skipped with why: settled
    drill.record("checklist.unticked", {"list": "post", "item": "incident-ticket"})
    score = drill.score(pulse_procedure)
    assert [(kind, item) for kind, item, _ in score.missed_items] == [("post", "incident-ticket")]
    assert parts(score)["checklists"] == 20 * 24 / 25
    assert parts(drill.score(None))["checklists"] is None, "no procedure: not measured"


def test_status_updates_and_keys_not_measured_are_left_out(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    five_levels = load_builtin("five-levels")  # no status-update cadence
    drill = Drill(timeline, clock, "five-levels")
    drill.record("draft.saved", {"template": "internal"})
    score = drill.score(five_levels)
    assert parts(score)["updates"] is None and parts(score)["keys"] is None
    measured = [p for p in score.parts if p.grade is not None]
    assert sum(p.weight for p in measured) == 75  # phases, checklists, wrong turns
    points = sum(p.points or 0 for p in measured)
    assert score.score == round(100 * points / 75)

    missed = Drill(timeline, clock)
    for n in range(4):
        missed.record("escalation.missed", {"key": f"update:{n + 1}"})
    missed.record("drill.keys", {"count": 250})  # past twice the budget: nothing
    score = missed.score(pulse_procedure)
    assert parts(score)["updates"] == 0.0 and parts(score)["keys"] == 0.0
    assert score.updates_missed == 4 and score.keys == 250


def build_history(timeline: Timeline, clock: FixedClock, procedure: Procedure) -> list[int]:
    """Three drills of pulse-messages, better, worse, then one of huntaze."""
    ids = []
    for wrong in (3, 0, 1):
        drill = Drill(timeline, clock)
        drill.fired(1)
        for _ in range(wrong):
            drill.record("wizard.back")
        drill.close(2)
        ids.append(drill.id)
        clock.advance(3600)
    other = Drill(timeline, clock, "huntaze")
    other.fired(1)
    ids.append(other.id)
    return ids


def test_the_history_lists_drills_per_procedure_newest_first_with_their_trend(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    first, second, third, huntaze = build_history(timeline, clock, pulse_procedure)
    found = history(drill_scores(timeline))
    assert list(found) == ["huntaze", "pulse-messages"]
    rows = found["pulse-messages"]
    assert [row["incident"] for row in rows] == [third, second, first]
    scores = {row["incident"]: row["score"] for row in rows}
    assert scores[second] > scores[first] and scores[third] < scores[second]
    assert [row["trend"] for row in rows] == ["down", "up", None]
    assert rows[0]["change"] == scores[third] - scores[second]
    assert [row["incident"] for row in found["huntaze"]] == [huntaze]
    assert found["huntaze"][0]["trend"] is None
    text = "\n".join(history_lines(found))
    assert f"#{first:<5}" in text and "first" in text and "(still open)" in text
    assert f"down {scores[third] - scores[second]:+d}" in text


def test_stats_drills_prints_the_history_as_text_and_json(
    tmp_path: Path, clock: FixedClock
) -> None:
    db = tmp_path / "drills.db"
    with Timeline(db, clock=clock) as timeline:
        build_history(timeline, clock, load_builtin("pulse-messages"))
        timeline.open_incident("real", "P1", "pulse-messages")  # not a drill: not listed
    runner = CliRunner()
    table = runner.invoke(cli, ["--db", str(db), "stats", "--drills"])
    assert table.exit_code == 0, table.output
    assert "pulse-messages: 3 drill(s), newest first" in table.output
    assert "huntaze: 1 drill(s)" in table.output and "up +" in table.output
    document = runner.invoke(cli, ["--db", str(db), "stats", "--drills", "--format", "json"])
    drills = json.loads(document.output)["drills"]
    assert [row["trend"] for row in drills["pulse-messages"]] == ["down", "up", None]
    assert drills["pulse-messages"][0]["parts"][0]["key"] == "phases"
    empty = runner.invoke(cli, ["--db", str(tmp_path / "none.db"), "stats", "--drills"])
    assert empty.exit_code == 2
