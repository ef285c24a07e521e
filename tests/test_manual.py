"""Options done by hand, without the UI: the order of steps, what is recorded, and that the
reducer, the export's milestones and the stats count a manual action like any other."""

from __future__ import annotations

import pytest

from cockpit.core import manual
from cockpit.core.clock import FixedClock
from cockpit.core.errors import IncidentError
from cockpit.core.manual import StepMark, StepOpen, Steps
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.state import IncidentState
from cockpit.core.stats import incident_times, stats
from cockpit.core.timeline import Timeline

STEPS = ["stop the app", "migrate down", "clear the cache"]


def test_steps_are_ticked_in_order_and_a_skip_needs_to_come_first() -> None:
    steps = Steps(STEPS)
    assert steps.next_open == 0
    with pytest.raises(StepOpen, match="Step 1 is still open: stop the app") as refused:
        steps.check_tick(1)
    assert refused.value.index == 0
    steps.mark(StepMark(0, "done", "alice", "2026-01-15T03:00:00.000Z"))
    steps.check_tick(1)
    with pytest.raises(StepOpen, match="Step 2 is still open: migrate down"):
        steps.check_tick(2)
    with pytest.raises(StepOpen, match="Step 2"):
        steps.check_done()
    steps.mark(StepMark(1, "skipped", "alice", "2026-01-15T03:01:00.000Z", "no migration"))
    steps.check_tick(2)
    with pytest.raises(ValueError, match="already done"):
        steps.check_tick(0)
    steps.mark(StepMark(2, "done"))  # asked for here, not yet read back
    assert steps.next_open is None and steps.marks[2].pending
    steps.check_done()
    steps.mark(StepMark(2, "done", "bob", "2026-01-15T03:02:00.000Z"))  # read back: replaces
    steps.mark(StepMark(2, "skipped", "carol", "2026-01-15T03:03:00.000Z", "x"))  # later: no
    assert steps.marks[2].actor == "bob"


def test_what_is_recorded_for_an_option_done_by_hand() -> None:
    option = load_builtin("five-levels").option("full-system")
    plan = manual.plan_for(option)
    assert plan.destructive and plan.target == "full-system"
    assert plan.cli == "./scripts/disaster-recovery.sh ; npm run system:validate"
    action, summary, payload, command = manual.intent(option)
    assert action == "manual.disaster_recovery" and manual.is_manual(action)
    assert summary == "By hand: Level 5: Full System Rollback" and command == plan.cli
    assert payload["option"] == payload["target"] == "full-system" and payload["by_hand"]
    assert manual.result(option, "verified", "")[:2] == (
        "succeeded",
        "Done and verified by hand: Level 5: Full System Rollback",
    )
    assert manual.result(option, "unverified", "")[2]["verified"] is False
    outcome, summary, payload = manual.result(option, "failed", "backup unreadable")
    assert outcome == "failed" and summary.endswith(": backup unreadable")
    assert payload == {"verified": False, "option": "full-system", "by_hand": True,
                       "note": "backup unreadable"}  # fmt: skip


def test_continued_command_lines_are_one_line_each() -> None:
    commands = ["gh workflow run rollback.yml \\\n  --field environment=production", "echo ok"]
    assert manual.command_line(commands) == (
        "gh workflow run rollback.yml --field environment=production ; echo ok"
    )


def test_why_the_cockpit_cannot_do_it() -> None:
    assert "the cockpit cannot perform it" in manual.why_by_hand("manual", [], installed=False)
    not_configured = manual.why_by_hand("git", ["vercel"], installed=True)
    assert "'git' provider is not configured" in not_configured and "vercel" in not_configured
    assert "No provider named 'acme' is installed" in manual.why_by_hand(
        "acme", [], installed=False
    )
    assert "[providers.manual]" not in manual.why_by_hand("manual", [], installed=False)


def test_a_manual_action_is_a_rollback_for_the_reducer_and_the_stats(
    timeline: Timeline, clock: FixedClock
) -> None:
    option = load_builtin("pitchey").option("config")
    incident = timeline.open_incident("Worker 500s", "critical", "pitchey")
    steps = Steps(option.steps)
    clock.advance(60)
    action, summary, payload, command = manual.intent(option)
    intent = timeline.begin_action(incident.id, action, summary, payload, command=command)
    action_id = str(intent.payload["action_id"])
    for index in range(len(option.steps)):
        clock.advance(30)
        step_summary, step = steps.event(index, "done")
        timeline.step_action(incident.id, action_id, step_summary, step)
    state = IncidentState.replay(incident, timeline.events(incident.id))
    assert [a.action_id for a in state.in_flight] == [action_id]
    assert [(m.index, m.status) for m in state.actions[action_id].steps] == [
        (0, "done"),
        (1, "done"),
    ]
    clock.advance(60)
    outcome, summary, result = manual.result(option, "verified", "")
    timeline.finish_action(incident.id, action_id, outcome, summary, result)  # type: ignore[arg-type]
    with pytest.raises(IncidentError, match="already has a result"):
        timeline.step_action(incident.id, action_id, "late", {"step": 0, "status": "done"})
    with pytest.raises(IncidentError, match="no action nope was begun"):
        timeline.step_action(incident.id, "nope", "stray", {"step": 0, "status": "done"})

    events = timeline.events(incident.id)
    state = IncidentState.replay(incident, events)
    assert not state.in_flight
    reached = state.milestones()
    assert reached["rollback_start"] == intent.ts and reached["verify"] == reached["rollback_end"]
    times = incident_times(events, timeline.incident(incident.id))
    assert times.acted and times.rolled_back and times.recover == 180
    assert stats([times])["real"]["rollback_success_rate"] == 1.0


def test_a_step_event_the_reducer_cannot_read_changes_nothing(
    timeline: Timeline,
) -> None:
    incident = timeline.open_incident("x", "critical", "pitchey")
    intent = timeline.begin_action(incident.id, "manual.x", "By hand: x", {}, command=None)
    action_id = str(intent.payload["action_id"])
    timeline.step_action(incident.id, action_id, "odd", {"step": "first", "status": "done"})
    timeline.step_action(incident.id, action_id, "odd", {"step": 0, "status": "maybe"})
    timeline.step_action(incident.id, action_id, "first", {"step": 0, "status": "done"})
    timeline.step_action(incident.id, action_id, "again", {"step": 0, "status": "skipped"})
    state = IncidentState.replay(incident, timeline.events(incident.id))
    assert [(m.index, m.status) for m in state.actions[action_id].steps] == [(0, "done")]


def test_a_step_before_an_action_is_done_skipped_with_why_or_refused() -> None:
    from cockpit.core.manual import StepMark, StepOpen, Steps, before_answer

    steps = Steps(["Stop application", "Drain the queue"])
    assert before_answer(steps, "") == (0, "done", "")
    steps.mark(StepMark(0, "done"))
    assert before_answer(steps, "skip  it was never started ") == (
        1,
        "skipped",
        "it was never started",
    )
    for typed in (
        "skip",
        "skip   ",
        "skipping",
        "main",
        "done",
    ):  # no reason, or a target typed too soon
        with pytest.raises(StepOpen):
            before_answer(steps, typed)
