"""Provides the procedure view: the active runbook, readable in the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown

from cockpit.core.procedure_text import render_markdown

if TYPE_CHECKING:
    from cockpit.app import CockpitApp


class ProcedureScreen(Screen[None]):
    """The whole procedure as Markdown; `x` jumps to the decision section."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "x",
            "decision",
            "Decision",
            tooltip="Jump to the decision matrix and tree",
            id="procedure.decision",
        ),
        Binding("home", "top", "Top", show=False, id="procedure.top"),
    ]

    def compose(self) -> ComposeResult:
        app = cast("CockpitApp", self.app)
        with VerticalScroll(id="procedure-scroll"):
            yield Markdown(render_markdown(app.session.procedure), id="procedure")
        yield Footer()

    def action_decision(self) -> None:
        """Scroll to the first heading about the decision."""
        markdown = self.query_one(Markdown)
        for heading in markdown.query("MarkdownH2"):
            text = str(getattr(heading, "_content", "")) or heading.render().__str__()
            if "ecision" in text:
                self.query_one(VerticalScroll).scroll_to_widget(heading, top=True, animate=False)
                return

    def action_top(self) -> None:
        """Back to the top."""
        self.query_one(VerticalScroll).scroll_home(animate=False)
