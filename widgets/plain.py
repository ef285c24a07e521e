"""Provides the one way outside text reaches the screen: plain, never markup, controls visible.

A `str` given to Static, Label, a DataTable cell, an Option, a TabPane title or a border title
is parsed as Textual markup: "[/]" in a platform's error kills the App (MarkupError), "[b]"
or "[affected]" silently vanishes, "[@click=app.quit]" becomes a live action link. A Content
or Rich Text object is shown as it is, so every text from a procedure, the timeline, a
platform or the keyboard goes through `plain` (Content: Static, Label, Option, TabPane, border
titles), `plain_text` (Rich Text: DataTable cells, Rich groups) or `assemble` (styled parts,
each part plain; the styles are ours). tests/test_plain_text.py checks by AST that no screen or
widget hands those places anything else; tests/test_hostile_text_app.py drives every screen
with hostile text.

Textual and Rich remove only BEL, BS, VT, FF and CR; an ESC sequence, NUL, a C1 control (0x9b
is CSI to an 8-bit terminal) or a bidi override reaches the terminal as it is, where it can
move the cursor, clear the screen or reorder what the responder reads. `visible` shows each as
caret notation (ESC is "^[", NUL "^@", DEL "^?") or U+FFFD. In a one-line place (a table
cell, a title, a status line) a line break shows as "⏎" instead of breaking the layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.content import Content

from cockpit.core.redact import scrub

if TYPE_CHECKING:
    from rich.console import OverflowMethod
    from rich.style import StyleType

NEWLINE_MARK = "⏎"
"""What a line break looks like where the text must stay on one line."""

REPLACEMENT = "\ufffd"
"""What a C1 control or a bidi control looks like."""

_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
"""Arabic letter mark, LRM/RLM, the embeddings and overrides, the isolates."""

_SEPARATORS = (0x2028, 0x2029)
"""Line and paragraph separators: str.splitlines breaks on them, the terminal may not."""


def _table(one_line: bool) -> dict[int, str]:
    table = {code: f"^{chr(code + 64)}" for code in range(0x20)}
    table[0x7F] = "^?"
    table.update({code: REPLACEMENT for code in (*range(0x80, 0xA0), *_BIDI, *_SEPARATORS)})
    table[0x0A] = NEWLINE_MARK if one_line else "\n"
    table[0x09] = " " if one_line else "\t"
    return table


_MULTI_LINE = _table(one_line=False)
_ONE_LINE = _table(one_line=True)


def visible(text: object, *, one_line: bool = False) -> str:
    """The text with every control character shown (caret notation or U+FFFD); CRLF and a lone
    CR (what terminals paste for a line break) are line breaks; with one_line, a line break is
    "⏎" and a tab a space."""
    string = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return string.translate(_ONE_LINE if one_line else _MULTI_LINE)


def plain(text: object, style: str = "", *, one_line: bool = False) -> Content:
    """Outside text as Content, shown literally (never parsed as markup), in one style of ours;
    scrubbed of secrets (every configured one, literally) like everything the cockpit shows."""
    shown = visible(scrub(str(text)), one_line=one_line)
    return Content.styled(shown, style) if style else Content(shown)


def plain_text(
    text: object,
    style: StyleType = "",
    *,
    one_line: bool = False,
    no_wrap: bool | None = None,
    overflow: OverflowMethod | None = None,
) -> Text:
    """Outside text as Rich Text, for Rich places (DataTable cells, Rich groups); scrubbed."""
    shown = visible(scrub(str(text)), one_line=one_line)
    return Text(shown, style=style, no_wrap=no_wrap, overflow=overflow)


def assemble(*parts: object | tuple[object, str], one_line: bool = False) -> Content:
    """Styled parts as one Content: each text part is plain, each style (a literal of ours,
    e.g. "bold" or "dim") applies to its part only.

    `assemble(("to fill in: ", "dim"), "[affected]")` keeps the brackets, as plain() does.
    """
    pieces: list[Content | tuple[str, str]] = []
    for part in parts:
        if isinstance(part, Content):
            pieces.append(part)
        elif isinstance(part, tuple):
            text, style = part
            pieces.append((visible(scrub(str(text)), one_line=one_line), style))
        else:
            pieces.append(Content(visible(scrub(str(part)), one_line=one_line)))
    return Content.assemble(*pieces)
