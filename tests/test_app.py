"""Pilot tests: every screen, notes and acknowledgement recorded, triggers fire from samples,
stale sources never look healthy, state rebuilt from the timeline, a held incident is told so."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from textual.widgets import DataTable, Static, TabbedContent

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.lock import Holder, IncidentLock
from cockpit.core.metrics import PaneState, Sample
from cockpit.core.procedure import Procedure
from cockpit.core.timeline import Timeline
from cockpit.messages import MetricsSampled, SourceFailed
from cockpit.screens.dashboard import DashboardScreen
from cockpit.screens.modals import HelpScreen, NoteScreen
from cockpit.screens.procedure import ProcedureScreen
from cockpit.screens.timeline import TimelineScreen
from cockpit.session import Session
from widgets.metric_pane import MetricPane

PAINT = 0.3
"""Long enough for the dashboard's trailing paint (PAINT_EVERY is 0.2 s)."""


def make_app(
    timeline: Timeline, procedure: Procedure, clock: FixedClock, **extra: object
) -> CockpitApp:
    incident = timeline.open_incident("Checkout errors after deploy", "P1", procedure.name)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=procedure,
        clock=clock,
        poll_interval=1.0,
        **extra,  # type: ignore[arg-type]
    )
    return CockpitApp(session, start_pollers=False)


