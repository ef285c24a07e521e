"""Provides the timeline screen: every event of the incident, live."""

from __future__ import annotations

import bisect
import json

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import DataTable, Static

from cockpit.core.timeline import Event
from cockpit.screens.base import CockpitScreen
from cockpit.screens.incident_bar import IncidentBar
from widgets.footer import KeyFooter
from widgets.plain import plain, plain_text, visible


class EventTable(DataTable[Text]):
    """A DataTable that only ever grows at the end: appending rows keeps what it rendered.

    DataTable counts every added row as a change to every cell (its render caches are keyed
    by an update count), so each batch from the change feed re-rendered every visible cell,
    ~30 ms a frame, and keys waited behind it. Rows appended after the last one change no
    existing cell; only if a column must widen is everything rendered again.

    Likewise for styles: Textual re-applies the stylesheet each time a screen is shown again,
    and DataTable dropped every cached cell then, so each switch to the timeline rendered every
    visible cell (20-50 ms with another cockpit writing). The caches go only when what the
    table looks like changed (its style, a component's, as a theme or focus changes them).
    """

    _look: tuple[Style, ...] | None = None

    def notify_style_update(self) -> None:
        Widget.notify_style_update(self)  # the widget's own style caches, always
        try:
            look: tuple[Style, ...] | None = (
                self.rich_style,
                *(self.get_component_rich_style(name) for name in sorted(self.COMPONENT_CLASSES)),
            )
        except KeyError:  # styled before its component styles exist (while it is mounted)
            look = None
        if look is None or look != self._look:
            self._look = look
            super().notify_style_update()
        else:
            self.refresh()

    def on_resize(self) -> None:
        self.fit_summary()

    def fit_summary(self) -> None:
        """The summary column takes the width the others leave, and a longer summary ends in
        an ellipsis (cut by the screen's edge, it just stopped); the highlighted row's whole
        summary shows below the table."""
        columns = self.ordered_columns
        if len(columns) < 2 or not self.size.width:
            return
        summary = columns[-1]
        others = sum(column.get_render_width(self) for column in columns[:-1])
        width = max(20, self.scrollable_content_region.width - others - 2 * self.cell_padding)
        if summary.auto_width or summary.width != width:
            summary.auto_width = False
            summary.width = width
            self._require_update_dimensions = True
            self._update_count += 1  # every cell of that column renders at its new width
            self.refresh()

    def append_events(self, events: list[Event]) -> None:
        """Add a row per event at the end, keeping the rendered cells when no column widens."""
        count = self._update_count
        widths = [c.content_width for c in self.ordered_columns if c.auto_width]
        for event in events:
            self.add_row(
                plain_text(event.id),
                plain_text(event.ts[:23].replace("T", " ")),
                plain_text(event.kind, one_line=True),
                plain_text(event.actor, one_line=True),
                plain_text(event.summary, one_line=True, no_wrap=True, overflow="ellipsis"),
                key=str(event.id),
            )
        self._update_dimensions(self._new_rows)  # widths now, not on idle
        self._new_rows.clear()
        self._require_update_dimensions = False
        if [c.content_width for c in self.ordered_columns if c.auto_width] == widths:
            self._update_count = count
            self._offset_cache.clear()  # the one cache that lists every row
        else:
            self._update_count += 1
            self.fit_summary()  # a wider time, kind or actor leaves the summary less
        self.refresh()


class TimelineScreen(CockpitScreen[None]):
    """A table of events (UTC); the highlighted row's payload and command show below.

    Summaries, actors, payloads and commands come from platforms and people: plain text only
    (one line in a cell and in each line of the detail), so "[/]" in a payload is shown, never
    parsed as markup.
    """

    def compose(self) -> ComposeResult:
        yield IncidentBar()
        table = EventTable(id="events", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="event-detail")
        yield KeyFooter()

    pending: list[Event] | None = None
    """Events read back since the last paint, added in one go (a second writer can commit
    thousands between two paints: row by row, with the cursor moved each time, the screen
    froze for seconds)."""

    def on_mount(self) -> None:
        app = self.cockpit
        table = self.query_one(DataTable)
        table.add_columns("#", "time (UTC)", "kind", "actor", "summary")
        self.add_events(app.events)
        app.event_recorded.subscribe(self, self.add_event)
        app.timeline_reloaded.subscribe(self, self.reloaded)

    def reloaded(self, _: None) -> None:
        """Read again (a team database back after an outage): every row as it is there, the
        others' events of the outage in their place and the replayed ones with their ids."""
        self.pending = None
        self.query_one(EventTable).clear()
        self.add_events(self.cockpit.events)

    def add_event(self, event: Event) -> None:
        """Queue one row; the queue is added at the next paint, with the newest in view (or,
        while another screen is shown, when this one comes back)."""
        if self.pending is None:
            self.pending = []
            if self.is_current:
                self.call_after_refresh(self.flush)
        self.pending.append(event)

    def on_screen_resume(self) -> None:
        # What came while another screen was shown goes in before this one is painted.
        self.flush()

    def flush(self) -> None:
        """Add the queued rows."""
        events, self.pending = self.pending or [], None
        self.add_events(events)

    def add_events(self, events: list[Event]) -> None:
        """Append rows and move the cursor once, to the newest."""
        if not events:
            return
        table = self.query_one(EventTable)
        table.append_events(events)
        table.move_cursor(row=table.row_count - 1)

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        app = self.cockpit
        key = message.row_key.value
        # Events are in id order: found by bisection, not by walking a 100,000-event list.
        wanted = int(key) if key and key.isdigit() else -1
        at = bisect.bisect_left(app.events, wanted, key=lambda e: e.id)
        event = app.events[at] if at < len(app.events) and app.events[at].id == wanted else None
        detail = self.query_one("#event-detail", Static)
        if event is None:
            detail.update("", layout=False)
            return
        lines = [f"{event.ts}  {event.kind}  by {event.actor}", event.summary]
        if event.command:
            lines.append(f"$ {event.command}")
        if event.payload:
            lines.append(json.dumps(event.payload, sort_keys=True, ensure_ascii=False)[:400])
        # One line each (a line break shows as a mark), so a summary of many lines cannot push
        # the command and the payload out of the detail's few rows.
        # A fixed height: a detail that grew or shrank resized the table, which then rendered
        # every row again (keys waited behind it while another cockpit wrote).
        shown = plain("\n".join(visible(line, one_line=True) for line in lines))
        detail.update(shown, layout=False)
