"""The timeline's table keeps what it rendered when rows are appended (another cockpit writes
~50 events a second), and still shows every appended row, widening a column when one must."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from cockpit.core.timeline import Event, Timeline
from cockpit.screens.timeline import EventTable


class TableApp(App[None]):
    CSS = "EventTable { height: 1fr; }"  # as on the timeline screen: rows never resize it

    def compose(self) -> ComposeResult:
        table = EventTable(id="events", cursor_type="row")
        table.add_columns("#", "time (UTC)", "kind", "actor", "summary")
        yield table


class TableScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        table = EventTable(id="events", cursor_type="row", zebra_stripes=True)
        table.add_columns("#", "time (UTC)", "kind", "actor", "summary")
        yield table


class OtherScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Static("another screen")


def events(timeline: Timeline, incident: int, *summaries: str) -> list[Event]:
    return [timeline.record(incident, "note", summary) for summary in summaries]


def lines(table: EventTable) -> list[str]:
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


async def test_appended_rows_show_and_keep_the_rendered_cells(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "timeline.db", actor="alice")
    incident = timeline.open_incident("x", "P1", "pulse-messages").id
    app = TableApp()
    async with app.run_test(size=(120, 12)) as pilot:
        table = app.query_one(EventTable)
        table.append_events(events(timeline, incident, *(f"event {n}" for n in range(1, 4))))
        await pilot.pause()
        assert any("event 3" in line for line in lines(table))
        count, cached = table._update_count, len(table._cell_render_cache)
        assert cached, "cells rendered and cached"
        table.append_events(
            events(timeline, incident, "event 4")
        )  # no wider than before: nothing re-rendered
        table.move_cursor(row=table.row_count - 1)
        await pilot.pause()
        assert table._update_count == count
        assert any("event 4" in line for line in lines(table)), "the new row is shown"
        table.append_events(events(timeline, incident, *(f"event {n}" for n in range(5, 30))))
        table.move_cursor(row=table.row_count - 1)
        await pilot.pause()
        shown = lines(table)
        assert any("event 29" in line for line in shown), "scrolled to the newest"
        assert table.virtual_size.height == 30  # 29 rows and the header
        table.append_events(events(timeline, incident, "a longer summary than any before, widened"))
        table.move_cursor(row=table.row_count - 1)
        await pilot.pause()
        assert table._update_count > count, "a wider column renders everything again"
        assert any("a longer summary than any before" in line for line in lines(table))


class TwoScreens(App[None]):
    """The table on one screen and a plain one beside it, switched as the cockpit's keys do."""

    CSS = "EventTable { height: 1fr; }"
    MODES = {"table": TableScreen, "other": OtherScreen}  # noqa: RUF012


async def test_showing_the_screen_again_keeps_the_rendered_cells(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "timeline.db", actor="alice")
    incident = timeline.open_incident("x", "P1", "pulse-messages").id
    app = TwoScreens()
    async with app.run_test(size=(120, 12)) as pilot:
        await app.switch_mode("table")
        table = app.screen.query_one(EventTable)
        table.append_events(events(timeline, incident, *(f"event {n}" for n in range(1, 9))))
        await pilot.pause()
        cached = list(table._cell_render_cache.keys())
        assert cached
        await app.switch_mode("other")
        await pilot.pause()
        await app.switch_mode("table")
        await pilot.pause()
        assert all(key in table._cell_render_cache for key in cached), "nothing rendered again"
        assert any("event 8" in line for line in lines(table))
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        assert not any(key in table._cell_render_cache for key in cached), (
            "a new theme is a new look: every cell rendered again"
        )
