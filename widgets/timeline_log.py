"""Provides TimelineLog: a compact live tail of the incident's timeline for the dashboard."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import Static

from cockpit.core.timeline import Event
from widgets.plain import plain_text, visible


def event_line(event: Event) -> str:
    """'03:12:05 Error rate > 5% ...': time of day (UTC) and the event's summary, on one line
    with its control characters visible (a summary holds a platform's or a person's words)."""
    return visible(f"{event.ts[11:19]} {event.summary}", one_line=True)


class TimelineLog(Static):
    """The last few events, newest at the bottom."""

    DEFAULT_CSS = """
    TimelineLog { height: 1fr; }
    """

    def __init__(self, *, size: int = 50, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: deque[str] = deque(maxlen=size)

    repaint_due = False

    def add(self, event: Event) -> None:
        """Append an event; repainted once at the next refresh, however many came meanwhile."""
        self.lines.append(event_line(event))
        if not self.repaint_due:
            self.repaint_due = True
            self.call_after_refresh(self.repaint)

    def repaint(self) -> None:
        """Show the newest lines (it fills its region: new lines never change its size)."""
        self.repaint_due = False
        self.update(self.tail(), layout=False)

    def on_resize(self) -> None:
        self.update(self.tail())

    def tail(self) -> Text:
        """The lines that fit, newest at the bottom (each already one visible line)."""
        shown = max(1, self.size.height or 1)
        return plain_text("\n".join(list(self.lines)[-shown:]), no_wrap=True, overflow="ellipsis")
