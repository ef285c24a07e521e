"""Provides IncidentClock: time since the incident opened and the time now, both in UTC."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Static

from cockpit.core.clock import Clock
from widgets.plain import plain


def elapsed(seconds: float) -> str:
    """'1:02:03' or '12:03'."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class IncidentClock(Static):
    """Ticks once a second from the injected clock, so snapshots can freeze it."""

    DEFAULT_CSS = """
    IncidentClock { width: auto; }
    """

    def __init__(self, clock: Clock, opened_at: datetime, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.opened_at = opened_at
        self.shown = ""
        self.scale = 1.0
        """Drill seconds per wall second: a compressed drill shows its own clock, and says so."""

    def on_mount(self) -> None:
        self.tick()  # then ticked by its owner (the incident bar), not a timer of its own

    def tick(self) -> None:
        """Repaint from the clock (only on the screen shown: every screen has a clock, and the
        hidden ones catch up within a second of being shown)."""
        if not self.screen.is_current:
            return
        now = self.clock.now()
        if self.scale != 1.0:
            since = elapsed((now - self.opened_at).total_seconds() * self.scale)
            text = f"T+{since}  ×{self.scale:g} drill clock"
        else:
            since = elapsed((now - self.opened_at).total_seconds())
            text = f"T+{since}  {now:%H:%M:%S} UTC"
        if text != self.shown:
            # The width changes only when the hours appear; then the layout must follow.
            self.update(plain(text), layout=len(text) != len(self.shown))
            self.shown = text
