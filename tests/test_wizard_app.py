"""The wizard in the app: every leaf of every built-in tree by keys, evidence, resume."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import TabbedContent

from cockpit.app import CockpitApp
from cockpit.core.checklist_state import list_after_decision
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.procedure_loader import builtin_names, load_builtin
from cockpit.core.timeline import Timeline
from cockpit.core.wizard import severity_label, walks
from cockpit.messages import MetricsSampled
from cockpit.screens.checklists import ChecklistsScreen
from cockpit.screens.dashboard import DashboardScreen
from cockpit.session import Session
from tests.pilot_wait import until


def step_text(step: Any) -> str:
    """The wizard's step as plain text (a Group of Rich Texts)."""
    return "\n".join(text.plain for text in step.content.renderables)


def app_for(
    timeline: Timeline, clock: FixedClock, name: str, incident: int | None = None
) -> CockpitApp:
    procedure = load_builtin(name)
    chosen = timeline.incident(incident) if incident else timeline.open_incident("x", "P1", name)
    return CockpitApp(
        Session(timeline=timeline, incident=chosen, procedure=procedure, clock=clock),
        start_pollers=False,
    )


@pytest.mark.parametrize("name", builtin_names())
async def test_every_leaf_is_reached_by_keys_and_the_decision_recorded(
    timeline: Timeline, clock: FixedClock, name: str
) -> None:
    app = app_for(timeline, clock, name)
    routes = list(walks(app.session.procedure))  # type: ignore[arg-type]
    async with app.run_test(size=(100, 40)) as pilot:
        for route in routes:
            await pilot.press("w")
            assert type(app.screen).__name__ == "WizardScreen"
            await pilot.press(*[key for _, key in route])  # 'n' answers, it does not open a note
            await pilot.press("enter")  # records the decision and opens what follows it
            screen = app.screen
            assert isinstance(screen, ChecklistsScreen)
            expected = list_after_decision(list(app.session.procedure.checklists))  # type: ignore[union-attr]
            assert screen.query_one(TabbedContent).active == f"list-{expected}"
            await pilot.press("escape")
            assert isinstance(app.screen, DashboardScreen)
    events = timeline.events(app.session.incident.id)
    decided = [e for e in events if e.kind == "wizard.decided"]
    assert len(decided) == len(routes)
    leaves = set()
    for route, event in zip(routes, decided, strict=True):
        answers = event.payload["answers"]
        assert [(a["node"], a["key"]) for a in answers] == route
        leaves.add(event.payload["node"])
    assert "note" not in {e.kind for e in events}
    assert len([e for e in events if e.kind == "wizard.answered"]) == sum(map(len, routes))
    # Each outcome's severity is applied to the incident, as it is decided.
    procedure = app.session.procedure
    assert procedure is not None
    expected, current = [], "P1"
    for event in decided:
        node = procedure.tree.nodes[event.payload["node"]]
        assert event.payload["severity"] == getattr(node, "severity", None)
        if node.severity is not None:  # type: ignore[union-attr]
            label = severity_label(procedure.severity(node.severity))  # type: ignore[union-attr]
            if label != current:
                expected.append(label)
                current = label
    changed = [e.payload["to"] for e in events if e.kind == "incident.severity_changed"]
    assert changed == expected and expected, "at least one outcome changes the severity"
    assert timeline.incident(app.session.incident.id).severity == current


async def test_evidence_is_suggested_and_enter_accepts_it(
    timeline: Timeline, clock: FixedClock
) -> None:
    app = app_for(timeline, clock, "ai-saas")
    async with app.run_test(size=(100, 40)) as pilot:
        for _ in range(6):
            clock.advance(60)
            app.post_message(MetricsSampled("s", [Sample("error_rate", 9.0, clock.now(), "s")]))
            await pilot.pause()
        await pilot.press("w")
        screen = app.screen
        for _ in range(6):  # accept the evidence wherever it speaks, else take the first answer
            wizard = screen.wizard  # type: ignore[attr-defined]
            if wizard.done:
                break
            if screen.suggestion is not None:  # type: ignore[attr-defined]
                await pilot.press("enter")
            else:
                await pilot.press(wizard.question.answers[0].key)
        evidence = [line.plain for line in screen.evidence()]  # type: ignore[attr-defined]
    answered = [e for e in timeline.events(app.session.incident.id) if e.kind == "wizard.answered"]
    suggested = [e for e in answered if e.payload["suggested"]]
    assert suggested, "a question linked to error_rate was answered from the evidence"
    assert all(e.payload["key"] == e.payload["suggested"] for e in suggested)
    assert "error_rate is 9" in suggested[0].payload["reason"]
    assert evidence[0].strip() == "Live evidence:"
    firing = [line for line in evidence if line.strip().startswith("FIRING")]
    assert firing and "error_rate 9% breaches > 5%; 6/6 consecutive" in firing[0]  # with its why


async def test_leaving_mid_walk_resumes_at_the_same_step_even_in_a_new_process(
    timeline: Timeline, clock: FixedClock
) -> None:
    app = app_for(timeline, clock, "huntaze")
    route = next(r for r in walks(app.session.procedure) if len(r) >= 2)  # type: ignore[arg-type]
    assert len(route) >= 2
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("w", route[0][1], "escape", "w")
        assert app.screen.wizard.current == route[1][0]  # type: ignore[attr-defined]
        await pilot.press("backspace")
        assert app.screen.wizard.current == route[0][0]  # type: ignore[attr-defined]
        await pilot.press(route[0][1], "escape")
    again = app_for(timeline, clock, "huntaze", incident=app.session.incident.id)
    async with again.run_test(size=(100, 40)) as pilot:
        await pilot.press("w")
        assert again.screen.wizard.current == route[1][0]  # type: ignore[attr-defined]


