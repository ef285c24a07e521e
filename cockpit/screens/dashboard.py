"""Provides the dashboard: metric panes, trigger states, the timeline tail, the incident clock."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal
from textual.content import Content
from textual.widgets import Static

from cockpit.core.clock import parse_iso
from cockpit.core.timeline import Event
from cockpit.screens.base import CockpitScreen
from widgets.footer import KeyFooter
from widgets.incident_clock import IncidentClock
from widgets.metric_pane import MetricPane
from widgets.plain import plain
from widgets.timeline_log import TimelineLog
from widgets.trigger_list import TriggerList

PAINT_EVERY = 0.2
"""Seconds between two paints of the board at most (a trailing paint shows the last sample)."""


class DashboardScreen(CockpitScreen[None]):
    """The screen an on-call engineer lives on."""

    painted_at = 0.0
    paint_pending = False
    banner_shown = ""
    escalation_shown = ""
    """The banner text on screen, so an unchanged banner is not repainted."""

    def compose(self) -> ComposeResult:
        session = self.cockpit.session
        incident = session.incident
        with Horizontal(id="topbar"):
            yield Static(self.title_text(), id="incident-title")
            yield Static("", id="escalation")
            yield IncidentClock(session.clock, parse_iso(incident.opened_at), id="clock")
        yield Static("", id="banner")
        with Grid(id="panes"):
            for name, spec in session.metric_titles().items():
                yield MetricPane(name, spec.title, id=f"pane-{name.replace('_', '-')}")
        with Horizontal(id="bottom"):
            yield TriggerList(id="triggers")
            yield TimelineLog(id="tail")
        yield KeyFooter()

    def on_mount(self) -> None:
        app = self.cockpit
        tail = self.query_one(TimelineLog)
        for event in app.events[-50:]:
            tail.add(event)
        app.board_changed.subscribe(self, self.refresh_board)
        app.event_recorded.subscribe(self, self.add_event)
        self.refresh_board(None)

    def refresh_board(self, _: None) -> None:
        """Repaint now, or at most PAINT_EVERY seconds after the last paint.

        Twelve sources at 1 Hz would otherwise repaint the board twelve times a second, on a
        jump host's CPU; a trailing paint makes sure the last sample always shows.
        """
        wait = self.painted_at + PAINT_EVERY - time.monotonic()
        if wait <= 0:
            self.paint_board()
        elif not self.paint_pending:
            self.paint_pending = True
            self.set_timer(wait, self.paint_board)

    def paint_board(self) -> None:
        """Push the board's current views down into the panes (attributes down)."""
        self.paint_pending = False
        self.painted_at = time.monotonic()
        app = self.cockpit
        self.query_one(IncidentClock).tick()
        escalation = app.next_escalation()
        if escalation != self.escalation_shown:
            self.escalation_shown = escalation
            self.query_one("#escalation", Static).update(plain(escalation, one_line=True))
        if app.board is None:
            self.query_one(TriggerList).update("Loading the procedure's trigger rules…")
            return
        now = app.session.clock.now()
        for view in app.board.views(now):
            self.query_one(f"#pane-{view.metric.replace('_', '-')}", MetricPane).view = view
        self.query_one(TriggerList).show(app.board.verdicts())
        banner = self.query_one("#banner", Static)
        text = app.banner_text()
        if text != self.banner_shown:
            self.banner_shown = text
            # One line, fixed height; "[3/5]" is the rule's counter, not markup.
            banner.update(plain(text, one_line=True), layout=False)
            if banner.display != bool(text):
                banner.display = bool(text)  # showing or hiding it is the only layout change

    def title_text(self) -> Content:
        """#12 Checkout errors · P0 · pulse-messages: the incident as the timeline says."""
        session = self.cockpit.session
        incident = session.incident
        return plain(
            f"#{incident.id} {incident.title} · {incident.severity} · {session.procedure_name}",
            one_line=True,
        )

    def add_event(self, event: Event) -> None:
        """Append a recorded event to the tail; a changed severity shows in the top bar."""
        self.query_one(TimelineLog).add(event)
        if event.kind.startswith("incident."):
            self.query_one("#incident-title", Static).update(self.title_text())
