"""A team rehearses its own procedure file, written only from docs/procedure-format.md: a
metric no simulator knows (queue_depth) and a git revert. `cockpit demo --procedure FILE`
feeds that metric, the bad deploy breaches the file's own trigger, and the revert is picked,
planned, confirmed and verified against the drill's real git remote, and production recovers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.pilot import Pilot

from cockpit.app import CockpitApp
from cockpit.cli import cli
from cockpit.commands.demo import start_demo
from cockpit.core.clock import FixedClock
from cockpit.core.procedure_loader import load_procedure_file
from cockpit.core.timeline import Timeline
from cockpit.session import Session

pytestmark = pytest.mark.timeout(90)

OURS = """\
schema: 1
name: queue-team
title: Queue team rollback
organisation: Queue team
source: written for a drill from docs/procedure-format.md
summary: Roll back when the work queue backs up.
sample_interval_seconds: 60
metrics:
  queue_depth: {title: Jobs waiting}
triggers:
  - id: queue-backlog
    title: More than 500 jobs waiting for 3 minutes
    metric: queue_depth
    comparison: ">"
    threshold: 500
    mode: consecutive
    count: 3
    source_text: Queue > 500 for 3 minutes
severities:
  - {id: p1, title: High}
tree:
  start: backed-up
  nodes:
    backed-up:
      question: Is the queue still growing?
      answers:
        - {key: y, label: "Yes", next: roll}
        - {key: n, label: "No", next: watch}
    roll:
      outcome: Revert the deploy
      decision: rollback
      severity: p1
      options: [revert]
    watch:
      outcome: Keep watching
      decision: monitor
options:
  - id: revert
    level: 1
    title: Git revert of the bad deploy
    provider: git
    action: revert
    params: {commit: "[commit-hash]"}
    recovery_time: {min_minutes: 5, max_minutes: 10, text: "~5-10 minutes"}
    risk: low
    best_for: Code-level issues
checklists:
  quick:
    title: Quick checklist
    items:
      - {id: confirm, text: Confirm rollback is necessary}
escalation:
  steps:
    - {role: On-call engineer, after_minutes: 5, level: 1}
  status_update_every_minutes: 5
"""


async def until(
    pilot: Pilot[int], clock: FixedClock, condition: Callable[[], object], what: str
) -> None:
    for _ in range(400):
        if condition():
            return
        clock.advance(0.5)
        await pilot.pause(0.02)
    raise AssertionError(f"never happened: {what}")


def drill_of(tmp_path: Path, text: str, *, deploy_at: float) -> tuple[CockpitApp, FixedClock]:
    """The cockpit on a drill of the procedure file `text`, as `cockpit drill` runs it."""
    path = tmp_path / "queue-team.yaml"
    path.write_text(text)
    procedure = load_procedure_file(path)
    clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
    timeline = Timeline(tmp_path / "drill.db")
    incident = timeline.open_incident("drill", "P1", str(path), drill=True)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=procedure,
        clock=clock,
        poll_interval=0.05,
        start_sources=lambda: start_demo(clock, deploy_at, procedure, job_seconds=0.2),
    )
    return CockpitApp(session), clock


async def test_a_procedure_file_is_rehearsed_end_to_end(tmp_path: Path) -> None:
    app, clock = drill_of(tmp_path, OURS, deploy_at=10.0)

    def recorded(kind: str) -> list[str]:
        return [e.summary for e in app.state.events if e.kind == kind]

    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, clock, lambda: recorded("trigger.fired"), "the file's trigger fired")
        assert any("500 jobs" in summary for summary in recorded("trigger.fired"))
        await pilot.press("r", "enter")  # L1: the git revert
        screen = app.screen
        assert type(screen).__name__ == "ActionScreen"
        assert screen.asking == "commit"  # type: ignore[attr-defined]
        await until(pilot, clock, lambda: screen.query("#action-choices"), "the commits")
        await pilot.press("enter")  # the newest commit: the bad deploy's
        await until(pilot, clock, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        plan = screen.plan  # type: ignore[attr-defined]
        assert "release 1.2.4" in " ".join(plan.changes)
        await pilot.press(*plan.target, "enter")
        await until(pilot, clock, lambda: screen.result is not None, "the result")  # type: ignore[attr-defined]
        assert screen.result.outcome == "succeeded", screen.result.summary  # type: ignore[attr-defined]
        await until(pilot, clock, lambda: recorded("trigger.cleared"), "production recovered")
        app.stop_sources()


def test_a_file_that_does_not_validate_is_one_line_and_no_incident(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(OURS.replace('comparison: ">"', 'comparison: "~"'))
    db = tmp_path / "drill.db"
    result = CliRunner().invoke(cli, ["drill", "--procedure", str(path), "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert f"{path}:" in result.output and "comparison" in result.output
    assert Timeline(db).incidents() == []


async def test_steps_the_runbook_puts_first_are_settled_in_order_before_the_action_runs(
    tmp_path: Path,
) -> None:
    """`before:` steps (stop the app, then ...): each is done (Enter) or skipped with why
    (`skip <why>`), in order; a target typed too soon is refused, and nothing runs until then."""
    text = OURS.replace(
        "    best_for: Code-level issues\n",
        "    best_for: Code-level issues\n"
        "    before: [Stop the queue workers, Drain the retry queue]\n",
    )
    app, clock = drill_of(tmp_path, text, deploy_at=600.0)

    def kinds() -> list[str]:
        return [e.kind for e in app.state.events]

    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, clock, lambda: "git" in app.session.actions, "the drill's git")
        await pilot.press("r", "enter")
        screen = app.screen
        await until(pilot, clock, lambda: screen.query("#action-choices"), "the commits")
        await pilot.press("enter")
        await until(pilot, clock, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        plan = screen.plan  # type: ignore[attr-defined]
        await pilot.press(*plan.target, "enter")  # too soon: the workers are still running
        await pilot.pause(0.1)
        assert "action.intent" not in kinds() and "plan.step" not in kinds(), "refused"
        await pilot.press("enter")  # step 1 done
        typed = ["space" if c == " " else c for c in "skip nothing was queued"]
        await pilot.press(*typed, "enter")  # step 2 skipped, with why
        await until(pilot, clock, lambda: kinds().count("plan.step") == 2, "both recorded")
        await pilot.press(*plan.target, "enter")
        await until(pilot, clock, lambda: screen.result is not None, "the result")  # type: ignore[attr-defined]
        assert screen.result.outcome == "succeeded"  # type: ignore[attr-defined]
        app.stop_sources()
    steps = [e for e in app.state.events if e.kind == "plan.step"]
    assert [(e.payload["step"], e.payload["status"]) for e in steps] == [
        (0, "done"),
        (1, "skipped"),
    ]
    assert steps[1].payload["reason"] == "nothing was queued"
    assert all(e.payload["option"] == "revert" for e in steps)
    order = [e.kind for e in app.state.events if e.kind in ("plan.step", "action.intent")]
    assert order == ["plan.step", "plan.step", "action.intent"], "the steps came first"
