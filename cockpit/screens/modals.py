"""Provides the modals: help, and one line of text (a note, a reason to skip)."""

from __future__ import annotations

from typing import ClassVar

from rich.markdown import Markdown
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Static

from cockpit.screens.base import CockpitModal
from widgets.editors import PlainInput
from widgets.plain import plain, visible


class HelpScreen(CockpitModal[None]):
    """What each screen is for and every key, generated from the bindings so it stays true.

    The text is rendered by Rich into one Static, as the procedure screen's is: Textual's
    Markdown widget mounts a widget per block and per table cell, and took 250-650 ms to open.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
    ]

    def __init__(self, keys: list[tuple[str, str, str]], hint: str = "") -> None:
        super().__init__()
        self.keys = keys
        self.hint = hint
        """What to do next, from the incident's state (cockpit.core.next_step)."""

    def compose(self) -> ComposeResult:
        rows = "\n".join(
            f"| `{key}` | {description} | {tooltip} |" for key, description, tooltip in self.keys
        )
        text = (
            "# Rollback Cockpit — help\n\n"
            "**Dashboard** (`d`): live metrics, trigger rules and the timeline tail. A pane says "
            "OK, WARNING, BREACH, STALE or NO DATA in words as well as colour; a source that stops "
            "answering turns STALE, never OK.\n\n"
            "**Procedure** (`p`): the team's runbook; `x` jumps to the decision section.\n\n"
            "**Timeline** (`t`): every recorded event in UTC, with the actor and the command.\n\n"
            "**Decide** (`w`): the procedure's decision tree, one question at a time; press an "
            "answer's key, Enter to accept what the live evidence suggests, Backspace to change "
            "the last answer. Every answer is recorded; leaving and coming back resumes.\n\n"
            "**Checklists** (`c`): space ticks or unticks, `s` skips with a reason; automatic "
            "items tick themselves when their metric rule holds after the decision.\n\n"
            "**Drafts** (`m`): the procedure's messages filled from the timeline; edit, ctrl+s "
            "saves to the timeline and to a file.\n\n"
            "| key | action | what it does |\n|---|---|---|\n" + rows + "\n\n"
            "`ctrl+p` opens the command palette. Everything you do is recorded before the screen "
            "changes, so a dropped SSH connection loses nothing: run `cockpit` again to resume."
        )
        with Vertical(id="help-box"):
            if self.hint:  # the procedure's words may hold markup-like text: plain
                yield Static(plain(f"Next: {self.hint}", "bold"), id="help-next")
            with VerticalScroll(id="help-scroll"):
                # The rows hold key names and the procedure's words: control characters shown.
                yield Static(Markdown(visible(text)), id="help-text")

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)


class NoteScreen(CockpitModal[str | None]):
    """Ask for one line of text (a note, a reason to skip)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="note.cancel"),
    ]
    # A Label is as wide as its text and the box cuts it: a prompt longer than the box (the
    # close dialog's) lost its end, the keys it names. This one wraps to the box.
    DEFAULT_CSS = """
    NoteScreen #note-prompt { width: 100%; height: auto; }
    """

    def __init__(
        self, prompt: str = "Note for the timeline (Enter to record, Esc to cancel):"
    ) -> None:
        super().__init__()
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical(id="note-box"):
            yield Static(plain(self.prompt), id="note-prompt")
            yield PlainInput(placeholder="what you saw or decided", id="note-input")

    def on_input_submitted(self, message: Input.Submitted) -> None:
        self.dismiss(message.value.strip() or None)

    def action_cancel(self) -> None:
        """Leave without recording."""
        self.dismiss(None)
