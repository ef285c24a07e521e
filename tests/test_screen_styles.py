"""A screen shown the first time is not restyled with the whole App (cockpit/screens/base.py).

Textual took a new screen for one styled under an older theme: the first switches to a new
mode parsed the whole stylesheet again and restyled every widget, 50-130 ms of a key (make
bench: first visits). A theme changed while a screen is away must still reach it.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widgets import DataTable

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.procedure import Procedure
from cockpit.core.timeline import Timeline
from cockpit.session import Session


def make_app(timeline: Timeline, procedure: Procedure, clock: FixedClock) -> CockpitApp:
    incident = timeline.open_incident("Checkout errors after deploy", "P1", procedure.name)
    session = Session(
        timeline=timeline, incident=incident, procedure=procedure, clock=clock, poll_interval=1.0
    )
    return CockpitApp(session, start_pollers=False)


def count_restyles(monkeypatch: Any) -> list[str]:
    """Each full restyle of the App (the stylesheet parsed again), by the screen it was for."""
    seen: list[str] = []
    restyle = App.refresh_css

    def counted(self: App[Any], animate: bool = True) -> None:
        seen.append(type(self.screen).__name__)
        restyle(self, animate)

    monkeypatch.setattr(App, "refresh_css", counted)
    return seen


async def test_screens_shown_the_first_time_are_not_restyled_with_the_app(
    timeline: Timeline, pulse_procedure: Procedure, clock: FixedClock, monkeypatch: Any
) -> None:
    app = make_app(timeline, pulse_procedure, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        restyles = count_restyles(monkeypatch)
        for key in "tdpdtpd":
            await pilot.press(key)
            await pilot.pause()
        for key in "wcm":  # pushed screens, then a mode switch from under one
            await pilot.press(key, "escape")
        await pilot.press("t", "d")
        assert restyles == []


async def test_a_theme_changed_while_a_screen_is_away_reaches_it(
    timeline: Timeline, pulse_procedure: Procedure, clock: FixedClock
) -> None:
    app = make_app(timeline, pulse_procedure, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        before = app.screen.query_one(DataTable).styles.background
        await pilot.press("d")
        app.theme = "textual-light" if app.current_theme.dark else "textual-dark"
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert app.screen.query_one(DataTable).styles.background != before


async def test_a_screen_built_before_is_shown_without_the_switch_delay(
    timeline: Timeline, pulse_procedure: Procedure, clock: FixedClock, monkeypatch: Any
) -> None:
    """Textual holds paints 50 ms on every switch of modes, to hide a screen being built: a
    screen built before is shown at once; a new one still gets the delay."""
    app = make_app(timeline, pulse_procedure, clock)
    delays: list[str] = []
    delay = App.delay_update

    def counted(self: App[Any], delay_s: float = 0.05) -> None:
        delays.append(str(self.current_mode))
        delay(self, delay_s)

    monkeypatch.setattr(App, "delay_update", counted)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")  # built now: delayed
        await pilot.pause()
        await pilot.press("d", "t", "d")  # built before: at once
        await pilot.pause()
        assert delays == ["dashboard"]
        assert app.current_mode == "dashboard" and app._batch_count == 0
