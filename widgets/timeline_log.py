"""Provides TimelineLog: a compact live tail of the incident's timeline for the dashboard."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import Static

from cockpit.core.timeline import Event


def event_line(event: Event) -> str:
    """'03:12:05 Error rate > 5% ...': time of day (UTC) and the event's summary."""
    return f"{event.ts[11:19]} {event.summary}"


class TimelineLog(Static):
    """The last few events, newest at the bottom."""

    DEFAULT_CSS = """
    TimelineLog { height: 1fr; }
    """

    def __init__(self, *, size: int = 50, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: deque[str] = deque(maxlen=size)

    def add(self, event: Event) -> None:
        """Append an event and repaint."""
        self.lines.append(event_line(event))
        visible = max(1, self.size.height or 1)
        self.update(
            Text("\n".join(list(self.lines)[-visible:]), no_wrap=True, overflow="ellipsis"),
            layout=False,  # it fills its region: new lines never change its size
        )

    def on_resize(self) -> None:
        visible = max(1, self.size.height)
        self.update(Text("\n".join(list(self.lines)[-visible:]), no_wrap=True, overflow="ellipsis"))