async def until(pilot: Any, condition: Callable[[], bool], seconds: float = 10) -> None:
    """Pause until `condition` holds, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await pilot.pause(0.05)


def kinds(timeline: Timeline, incident: int) -> list[str]:
    return [event.kind for event in timeline.events(incident)]


async def test_every_screen_opens_from_its_key(timeline, pulse_procedure, clock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(timeline, pulse_procedure, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("p")
        assert isinstance(app.screen, ProcedureScreen)
        overview = app.screen.query_one("#text-overview", Static)
        assert pulse_procedure.title in overview.content.markup  # type: ignore[union-attr]
        await pilot.press("x")
        assert app.screen.query_one(TabbedContent).active == "tab-decision"
        decision = app.screen.query_one("#text-decision", Static)
        assert "Decision tree" in decision.content.markup  # type: ignore[union-attr]
        await pilot.press("t")
        assert isinstance(app.screen, TimelineScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count >= 2  # incident.opened, session.started
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("d")
        assert isinstance(app.screen, DashboardScreen)


async def test_note_and_acknowledge_land_in_the_timeline(timeline, pulse_procedure, clock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(timeline, pulse_procedure, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        incident = app.session.incident.id
        await pilot.press("n")
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"rolled back flags", "enter")
        await pilot.press("a", "b")  # a stray letter asks first; another letter says no
        await pilot.press("a", "enter")
        await until(pilot, lambda: app.session.incident.acknowledged_at is not None)
        await pilot.press("a")  # a second ack is refused, not recorded twice
        await pilot.press("q")
    events = timeline.events(incident)
    assert [e.summary for e in events if e.kind == "note"] == ["rolled back flags"]
    assert [e.kind for e in events].count("incident.acknowledged") == 1
    assert events[-1].kind == "session.ended"
    assert timeline.incident(incident).acknowledged_at is not None


async def test_samples_fill_panes_and_a_breach_run_fires_the_trigger(
    timeline, pulse_procedure, clock
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(timeline, pulse_procedure, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.screen.query_one("#pane-error-rate", MetricPane)
        for value in [0.4, 6.1, 7.3, 8.0, 8.8, 9.1]:
            clock.advance(1)
            app.post_message(
                MetricsSampled("demo", [Sample("error_rate", value, clock.now(), "demo")])
            )
            await pilot.pause()
        await pilot.pause(PAINT)  # bursts repaint at most every PAINT_EVERY seconds
        assert pane.view is not None and pane.view.value == 9.1
        assert pane.view.state is PaneState.BREACH
        assert pane.has_class("-breach")
        assert "9.10%  BREACH" in pane.reading()
        banner = app.screen.query_one("#banner")
        # pulse-messages opts in to an automatic rollback: its countdown, and the way to stop it,
        # come first; the decision is still a key away.
        expected = "AUTO ROLLBACK in 60 s · k cancels · w to decide · Error rate > 5% for 5 conse"
        assert banner.display and expected in str(banner.render())
    fired = [e for e in timeline.events(app.session.incident.id) if e.kind == "trigger.fired"]
    assert len(fired) == 1
    assert "5/5 consecutive" in fired[0].summary and fired[0].payload["value"] == 9.1


async def test_a_source_that_stops_answering_turns_stale_never_ok(
    timeline, pulse_procedure, clock
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(timeline, pulse_procedure, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.screen.query_one("#pane-p95-latency-ms", MetricPane)
        app.post_message(
            MetricsSampled("demo", [Sample("p95_latency_ms", 180, clock.now(), "demo")])
        )
        await pilot.pause(PAINT)
        assert pane.view is not None and pane.view.state is PaneState.OK
        clock.advance(2.5)  # more than two 1 s intervals without a sample
        app.tick()
        await pilot.pause(PAINT)
        assert pane.view.state is PaneState.STALE and pane.view.value is None
        app.post_message(
            SourceFailed("demo", ["p95_latency_ms"], "GET http://x/metrics: connection refused")
        )
        await pilot.pause(PAINT)
        assert pane.view.state is PaneState.NO_DATA
        assert "connection refused" in pane.view.detail
    assert "source.failed" in kinds(timeline, app.session.incident.id)


async def test_reopening_rebuilds_from_the_timeline(timeline, pulse_procedure, clock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(timeline, pulse_procedure, clock)
    async with app.run_test() as pilot:
        await pilot.press("n", *"first session note", "enter", "q")
    incident = timeline.incident(app.session.incident.id)
    intent = timeline.begin_action(
        incident.id, "flags.disable", "disable splitViewLayout", command="curl -X PATCH ..."
    )
    again = CockpitApp(
        Session(timeline=timeline, incident=incident, procedure=pulse_procedure, clock=clock),
        start_pollers=False,
    )
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        table = again.screen.query_one(DataTable)
        summaries = [str(table.get_row_at(i)[4]) for i in range(table.row_count)]
        assert "first session note" in summaries
        assert any("Outcome unknown" in str(n.message) for n in again._notifications)
    assert intent.payload["action_id"]


async def test_a_second_cockpit_responds_while_another_drives(
    timeline, pulse_procedure, clock
) -> None:  # type: ignore[no-untyped-def]
    """Another cockpit drives the incident: this one is told who, writes what its responder
    does, and leaves the automation (samples, triggers, paging) to the driver."""
    holder = Holder(
        pid=4242, host="jump-1", actor="alice via ssh 203.0.113.7", since="2026-01-15 03:01:00"
    )
    app = make_app(timeline, pulse_procedure, clock, held_by=holder)
    # The driver really holds the incident's lock (an flock on a descriptor of its own
    # conflicts within one process too): without it, the once-a-second tick may find the
    # incident free and take over mid-test.
    driver = IncidentLock(timeline.path, app.session.incident.id)
    driver.acquire()
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, DashboardScreen) and not app.driving
        told = " ".join(str(n.message) for n in app._notifications)
        assert "pid 4242" in told and "alice via ssh 203.0.113.7" in told
        await pilot.press("n", *"seen from the second cockpit", "enter")
        for _ in range(6):  # error rate > 5 % for 5 samples: the board fires here too...
            clock.advance(60)
            app.post_message(MetricsSampled("s", [Sample("error_rate", 9.0, clock.now(), "s")]))
            await pilot.pause()
        assert app.board is not None and app.board.firing()
        await until(pilot, lambda: "note" in kinds(timeline, app.session.incident.id))
    driver.release()
    recorded = kinds(timeline, app.session.incident.id)
    assert "session.started" in recorded
    assert "session.driving" not in recorded, "the driver is alive: no take-over"
    assert "trigger.fired" not in recorded, "...but the driver records it, not a responder"
    assert not timeline.samples(app.session.incident.id)


async def test_a_watcher_follows_live_and_writes_nothing(timeline, pulse_procedure, clock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(timeline, pulse_procedure, clock, watching=True)
    incident = app.session.incident.id
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", *"not recorded", "enter")
        timeline.record(incident, "note", "written by someone else")
        await until(pilot, lambda: any(e.summary == "written by someone else" for e in app.events))
    assert kinds(timeline, incident) == ["incident.opened", "note"]


async def test_incident_clock_counts_from_opening(timeline, pulse_procedure, clock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(timeline, pulse_procedure, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        clock.advance(timedelta(minutes=3, seconds=7).total_seconds())
        app.screen.query_one("#clock").tick()  # type: ignore[attr-defined]
        await pilot.pause()
        assert "T+03:07" in str(app.screen.query_one("#clock").render())


async def test_a_builtin_is_validated_after_the_first_paint(timeline, clock) -> None:  # type: ignore[no-untyped-def]
    from cockpit.core.outline import builtin_outline

    incident = timeline.open_incident("Checkout errors", "P1", "pulse-messages")
    outline = builtin_outline("pulse-messages")
    app = CockpitApp(
        Session(timeline=timeline, incident=incident, outline=outline, clock=clock),
        start_pollers=False,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        # the frame paints from the outline: one pane per metric, titles included
        assert app.screen.query_one("#pane-error-rate", MetricPane).border_title == "Error rate"
        # the worker starts after the first refresh, so wait for its outcome, not for workers
        await until(pilot, lambda: app.board is not None)
        await pilot.pause(PAINT)
        assert app.session.procedure is not None and app.board is not None
        assert list(app.session.procedure.metrics) == list(outline.metrics)
        triggers = str(app.screen.query_one("#triggers").render())
        assert "Error rate > 5% for 5 consecutive minutes" in triggers
        await pilot.press("p")
        assert isinstance(app.screen, ProcedureScreen)


async def test_a_procedure_that_fails_to_load_is_said_and_recorded(timeline, clock) -> None:  # type: ignore[no-untyped-def]
    from cockpit.core.outline import MetricTitle, Outline

    incident = timeline.open_incident("Checkout errors", "P1", "no-such-procedure")
    outline = Outline("no-such-procedure", "Gone", {"error_rate": MetricTitle("Error rate", "%")})
    app = CockpitApp(
        Session(timeline=timeline, incident=incident, outline=outline, clock=clock),
        start_pollers=False,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: any("no built-in" in str(n.message) for n in app._notifications))
        assert app.board is None
        assert any("no built-in procedure" in str(n.message) for n in app._notifications)
        app.clear_notifications()
        for key in "pwcrme":  # procedure, wizard, checklists, rollback, drafts, post-mortem
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, DashboardScreen), key  # nothing to show, and it says why
        said = [n for n in app._notifications if n.title == "The procedure did not load"]
        assert len(said) == 6 and all("no-such-procedure" in str(n.message) for n in said)
    failed = [e for e in timeline.events(incident.id) if e.kind == "procedure.failed"]
    assert failed and "no-such-procedure" in failed[0].summary


async def test_the_timeline_catches_up_with_what_came_while_it_was_hidden(
    timeline: Timeline, pulse_procedure: Procedure, clock: FixedClock
) -> None:
    """Rows are added only to a timeline on screen (each batch of rows re-renders the table);
    what another process wrote meanwhile is there the moment the timeline is shown again."""
    app = make_app(timeline, pulse_procedure, clock)
    incident = app.session.incident.id
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count >= 2)
        await pilot.press("d")
        other = Timeline(timeline.path, clock=clock, actor="bob")
        for n in range(5):
            other.record(incident, "note", f"from bob {n}")
        other.close()
        await until(pilot, lambda: any(e.summary == "from bob 4" for e in app.events))
        await pilot.pause()
        assert not any("from bob" in str(table.get_row_at(i)[4]) for i in range(table.row_count))
        await pilot.press("t")
        summaries = [str(table.get_row_at(i)[4]) for i in range(table.row_count)]
        assert summaries[-5:] == [f"from bob {n}" for n in range(5)]
        assert table.cursor_row == table.row_count - 1, "the newest in view"
