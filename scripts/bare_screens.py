"""The baseline for `make bench`'s key rows: a bare Textual app of three screens, switched by keys.

Like the cockpit's three modes (d dashboard, t timeline, p procedure), each screen has a header,
a few widgets and a footer, is built on its first visit and kept; each paints a line of its own
("bare board", "bare table", "bare text") that the benchmark waits for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static


class Board(Screen[None]):
    """Six bordered panes under a title line."""

    DEFAULT_CSS = """
    Grid { grid-size: 3 2; }
    Grid > Static { border: round $accent; }
    """

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("bare board")
        with Grid():
            for n in range(6):
                yield Static(f"pane {n}\n{n * 7 % 10} OK", id=f"pane-{n}")
        yield Footer()


class Table(Screen[None]):
    """A table of a few rows."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("bare table")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "time", "kind", "summary")
        for n in range(8):
            table.add_row(str(n), f"12:00:{n:02d}", "note", f"row number {n}")


class Text(Screen[None]):
    """Paragraphs in a scrolling column."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("bare text")
        with VerticalScroll():
            for n in range(6):
                yield Static(f"Paragraph {n}: " + "some words of a runbook " * 8)
        yield Footer()


class BareScreens(App[int]):
    """Three screens as modes: each built once, switched by d, t and p."""

    MODES: ClassVar[dict[str, str | Callable[[], Screen[None]]]] = {
        "board": Board,
        "table": Table,
        "text": Text,
    }
    DEFAULT_MODE = "board"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "switch_mode('board')", "Board"),
        Binding("t", "switch_mode('table')", "Table"),
        Binding("p", "switch_mode('text')", "Text"),
    ]


if __name__ == "__main__":
    BareScreens().run()
