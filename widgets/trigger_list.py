"""Provides TriggerList: every trigger rule of the procedure with its live state and counter."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.widgets import Static

from cockpit.core.triggers import TriggerStatus, Verdict
from widgets.plain import visible

if TYPE_CHECKING:
    from textual.app import RenderResult

    from cockpit.core.procedure import TriggerRule

#: Status words and the component class that colours them (colour comes from the theme).
_STYLE = {
    TriggerStatus.FIRING: "trigger-list--firing",
    TriggerStatus.PENDING: "trigger-list--pending",
    TriggerStatus.OK: "trigger-list--ok",
    TriggerStatus.WAITING: "trigger-list--waiting",
    TriggerStatus.NO_DATA: "trigger-list--no-data",
}


class TriggerList(Static):
    """One line per trigger: state, counter, rule in words (cut first, with an ellipsis)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "trigger-list--firing",
        "trigger-list--pending",
        "trigger-list--ok",
        "trigger-list--waiting",
        "trigger-list--no-data",
    }
    DEFAULT_CSS = """
    TriggerList { height: auto; }
    TriggerList > .trigger-list--firing { color: $error; text-style: bold; }
    TriggerList > .trigger-list--pending { color: $warning; }
    TriggerList > .trigger-list--ok { color: $success; }
    TriggerList > .trigger-list--waiting { color: $text-muted; }
    TriggerList > .trigger-list--no-data { color: $warning; text-style: italic; }
    """

    shown: tuple[tuple[str, str], ...] = ()
    """Status and counter of each rule on screen, so an unchanged list is not repainted."""

    def __init__(self, waiting: tuple[str, ...] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.titles: tuple[str, ...] | None = waiting
        """The rules' titles shown WAITING, until `show` has verdicts."""
        self.verdicts: list[tuple[TriggerRule, Verdict | None]] = []
        # Rendered when painted, not set with update() after mounting: the styles are known
        # only then, and an update after mounting put the rows in a second frame, not the
        # screen's first.

    def waiting(self, titles: tuple[str, ...]) -> None:
        """The rules' titles before the procedure is validated: each WAITING, as the first
        verdicts will show it (so the first frame already lists what will be judged)."""
        if titles != self.titles:
            self.titles = titles
            self.refresh(layout=True)

    def render(self) -> RenderResult:
        if self.titles is not None:
            return self.waiting_text(self.titles)
        return self.verdicts_text(self.verdicts)

    def waiting_text(self, titles: tuple[str, ...]) -> Text:
        """Each rule WAITING, with no sample yet."""
        if not titles:
            return Text("Loading the procedure's trigger rules…")
        style = self.get_component_rich_style(_STYLE[TriggerStatus.WAITING])
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, title in enumerate(titles):
            if index:
                text.append("\n")
            text.append(f"{TriggerStatus.WAITING.value.upper():8}", style=style)
            text.append(visible(" [no sample yet] ", one_line=True), style=style)
            text.append(visible(title, one_line=True))
        return text

    def show(self, verdicts: list[tuple[TriggerRule, Verdict | None]]) -> None:
        """Show the triggers' latest verdicts, one line each."""
        state = tuple(
            (v.status.value, v.counter) if v is not None else ("", "") for _, v in verdicts
        )
        if state == self.shown and self.titles is None:
            return
        # Its height is auto: only a different number of lines needs a new layout.
        relayout = len(state) != len(self.shown) or self.titles is not None
        self.shown, self.verdicts, self.titles = state, verdicts, None
        self.refresh(layout=relayout)

    def verdicts_text(self, verdicts: list[tuple[TriggerRule, Verdict | None]]) -> Text:
        """One line per rule: status, counter, title."""
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, (rule, verdict) in enumerate(verdicts):
            status = verdict.status if verdict is not None else TriggerStatus.WAITING
            style = self.get_component_rich_style(_STYLE[status])
            if index:
                text.append("\n")
            text.append(f"{status.value.upper():8}", style=style)
            counter = verdict.counter if verdict is not None else "no sample yet"
            # The counter before the title: a narrow pane cuts the line's end (with an
            # ellipsis), and the rule's title is the part a responder can do without.
            text.append(
                visible(f" [{counter}] ", one_line=True),
                style=self.get_component_rich_style("trigger-list--waiting"),
            )
            # Text.append never reads markup; the rule's title is the procedure's, made visible.
            text.append(visible(rule.title, one_line=True))
        return text
