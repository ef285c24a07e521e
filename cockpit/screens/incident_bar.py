"""Provides IncidentBar: the one header every full screen shows.

One line: the incident's id, severity and procedure first (they must survive 80 columns), then
its title, cut with an ellipsis; at the right "OFFLINE: journal" while a team database
cannot be reached (cockpit.journal_link), this cockpit's own role in the incident (lead,
responder, comms, observer or "no role": cockpit.core.roles; one short word, a read-only one
standing out), the escalation countdown ("→ CTO in 04:12") and the incident clock. It follows
the App's once-a-second tick and repaints only while its screen is the one shown, so the
screens behind it cost nothing and no screen adds a timer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.containers import Horizontal
from textual.widgets import Static

from cockpit.core.clock import parse_iso
from cockpit.core.roles import ASSIGNED, COMMUNICATIONS
from widgets.incident_clock import IncidentClock
from widgets.plain import plain

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.content import Content

    from cockpit.core.timeline import Event
    from cockpit.incident_app import IncidentApp


SHORT = {COMMUNICATIONS: "comms"}
"""A role's word in the top bar, where it is not the role's own name."""


class IncidentBar(Horizontal):
    """The incident, its escalation countdown and its clock, on one line."""

    def __init__(self) -> None:
        super().__init__(id="topbar")  # styled in cockpit.tcss, with its parts
        self.escalation_shown = ""

    @property
    def cockpit(self) -> IncidentApp:
        return cast("IncidentApp", self.app)

    def compose(self) -> ComposeResult:
        session = self.cockpit.session
        yield Static(self.title_text(), id="incident-title")
        yield Static(self.offline_text(), id="offline")
        yield Static(self.role_text(), id="role", classes=self.role_class())
        yield Static("", id="escalation")
        yield IncidentClock(session.clock, parse_iso(session.incident.opened_at), id="clock")

    def on_mount(self) -> None:
        self.cockpit.event_recorded.subscribe(self, self.event_recorded)
        self.cockpit.connection_changed.subscribe(self, self.connection_changed)
        # The App's once-a-second tick: no timer per screen. Immediate, as a queued callback
        # for each screen's bar cost more than the early return of the bars not shown.
        self.cockpit.second_ticked.subscribe(self, self.second_ticked, immediate=True)
        self.tick()

    def second_ticked(self, _: None) -> None:
        self.tick()

    def tick(self) -> None:
        """The clock and the countdown, while this bar's screen is shown."""
        if not self.screen.is_current:
            return
        clock = self.query_one(IncidentClock)
        clock.scale = self.cockpit.state.time_scale
        clock.tick()
        escalation = self.cockpit.next_escalation()
        if escalation != self.escalation_shown:
            self.escalation_shown = escalation
            self.query_one("#escalation", Static).update(plain(escalation, one_line=True))

    def event_recorded(self, event: Event) -> None:
        """A changed severity, title or role shows at once."""
        if event.kind.startswith("incident."):
            self.query_one("#incident-title", Static).update(self.title_text())
        elif event.kind == ASSIGNED:
            role = self.query_one("#role", Static)
            role.update(self.role_text())
            role.set_classes(self.role_class())

    def connection_changed(self, _: None) -> None:
        self.query_one("#offline", Static).update(self.offline_text())

    def offline_text(self) -> Content:
        """'OFFLINE: journal' while the team database cannot be reached: on every screen,
        so nobody believes the team sees what they record."""
        return plain(" OFFLINE: journal" if self.cockpit.offline else "", one_line=True)

    def role_text(self) -> Content:
        """'lead', 'responder', 'comms', 'observer', 'no role', or 'watching' (--watch): one
        short word, since at 80 columns with a countdown every column of it is the title's."""
        if self.cockpit.session.watching:
            return plain("watching", one_line=True)
        role = self.cockpit.role
        return plain(SHORT.get(role, role) if role else "no role", one_line=True)

    def role_class(self) -> str:
        """A read-only cockpit's role stands out (cockpit.tcss)."""
        return "read-only" if self.cockpit.read_only else ""

    def title_text(self) -> Content:
        """'#12 · P0 · pulse-messages · Checkout errors': what must survive 80 columns first."""
        session = self.cockpit.session
        incident = session.incident
        return plain(
            f"#{incident.id} · {incident.severity} · {session.procedure_name} · {incident.title}",
            one_line=True,
        )
