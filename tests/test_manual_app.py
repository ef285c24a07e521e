"""Options the cockpit cannot perform, done by hand from the manual screen and recorded as a
rollback like any other.

Huntaze's AWS rollback (provider `manual`) is walked step by step: in order, one ticked out of
order (refused, naming the step still open), that one skipped with a reason, then marked done
and verified. The timeline has the same intent and result a provider's action writes, so the
post-mortem's Durations, `cockpit stats` and the checklist item waiting for the option all
count it. A failure is recorded with its note; an option whose provider is simply not
configured (pulse-messages' git revert with no git here) is done by hand the same way; a
destructive one (five-levels' full system) is marked done only once its name is typed back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from textual.widgets import OptionList, Static

from cockpit.app import CockpitApp
from cockpit.cli import cli
from cockpit.core.clock import FixedClock
from cockpit.core.export import render_markdown
from cockpit.core.export_report import build_report
from cockpit.core.procedure import AutoCheck, ChecklistItem, Procedure
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.stats import incident_times
from cockpit.core.timeline import Event, Timeline
from cockpit.session import Session
from tests.pilot_wait import until

pytestmark = pytest.mark.timeout(60)

START = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)


def cockpit(
    timeline: Timeline, clock: FixedClock, procedure: Procedure, actions: dict[str, Any]
) -> CockpitApp:
    incident = timeline.open_incident("Edge config broke", "p1", procedure.name)
    session = Session(
        timeline=timeline, incident=incident, procedure=procedure, actions=actions, clock=clock
    )
    return CockpitApp(session, start_pollers=False)


async def open_option(app: CockpitApp, pilot: Any, option: str) -> Any:
    """r, then Enter on the option: the manual screen, its steps focused."""
    await pilot.press("r")
    options = app.screen.query_one("#rollback-options", OptionList)
    options.highlighted = options.get_option_index(option)
    await pilot.press("enter")
    await until(pilot, lambda: type(app.screen).__name__ == "ManualScreen", "the manual screen")
    screen = app.screen
    await until(pilot, lambda: screen.query_one("#manual-steps", OptionList).has_focus, "focus")
    return screen


def shown(screen: Any, widget: str) -> str:
    return str(screen.query_one(widget, Static).render())


def of(app: CockpitApp, kind: str) -> list[Event]:
    return [event for event in app.events if event.kind == kind]


def with_item_waiting_for(procedure: Procedure, option: str) -> Procedure:
    """The procedure with a verification item that ticks itself once the option is verified."""
    checklists = dict(procedure.checklists)
    verification = checklists["verification"]
    item = ChecklistItem(
        id="edge-restored",
        text="Edge configuration restored",
        auto=AutoCheck(option_verified=option),
    )
    checklists["verification"] = verification.model_copy(
        update={"items": [*verification.items, item]}
    )
    return procedure.model_copy(update={"checklists": checklists})


async def test_huntaze_aws_rollback_done_by_hand_counts_as_a_rollback(tmp_path: Path) -> None:
    clock = FixedClock(START)
    db = tmp_path / "timeline.db"
    procedure = with_item_waiting_for(load_builtin("huntaze"), "aws-infra")
    option = procedure.option("aws-infra")
    assert option.provider == "manual" and len(option.steps) == 4
    with Timeline(db, clock=clock, actor="alice") as timeline:
        app = cockpit(timeline, clock, procedure, {})
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await open_option(app, pilot, "aws-infra")
            head = shown(screen, "#manual-head")
            assert "cannot perform" in head and "by hand" in head
            assert "[providers.manual]" not in head and "No provider is configured" not in head
            assert "aws cloudfront get-distribution-config" in shown(screen, "#manual-commands")
            assert not of(app, "action.intent"), "opening it records nothing"

            clock.advance(120)
            await pilot.press("enter")  # step 1, in order: the start is recorded with it
            await until(pilot, lambda: of(app, "action.step"), "step 1 recorded")
            [intent] = of(app, "action.intent")
            assert [a.action_id for a in app.state.in_flight] == [intent.payload["action_id"]]

            clock.advance(60)
            await pilot.press("down", "enter")  # step 3 while step 2 is open: refused
            status = shown(screen, "#manual-status")
            assert "Step 2 is still open" in status and "Lambda@Edge" in status
            await pilot.pause(0.1)
            assert len(of(app, "action.step")) == 1, "nothing recorded for the refused tick"

            await pilot.press("s", *"no Lambda@Edge change in this deploy", "enter")
            await until(pilot, lambda: len(of(app, "action.step")) == 2, "step 2 skipped")
            await pilot.press("enter")  # the cursor is on step 3 now
            clock.advance(60)
            await pilot.press("enter")  # step 4
            await until(pilot, lambda: len(of(app, "action.step")) == 4, "steps 3 and 4")
            rows = screen.query_one("#manual-steps", OptionList)
            assert rows.highlighted == rows.get_option_index("choice-verified")

            clock.advance(60)
            await pilot.press("enter", *"CloudFront serves the previous config", "enter")
            await until(pilot, lambda: screen.ended is not None, "the result")
            assert "Done and verified by hand" in shown(screen, "#manual-status")
            await until(pilot, lambda: of(app, "checklist.auto_ticked"), "the waiting item")
            assert not app.state.in_flight

        incident = timeline.incidents()[0]
        events = timeline.events(incident.id)
    intent = next(e for e in events if e.kind == "action.intent")
    result = next(e for e in events if e.kind == "action.result")
    steps = [e for e in events if e.kind == "action.step"]
    action_id = intent.payload["action_id"]
    assert intent.payload["action"] == "manual.restore_config"
    assert intent.payload["option"] == intent.payload["target"] == "aws-infra"
    assert intent.actor == "alice" and intent.command is not None
    assert intent.command.startswith("aws cloudfront get-distribution-config --id")
    assert [(s.payload["step"], s.payload["status"]) for s in steps] == [
        (0, "done"),
        (1, "skipped"),
        (2, "done"),
        (3, "done"),
    ]
    assert steps[1].payload["reason"] == "no Lambda@Edge change in this deploy"
    assert all(s.payload["action_id"] == action_id and s.actor == "alice" for s in steps)
    assert result.payload["action_id"] == action_id
    assert result.payload["outcome"] == "succeeded" and result.payload["verified"] is True
    assert result.payload["note"] == "CloudFront serves the previous config"
    ticked = next(e for e in events if e.kind == "checklist.auto_ticked")
    assert ticked.payload["item"] == "edge-restored"

    # Counted as a rollback everywhere, with no special case.
    report = build_report(events, incident, procedure)
    durations = {row["key"]: row for row in report["durations"]}
    assert durations["start"]["from"] == "opened" and durations["start"]["seconds"] == 120
    assert durations["rollback"]["seconds"] == 180
    assert durations["rollback"]["verdict"] == "met"  # huntaze: < 10 min
    assert durations["verify"]["seconds"] == 0, "verified by hand with its result"
    markdown = render_markdown(events, incident, procedure)
    assert (
        "| Roll back (→ the action's result) | rollback started | 2026-01-15 03:05:00 UTC"
        " | 3m 00s |" in markdown
    )
    assert "By hand: Infrastructure Rollback (AWS)" in markdown
    times = incident_times(events, incident)
    assert times.acted and times.rolled_back and times.recover == 300
    document = CliRunner().invoke(cli, ["--db", str(db), "stats", "--format", "json"])
    assert document.exit_code == 0, document.output
    real = json.loads(document.output)["real"]
    assert real["rollbacks_run"] == 1 and real["rollback_success_rate"] == 1.0
    assert real["mttr_seconds"] == 300


async def test_a_manual_option_marked_failed_keeps_its_note(tmp_path: Path) -> None:
    clock = FixedClock(START)
    procedure = load_builtin("pitchey")
    with Timeline(tmp_path / "t.db", clock=clock, actor="bob") as timeline:
        app = cockpit(timeline, clock, procedure, {})
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await open_option(app, pilot, "config")
            assert "wrangler secret put JWT_SECRET" in shown(screen, "#manual-commands")
            await pilot.press("enter")  # step 1: the secrets are reverted
            await until(pilot, lambda: of(app, "action.step"), "step 1")
            rows = screen.query_one("#manual-steps", OptionList)
            rows.highlighted = rows.get_option_index("choice-verified")
            await pilot.press("enter")  # done while step 2 is open: refused, naming it
            assert "Step 2 is still open" in shown(screen, "#manual-status")
            assert screen.asking is None
            clock.advance(240)
            rows.highlighted = rows.get_option_index("choice-failed")
            await pilot.press("enter", *"wrangler refused: token lacks workers:write", "enter")
            await until(pilot, lambda: screen.ended is not None, "the result")
        incident = timeline.incidents()[0]
        events = timeline.events(incident.id)
    result = next(e for e in events if e.kind == "action.result")
    assert result.payload["outcome"] == "failed" and result.payload["verified"] is False
    assert result.payload["note"] == "wrangler refused: token lacks workers:write"
    assert "token lacks workers:write" in result.summary and result.actor == "bob"
    times = incident_times(events, incident)
    assert times.acted and not times.rolled_back and times.recover is None
    durations = {r["key"]: r for r in build_report(events, incident, procedure)["durations"]}
    assert durations["rollback"]["seconds"] == 240
    assert durations["verify"]["at"] is None


async def test_an_option_whose_provider_is_not_configured_is_done_by_hand(
    tmp_path: Path,
) -> None:
    clock = FixedClock(START)
    procedure = load_builtin("pulse-messages")
    with Timeline(tmp_path / "t.db", clock=clock, actor="carol") as timeline:
        app = cockpit(timeline, clock, procedure, {})
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await open_option(app, pilot, "git-revert")
            head = shown(screen, "#manual-head")
            assert "The 'git' provider is not configured in this session" in head
            assert "git revert [commit-hash]" in shown(screen, "#manual-commands")
            await pilot.press("b")  # the start, before the first step is done
            await until(pilot, lambda: of(app, "action.intent"), "the start")
            clock.advance(30)
            await pilot.press("enter", "enter", "enter", "enter")  # the four steps, in order
            await until(pilot, lambda: len(of(app, "action.step")) == 4, "the steps")
            rows = screen.query_one("#manual-steps", OptionList)
            rows.highlighted = rows.get_option_index("choice-unverified")
            await pilot.press("enter", "enter")  # done, not verified; no note
            await until(pilot, lambda: screen.ended is not None, "the result")
        incident = timeline.incidents()[0]
        events = timeline.events(incident.id)
    intent = next(e for e in events if e.kind == "action.intent")
    result = next(e for e in events if e.kind == "action.result")
    assert intent.payload["action"] == "manual.revert" and intent.payload["provider"] == "git"
    assert result.payload["outcome"] == "succeeded" and result.payload["verified"] is False
    assert result.payload["note"] == ""
    reached = {r["key"]: r for r in build_report(events, incident, procedure)["durations"]}
    assert reached["start"]["seconds"] == 0 and reached["rollback"]["seconds"] == 30
    assert reached["verify"]["at"] is None, "not verified: the responder said so"


async def test_a_destructive_option_is_marked_done_only_with_its_name_typed(
    tmp_path: Path,
) -> None:
    clock = FixedClock(START)
    procedure = load_builtin("five-levels")
    assert procedure.option("full-system").destructive
    with Timeline(tmp_path / "t.db", clock=clock) as timeline:
        app = cockpit(timeline, clock, procedure, {})
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await open_option(app, pilot, "full-system")
            assert "DESTRUCTIVE" in shown(screen, "#manual-head")
            await pilot.press("enter", "enter", "enter")  # the three steps
            await until(pilot, lambda: len(of(app, "action.step")) == 3, "the steps")
            await pilot.press("enter", *"full", "enter")  # done and verified; a wrong name
            await until(pilot, lambda: of(app, "plan.refused"), "the refusal, recorded")
            assert screen.asking == "confirm" and not of(app, "action.result")
            await pilot.press(*"full-system", "enter")
            assert screen.asking == "note"
            await pilot.press("enter")
            await until(pilot, lambda: screen.ended is not None, "the result")
    assert screen.ended.outcome == "succeeded" and screen.ended.verified


async def test_a_manual_action_begun_earlier_is_found_again_with_its_steps(
    tmp_path: Path,
) -> None:
    """Leaving the screen (or the cockpit) leaves the action open: opening the option again
    goes on with the same action, its steps where they were; the App's own action screen
    (as the wizard opens it) gives way to the manual screen too."""
    from cockpit.screens.action import ActionScreen

    clock = FixedClock(START)
    procedure = load_builtin("pitchey")
    with Timeline(tmp_path / "t.db", clock=clock) as timeline:
        app = cockpit(timeline, clock, procedure, {})
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await open_option(app, pilot, "config")
            await pilot.press("enter")
            await until(pilot, lambda: of(app, "action.step"), "step 1")
            await pilot.press("escape", "escape")
            option = procedure.option("config")
            app.push_screen(
                ActionScreen(option.provider, option.action, dict(option.params), option=option.id)
            )
            await until(pilot, lambda: type(app.screen).__name__ == "ManualScreen", "manual")
            again = app.screen
            assert again is not screen
            await until(pilot, lambda: again.steps.next_open == 1, "step 1 found done")  # type: ignore[attr-defined]
            assert again.recorder.action_id == of(app, "action.intent")[0].payload["action_id"]  # type: ignore[attr-defined]
            await pilot.press("enter")  # step 2, within the same action
            await until(pilot, lambda: len(of(app, "action.step")) == 2, "step 2")
        assert len([e for e in timeline.events(1) if e.kind == "action.intent"]) == 1


async def test_the_runbooks_words_are_shown_as_they_are(tmp_path: Path) -> None:
    """Steps and commands are a procedure's text: markup and control characters show
    literally (widgets/plain.py), and a note typed with brackets is recorded as typed."""
    procedure = load_builtin("pitchey")
    hostile = procedure.option("config").model_copy(
        update={
            "steps": ["[/] stop [b]the app", "migrate \x1b[2J down"],
            "commands": ["echo [red]x[/red] [@click=app.quit]"],
        }
    )
    options = [hostile if o.id == "config" else o for o in procedure.options]
    procedure = procedure.model_copy(update={"options": options})
    clock = FixedClock(START)
    with Timeline(tmp_path / "t.db", clock=clock) as timeline:
        app = cockpit(timeline, clock, procedure, {})
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await open_option(app, pilot, "config")
            rows = screen.query_one("#manual-steps", OptionList)
            assert "[/] stop [b]the app" in str(rows.get_option_at_index(0).prompt)
            assert "^[[2J" in str(rows.get_option_at_index(1).prompt)
            commands = shown(screen, "#manual-commands")
            assert "echo [red]x[/red] [@click=app.quit]" in commands
            rows.highlighted = rows.get_option_index("choice-failed")
            await pilot.press("enter", *"[/]", "enter")
            await until(pilot, lambda: screen.ended is not None, "the result")
            assert app.is_running
        result = next(e for e in timeline.events(1) if e.kind == "action.result")
    assert result.payload["note"] == "[/]"
