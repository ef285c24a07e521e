"""Checklists in the app: tick, untick, skip with a reason, automatic items, resume."""

from __future__ import annotations

from textual.widgets import OptionList

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.messages import MetricsSampled
from cockpit.session import Session
from tests.pilot_wait import until


def app_for(
    timeline: Timeline, clock: FixedClock, name: str, incident: int | None = None
) -> CockpitApp:
    chosen = timeline.incident(incident) if incident else timeline.open_incident("x", "P1", name)
    return CockpitApp(
        Session(timeline=timeline, incident=chosen, procedure=load_builtin(name), clock=clock),
        start_pollers=False,
    )


def kinds(timeline: Timeline, incident: int) -> list[str]:
    return [e.kind for e in timeline.events(incident) if e.kind.startswith("checklist.")]


async def test_tick_untick_skip_and_resume(timeline: Timeline, clock: FixedClock) -> None:
    app = app_for(timeline, clock, "pulse-messages")
    first_list = next(iter(app.session.procedure.checklists))  # type: ignore[union-attr]
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        assert type(app.screen).__name__ == "ChecklistsScreen"
        await pilot.press("space")  # tick the first item
        await pilot.press("down", "s", *"no staging here", "enter")  # skip the second
        await pilot.press("down", "space", "space")  # tick and untick the third
        items = app.screen.query_one(f"#items-{first_list}", OptionList)
        assert str(items.get_option_at_index(0).prompt).startswith("[x]")
        assert str(items.get_option_at_index(1).prompt).startswith("[-]")
        assert "no staging here" in str(items.get_option_at_index(1).prompt)
        assert str(items.get_option_at_index(2).prompt).startswith("[ ]")
    incident = app.session.incident.id
    assert kinds(timeline, incident) == [
        "checklist.ticked",
        "checklist.skipped",
        "checklist.ticked",
        "checklist.unticked",
    ]
    progress = app.checklists.progress(first_list)  # type: ignore[union-attr]
    assert (progress.done, progress.skipped) == (1, 1)

    again = app_for(timeline, clock, "pulse-messages", incident=incident)
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        items = again.screen.query_one(f"#items-{first_list}", OptionList)
        assert str(items.get_option_at_index(0).prompt).startswith("[x]")
        assert str(items.get_option_at_index(1).prompt).startswith("[-]")


async def test_automatic_items_tick_themselves_only_when_earned(
    timeline: Timeline, clock: FixedClock
) -> None:
    app = app_for(timeline, clock, "huntaze")
    async with app.run_test(size=(100, 30)) as pilot:
        for value in [0.2] * 6:  # healthy before any decision: verifies nothing
            clock.advance(60)
            app.post_message(MetricsSampled("s", [Sample("error_rate", value, clock.now(), "s")]))
            await pilot.pause()
        assert "checklist.auto_ticked" not in kinds(timeline, app.session.incident.id)
        clock.advance(1)
        app.record("wizard.decided", "Decided: roll back", {})
        for value in [0.2] * 6:  # healthy after the decision, before any rollback: nothing
            clock.advance(60)
            app.post_message(MetricsSampled("s", [Sample("error_rate", value, clock.now(), "s")]))
            await pilot.pause()
        assert "checklist.auto_ticked" not in kinds(timeline, app.session.incident.id)
        incident = app.session.incident.id
        begun = timeline.begin_action(
            incident, "vercel.instant_rollback", "Roll back", {}, command="vercel rollback"
        )
        timeline.finish_action(incident, begun.payload["action_id"], "succeeded", "Done", {})
        await until(pilot, lambda: app.state.rolled_back_at is not None, "the rollback seen")
        for value in [6.0, 0.4, 0.3, 0.5, 0.4]:  # four healthy readings: not yet five
            clock.advance(60)
            app.post_message(MetricsSampled("s", [Sample("error_rate", value, clock.now(), "s")]))
            await pilot.pause()
        assert "checklist.auto_ticked" not in kinds(timeline, app.session.incident.id)
        clock.advance(60)
        app.post_message(MetricsSampled("s", [Sample("error_rate", 0.4, clock.now(), "s")]))
        await pilot.pause()
    auto = [
        e for e in timeline.events(app.session.incident.id) if e.kind == "checklist.auto_ticked"
    ]
    assert (
        auto
        and "error_rate < 1 for the last 5 samples (0.4, 0.3, 0.5, 0.4, 0.4)" in auto[0].summary
    )
