"""Provides the dashboard: metric panes, trigger states, the timeline tail, the incident clock."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal
from textual.widgets import Static

from cockpit.core.timeline import Event
from cockpit.screens.base import CockpitScreen
from cockpit.screens.incident_bar import IncidentBar
from widgets.footer import KeyFooter
from widgets.metric_pane import MetricPane
from widgets.plain import plain
from widgets.timeline_log import TimelineLog
from widgets.trigger_list import TriggerList

PAINT_EVERY = 0.2
"""Seconds from a change of the board to its paint: the changes meanwhile (the other sources of
the same poll round, the clock's tick) show in that one paint."""


class DashboardScreen(CockpitScreen[None]):
    """The screen an on-call engineer lives on."""

    paint_pending = False
    banner_shown = ""
    """The banner text on screen, so an unchanged banner is not repainted."""

    def compose(self) -> ComposeResult:
        session = self.cockpit.session
        yield IncidentBar()
        yield Static("", id="next-step")  # what to do next, until the first key (guided mode)
        yield Static("", id="banner")
        with Grid(id="panes"):
            for name, spec in session.metric_titles().items():
                yield MetricPane(name, spec.title, id=f"pane-{name.replace('_', '-')}")
        with Horizontal(id="bottom"):
            yield TriggerList(session.trigger_titles(), id="triggers")
            yield TimelineLog(id="tail")
        yield KeyFooter()

    def on_mount(self) -> None:
        app = self.cockpit
        tail = self.query_one(TimelineLog)
        for event in app.events[-50:]:
            tail.add(event)
        # Immediate: the board changes thirteen times a second with twelve sources, and a
        # callback queued for each cost more than the paint itself; a change only arms it.
        app.board_changed.subscribe(self, self.refresh_board, immediate=True)
        app.event_recorded.subscribe(self, self.add_event)
        app.timeline_reloaded.subscribe(self, self.reloaded)
        self.paint_board()  # the first frame shows the board as it is

    def reloaded(self, _: None) -> None:
        """Read again (a team database back after an outage): the tail as it is there."""
        tail = self.query_one(TimelineLog)
        tail.lines.clear()
        for event in self.cockpit.events[-50:]:
            tail.add(event)

    def refresh_board(self, _: None) -> None:
        """Paint PAINT_EVERY seconds after the first change since the last paint.

        Twelve sources at 1 Hz answer within a few tens of milliseconds of each other: painting
        the first at once and the rest after repainted every pane twice a second (three frames
        with the clock's), each pane changing but once.
        """
        if not self.paint_pending:
            self.paint_pending = True
            self.set_timer(PAINT_EVERY, self.paint_board)

    def paint_board(self) -> None:
        """Push the board's current views down into the panes (attributes down)."""
        self.paint_pending = False
        app = self.cockpit
        self.query_one(IncidentBar).tick()
        self.show_next_step()
        if app.board is None:  # the rules' titles, from the file, until they are validated
            self.query_one(TriggerList).waiting(app.session.trigger_titles())
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

    hint_shown = ""
    hint_done = False
    """The first key put the hint away; `?` shows it again, on the help screen."""

    def show_next_step(self) -> None:
        """The guided mode's line: what to do next, from the incident's state, shown from the
        start until the responder presses a key."""
        if self.hint_done:
            return
        hint = f"Next: {self.cockpit.next_step(type(self).__name__)}"
        if hint != self.hint_shown:
            self.hint_shown = hint
            self.query_one("#next-step", Static).update(plain(hint, one_line=True))

    def on_key(self) -> None:
        if not self.hint_done:
            self.hint_done = True
            self.query_one("#next-step", Static).display = False

    def add_event(self, event: Event) -> None:
        """Append a recorded event to the tail."""
        self.query_one(TimelineLog).add(event)
