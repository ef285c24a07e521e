"""Provides ConfirmScreen: one question before something that reaches outside the cockpit.

Acknowledging tells the paging service; a stray letter must not do it. Enter confirms; Esc or
any other printable key cancels, so a word typed into the wrong place ends the question
instead of answering it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from cockpit.screens.base import CockpitModal
from widgets.plain import plain

if TYPE_CHECKING:
    from textual.app import ComposeResult


class ConfirmScreen(CockpitModal[bool]):
    """A question answered by Enter (yes) or anything else (no)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("escape", "answer(False)", "No", id="confirm.no"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 70; height: auto; border: round $warning; padding: 1 2; background: $surface;
    }
    """

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(self.question, "bold"))
            if self.detail:
                yield Static(plain(self.detail))
            yield Static(plain("Enter: yes · Esc or any other key: no", "dim"))

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.key != "enter":
            event.stop()
            self.dismiss(False)

    def action_answer(self, yes: bool) -> None:
        """Return the answer."""
        self.dismiss(yes)
