"""Provides the procedure view: the active runbook, readable in the terminal, one tab per part.

The text is the Markdown of `cockpit procedures show`, rendered by Rich into one Static per tab.
Textual's Markdown widget mounts a widget per block (about 2,000 for a seed procedure) and took
1-3 s to lay out at 80x24; Rich renders the same text in tens of milliseconds. Each tab's text
is parsed when the tab is first shown, so the screen's first paint parses one tab, not five.
"""

from __future__ import annotations

from typing import ClassVar

from rich.markdown import Markdown
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from cockpit.core.procedure_text import render_markdown
from cockpit.screens.base import CockpitScreen
from cockpit.screens.incident_bar import IncidentBar
from widgets.footer import KeyFooter
from widgets.plain import plain, visible

#: Tab id, tab title, and the `## ` sections of render_markdown() it shows.
TABS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("overview", "Overview", ("", "Automatic triggers", "Manual triggers", "Severity levels")),
    ("decision", "Decision", ("Decision matrix", "Decision tree")),
    ("options", "Options", ("Rollback options",)),
    ("checklists", "Checklists", ("Checklists",)),
    (
        "comms",
        "Comms",
        ("Communication templates", "Escalation", "Objectives and targets", "Contacts"),
    ),
)


def split_sections(markdown: str) -> dict[str, str]:
    """Map each `## ` heading to its text (heading included); the preamble is under ''."""
    sections: dict[str, list[str]] = {"": []}
    current = ""
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        sections[current].append(line)
    return {name: "\n".join(lines).strip() for name, lines in sections.items()}


def tab_texts(markdown: str) -> dict[str, str]:
    """The Markdown of each tab; a section no tab names goes to the last tab, never lost."""
    sections = split_sections(markdown)
    placed = {name for _, _, names in TABS for name in names}
    texts = {
        tab_id: "\n\n".join(sections[name] for name in names if sections.get(name))
        for tab_id, _, names in TABS
    }
    leftovers = [text for name, text in sections.items() if name not in placed and text]
    if leftovers:
        texts[TABS[-1][0]] = "\n\n".join([texts[TABS[-1][0]], *leftovers])
    return texts


class ProcedureScreen(CockpitScreen[None]):
    """The whole procedure; `x` opens the decision matrix and tree."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "x",
            "decision",
            "Decision",
            tooltip="Open the decision matrix and tree",
            id="procedure.decision",
        ),
        Binding("right", "next_tab", "Next tab", show=False, id="procedure.next"),
        Binding("left", "previous_tab", "Previous tab", show=False, id="procedure.previous"),
    ]

    texts: dict[str, str]
    """Each tab's Markdown, until the tab is first shown and its text parsed."""

    def compose(self) -> ComposeResult:
        yield IncidentBar()
        app = self.cockpit
        procedure = app.session.procedure
        assert procedure is not None, "the App opens this screen once the procedure is loaded"
        self.texts = tab_texts(render_markdown(procedure))
        with TabbedContent(id="procedure-tabs"):
            for tab_id, title, _ in TABS:
                with TabPane(plain(title), id=f"tab-{tab_id}"), VerticalScroll():
                    yield Static(
                        Markdown(visible(self.source(tab_id)), code_theme="ansi_dark")
                        if tab_id == TABS[0][0]
                        else "",
                        id=f"text-{tab_id}",
                    )
        yield KeyFooter()

    def source(self, tab_id: str) -> str:
        """A tab's Markdown source, taken once: it is parsed when the tab is first shown.

        Rich's Markdown never reads console markup, but passes control characters to the
        terminal (the procedure file's ESC shows as "^["): it is given visible() text."""
        return self.texts.pop(tab_id) or "_Nothing in this procedure._"

    def fill(self, pane_id: str) -> None:
        """Parse a tab's text into its Static before the tab is shown the first time."""
        tab_id = pane_id.removeprefix("tab-")
        if tab_id in self.texts:
            shown = Markdown(visible(self.source(tab_id)), code_theme="ansi_dark")
            self.query_one(f"#text-{tab_id}", Static).update(shown)

    def on_mount(self) -> None:
        self.focus_text()

    def on_tabbed_content_tab_activated(self, message: TabbedContent.TabActivated) -> None:
        if message.pane.id is not None:
            self.fill(message.pane.id)  # a tab clicked with the mouse
        self.focus_text()

    def focus_text(self) -> None:
        """Give the visible tab's text the focus, so arrows and page keys scroll it."""
        active = self.query_one(TabbedContent).active
        self.query_one(f"#{active} VerticalScroll", VerticalScroll).focus()

    def action_decision(self) -> None:
        """Show the decision tab."""
        self.show("tab-decision")

    def show(self, pane_id: str) -> None:
        """Show a tab, its text parsed first."""
        self.fill(pane_id)
        self.query_one(TabbedContent).active = pane_id

    def _step(self, offset: int) -> None:
        tabs = self.query_one(TabbedContent)
        ids = [f"tab-{tab_id}" for tab_id, _, _ in TABS]
        self.show(ids[(ids.index(tabs.active) + offset) % len(ids)])

    def action_next_tab(self) -> None:
        """Show the next tab."""
        self._step(1)

    def action_previous_tab(self) -> None:
        """Show the previous tab."""
        self._step(-1)
