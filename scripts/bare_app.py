"""The baseline for `make bench`: a bare Textual app that paints a header, a line and a footer."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class Bare(App[int]):
    """Header, one line of text, footer."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("bare")
        yield Footer()


if __name__ == "__main__":
    Bare().run()
