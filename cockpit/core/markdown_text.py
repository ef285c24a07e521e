"""Text people typed, on its way into Markdown and back out to a terminal.

Into the export: a written post-mortem section is Markdown (lists, task boxes, emphasis are
meant), but not HTML. GitHub drops a tag it does not allow ("the pool was <behind>" loses its
last word) and decodes an entity ("&lt;" becomes "<"), so `escape_html` turns `&`, `<` and `>`
into entities: the reader sees what was typed. Code spans and fenced blocks are left alone,
since GitHub shows them literally and an entity there would show as "&lt;"; a `>` opening a
line is Markdown's quote, not HTML, and stays.

Back to the terminal: the post-mortem preview shows the export's text, where escapes are noise
("&lt; 5 min", "a \\| b", "line<br>line"). `readable` decodes what a Markdown viewer decodes,
outside code, so the preview reads as the rendered document does, and a section shows as typed.

Pure Python (no Textual, no Rich).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)(?<!`)\1(?!`)", re.DOTALL)
_QUOTE = re.compile(r"^(?: {0,3}>)+")
# CommonMark: a backslash before any ASCII punctuation is an escape.
_BACKSLASH = re.compile(r"\\([!-/:-@\[-`{-~])")
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_BREAK = "<br>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _outside_code(line: str, change: Callable[[str], str]) -> str:
    """`line` with `change` applied to the parts outside its code spans."""
    parts: list[str] = []
    start = 0
    for span in _CODE_SPAN.finditer(line):
        parts += [change(line[start : span.start()]), span.group(0)]
        start = span.end()
    parts.append(change(line[start:]))
    return "".join(parts)


def _lines_outside_fences(text: str) -> list[tuple[str, bool]]:
    """Each line of `text` and whether it is prose (not inside a fenced code block)."""
    found: list[tuple[str, bool]] = []
    fence = ""
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence:
            found.append((line, False))
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
        elif opened:
            fence = opened.group(1)
            found.append((line, False))
        else:
            found.append((line, True))
    return found


def escape_html(text: str) -> str:
    """Typed Markdown with its HTML made text: `&`, `<` and `>` as entities outside code spans
    and fenced blocks, a quote's leading `>` kept. Escaping is done once, here, at rendering:
    the timeline keeps what was typed."""
    lines = []
    for line, prose in _lines_outside_fences(text):
        if not prose:
            lines.append(line)
            continue
        quote = _QUOTE.match(line)
        lead = quote.group(0) if quote else ""
        lines.append(lead + _outside_code(line[len(lead) :], _escape))
    return "\n".join(lines)


def _decode(text: str) -> str:
    if "\\" in text:
        text = _BACKSLASH.sub(r"\1", text)
    if _BREAK in text:
        text = text.replace(_BREAK, " ⏎ ")
    if "&" in text:
        text = _ENTITY.sub(lambda found: html.unescape(found.group(0)), text)
    return text


def readable(markdown: str) -> str:
    """The Markdown as its reader sees the text: entities decoded ('&lt; 5 min' → '< 5 min'),
    backslash escapes dropped, a table cell's line break ('<br>') shown as '⏎'; code spans and
    fenced blocks as they are. For a terminal preview: the export itself keeps its escapes."""
    lines = []
    for line, prose in _lines_outside_fences(markdown):
        if not prose or not any(mark in line for mark in ("&", "\\", _BREAK)):
            lines.append(line)  # most lines: nothing to decode
            continue
        lines.append(_outside_code(line, _decode))
    return "\n".join(lines)
