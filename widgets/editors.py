"""Provides PlainInput and PlainTextArea: editors whose pasted text shows its control characters.

Input and TextArea draw their text as it is: a pasted ESC sequence (a log line copied from a
terminal, a template with "\\e" in its YAML) would reach the terminal raw and move the cursor
or recolour the screen. Keys never type a control character, so the paste is the way in; these
editors make it visible (widgets.plain.visible) before it is inserted. Text loaded by the
screens goes through visible() where they load it.

Textual calls a message's handler of every class in the MRO, subclass first: these handlers
change the event's text and leave the inserting to Input's and TextArea's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Input, TextArea

from widgets.plain import visible

if TYPE_CHECKING:
    from textual import events


class PlainInput(Input):
    """An Input whose pastes have their control characters shown (one line, as Input keeps)."""

    def _on_paste(self, event: events.Paste) -> None:
        # Input keeps a paste's first line: split at line breaks only (splitlines() also
        # splits at \x1c-\x1e and \x85, which visible() shows instead).
        event.text = visible(event.text).split("\n")[0]


class PlainTextArea(TextArea):
    """A TextArea whose pastes have their control characters shown (line breaks kept)."""

    async def _on_paste(self, event: events.Paste) -> None:
        event.text = visible(event.text)