async def test_the_outcome_s_severity_shows_in_the_top_bar_and_the_drafts(
    timeline: Timeline, clock: FixedClock
) -> None:
    app = app_for(timeline, clock, "ai-saas")
    async with app.run_test(size=(120, 40)) as pilot:
        title = app.screen.query_one("#incident-title")
        assert "· P1 ·" in str(title.render())
        await pilot.press("w", "y", "c", "enter")  # degraded, critical: roll back immediately
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        await until(pilot, lambda: app.state.incident.severity == "Critical", "applied")
        await pilot.pause()
        assert "· Critical ·" in str(title.render())
        assert app.session.incident.severity == "Critical"


async def test_the_runbook_s_ten_minutes_of_monitoring_are_counted_down(
    timeline: Timeline, clock: FixedClock
) -> None:
    """ai-saas, Warning: monitor for 10 minutes (a countdown with the error rate on screen),
    then "can we hotfix quickly?", then "getting worse?", in the runbook's order."""
    app = app_for(timeline, clock, "ai-saas")
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(MetricsSampled("s", [Sample("error_rate", 3.2, clock.now(), "s")]))
        await pilot.press("w", "y", "w")  # degraded; warning
        screen = app.screen
        step = screen.query_one("#wizard-step")

        def shown() -> str:
            screen.show_step(None)  # type: ignore[attr-defined]
            return step_text(step)

        await until(pilot, lambda: app.state.walk_moved_at is not None, "the answers read back")
        await until(pilot, lambda: len(app.state.wizard.path) == 2, "both answers")  # type: ignore[union-attr]
        assert "Can we hotfix quickly? (<30 min)" in shown()
        assert "Monitor for 10 minutes: 10:00 left · Error rate (HTTP 500) 3.20%" in shown()
        clock.advance(180)
        assert "07:00 left" in shown()
        await pilot.press("y")  # a hotfix within 30 minutes, answered after 3 minutes
        assert "Getting worse?" in shown()
        clock.advance(60)
        await pilot.press("n")
        assert screen.wizard.done  # type: ignore[attr-defined]
        assert "Deploy hotfix" in shown()
    answered = [e for e in timeline.events(1) if e.kind == "wizard.answered"]
    hotfix = next(e for e in answered if e.payload["node"] == "hotfix-quickly")
    assert hotfix.payload["watched_seconds"] == 180
    assert "(after 3 of 10 minutes' watch)" in hotfix.summary


async def test_a_watch_that_ran_its_time_says_answer_now(
    timeline: Timeline, clock: FixedClock
) -> None:
    app = app_for(timeline, clock, "ai-saas")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w", "y", "w")
        await until(pilot, lambda: len(app.state.wizard.path) == 2, "both answers")  # type: ignore[union-attr]
        clock.advance(11 * 60)
        app.screen.show_step(None)  # type: ignore[attr-defined]
        shown = step_text(app.screen.query_one("#wizard-step"))
        assert "Monitored for 10 minutes: answer now" in shown
        await pilot.press("n")
    answered = [e for e in timeline.events(1) if e.kind == "wizard.answered"]
    assert answered[-1].payload["watched_seconds"] == 660
    assert "watch)" not in answered[-1].summary


async def test_enter_is_offered_only_where_the_evidence_suggests_an_answer(
    timeline: Timeline, clock: FixedClock
) -> None:
    """Issue 16: the key line offered "Accept suggestion" on a question with no suggestion,
    and Enter then did nothing. Now Enter's hint follows what Enter does at that step, and
    Enter without a suggestion says which keys answer."""
    from widgets.footer import KeyFooter

    app = app_for(timeline, clock, "ai-saas")
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(MetricsSampled("s", [Sample("error_rate", 9.0, clock.now(), "s")]))
        await pilot.pause()
        await pilot.press("w")
        screen = app.screen

        def keys() -> str:
            return screen.query_one(KeyFooter).render().plain  # type: ignore[union-attr]

        await until(pilot, lambda: screen.suggestion is not None, "the evidence's answer")  # type: ignore[attr-defined]
        assert "Accept suggestion" in keys()
        assert "Back" not in keys(), "nothing to go back to at the first question"
        await pilot.press("enter")  # degraded: the evidence says yes
        await pilot.press("w")  # how severe: Warning, against the evidence
        await until(pilot, lambda: screen.wizard.current == "hotfix-quickly", "no evidence")  # type: ignore[attr-defined]
        await pilot.pause()
        assert "Accept suggestion" not in keys()
        assert "Decide and roll back" not in keys() and "Record decision" not in keys()
        assert "Back" in keys()
        answered = len([e for e in app.state.events if e.kind == "wizard.answered"])
        await pilot.press("enter")
        await pilot.pause()
        told = [str(n.message) for n in app._notifications]
        assert "No suggestion here: press an answer's key (y/n)" in told
        assert screen.wizard.current == "hotfix-quickly"  # type: ignore[attr-defined]
        await pilot.press("n")  # no hotfix: roll back
        await until(pilot, lambda: screen.wizard.done, "the recommendation")  # type: ignore[attr-defined]
        await pilot.pause()
        assert "Record decision" in keys() and "Decide and roll back" in keys()
        assert "Accept suggestion" not in keys()
    events = timeline.events(app.session.incident.id)
    assert len([e for e in events if e.kind == "wizard.answered"]) == answered + 1
