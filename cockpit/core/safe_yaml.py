"""YAML from a user's file, within bounds: no alias bomb, no runaway nesting, no traceback.

PyYAML's safe loader still lets a small file cost without end. An alias bomb ("billion
laughs") composes in microseconds, because aliases share nodes, but everything that walks the
result (the line index, pydantic) expands it; a recursive alias builds a structure that
contains itself; 10,000 nested brackets overflow the recursive composer; a 5,000-digit integer
or `!!int abc` raise plain ValueErrors from the constructor, and a long sexagesimal number
(`1:2:3:…`) takes quadratic time to convert.

So the text is first read as a stream of parser events, which needs no recursion and shares
nothing, and measured: nesting depth, and the number of values it holds with every alias
counted as what it expands to (nested aliases, merge keys and all). Only a document within
the limits is composed and constructed, by loaders whose constructor refuses over-long numbers
and turns any bad tagged value into a located error. Every refusal is a YAMLRefused with the
line it concerns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

MAX_DEPTH = 32
"""Collections nested in one another, aliases expanded. The deepest path of a procedure
(checklists.<kind>.items[i].run.params.commands.<name>) is seven; 32 leaves room for any
reasonable file and keeps every recursive walk (composer, line index, pydantic) far from
Python's recursion limit."""

MAX_VALUES = 100_000
"""Values (scalars and collections) with aliases counted as expanded. A built-in procedure
holds about 1,500; 100,000 validates in well under a second, while a ten-level alias bomb
would be 10^10 and is refused after counting a few hundred events."""

MAX_NUMBER_CHARS = 100
"""The longest number accepted. No threshold needs more; Python refuses integers of over
4,300 digits anyway, and `1:2:3:…` (base 60) gets quadratically slower with length."""

_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})

_UNSHOWABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""What a double-quoted escape ("\\e[2J", "\\ud800") can put in text and a terminal must
not get: control characters other than tab and newline (escape sequences, carriage returns
that overwrite a line) and lone surrogates, which cannot even be written out as UTF-8."""


@dataclass
class YAMLRefused(Exception):
    """The text is not YAML we read: `line` (1-based, when known) and what is wrong."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return self.message


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


@dataclass
class _Open:
    """A collection whose end event has not come yet."""

    anchor: str | None
    start: int
    """Values counted before it."""
    height: int = 0
    """Collection levels below it, so far."""


def measure(events: Any) -> int:
    """Walk the parser events; refuse too deep, too many values or a recursive alias.

    Returns the number of values, aliases expanded.
    """
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values it expands to, its height)
    stack: list[_Open] = []
    total = 0
    aliased = 0  # values that aliases added
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            anchors.clear()  # anchors do not cross documents
            continue
        if isinstance(event, yaml.CollectionStartEvent):
            total += 1
            stack.append(_Open(event.anchor, total - 1))
            if len(stack) > MAX_DEPTH:
                raise YAMLRefused(
                    _line(event.start_mark), f"nested more than {MAX_DEPTH} levels deep"
                )
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            done = stack.pop()
            values, height = total - done.start, done.height + 1
            if done.anchor is not None:
                anchors[done.anchor] = (values, height)
        elif isinstance(event, yaml.ScalarEvent):
            values, height = 1, 0
            total += 1
            if event.anchor is not None:
                anchors[event.anchor] = (values, height)
        elif isinstance(event, yaml.AliasEvent):
            name = str(event.anchor)
            if any(frame.anchor == name for frame in stack):
                raise YAMLRefused(
                    _line(event.start_mark),
                    f"alias *{name} is used inside the value it names (a recursive alias)",
                )
            # An alias naming no anchor counts as one value; composing says what is wrong.
            values, height = anchors.get(name, (1, 0))
            total += values
            aliased += values
            if len(stack) + height > MAX_DEPTH:
                raise YAMLRefused(
                    _line(event.start_mark),
                    f"alias *{name} nests the document more than {MAX_DEPTH} levels deep",
                )
        else:
            continue
        if total > MAX_VALUES:
            raise YAMLRefused(
                _line(event.start_mark),
                f"more than {MAX_VALUES:,} values with aliases expanded "
                f"({aliased:,} of them from aliases: an alias bomb?)"
                if aliased > total // 2
                else f"more than {MAX_VALUES:,} values",
            )
        if stack:
            stack[-1].height = max(stack[-1].height, height)
    return total


class _Bounded:
    """Constructor side of the bounded loaders: numbers capped, bad values located."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if isinstance(node, yaml.ScalarNode) and (bad := _UNSHOWABLE.search(node.value)):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"text with the character {bad.group()!r}, which a terminal must not get",
                node.start_mark,
            )
        if (
            isinstance(node, yaml.ScalarNode)
            and node.tag in _NUMBER_TAGS
            and len(node.value) > MAX_NUMBER_CHARS
        ):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"a number {len(node.value):,} characters long (at most {MAX_NUMBER_CHARS})",
                node.start_mark,
            )
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except yaml.YAMLError:
            raise
        except Exception as error:  # any constructor failure is the file's fault
            shown = node.value if isinstance(node.value, str) else ""
            shown = repr(shown[:40] + ("…" if len(shown) > 40 else ""))
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise yaml.constructor.ConstructorError(
                None, None, f"{tag} value {shown} cannot be read: {error}", node.start_mark
            ) from None


class _FastLoader(_Bounded, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser, about ten times faster than the pure-Python one."""


class _PureLoader(_Bounded, yaml.SafeLoader):
    """The pure-Python parser: its error messages are the same wherever the cockpit runs."""


class Document:
    """A YAML text measured and composed; `data()` constructs it (once)."""

    def __init__(self, text: str) -> None:
        try:
            self._parse(text, _FastLoader)
        except YAMLRefused:
            raise
        except yaml.YAMLError:
            # libyaml words errors its own way: take the pure-Python parser's words instead.
            self._parse(text, _PureLoader)

    def _parse(self, text: str, loader: type[Any]) -> None:
        try:
            measure(yaml.parse(text, Loader=loader))
            self._loader = loader(text)
            self.root: yaml.Node | None = self._loader.get_single_node()
        except yaml.YAMLError as error:
            if loader is _PureLoader:
                raise _refusal(error, text) from None
            raise

    def data(self) -> Any:
        """The constructed value (a dict for a procedure); YAMLRefused for a bad value.

        Construction flattens merge keys (`<<: *base`) in the composed nodes, so read
        `root` first if the nodes matter as written.
        """
        try:
            if self.root is None:
                return None
            return self._loader.construct_document(self.root)
        except yaml.YAMLError as error:
            raise _refusal(error, "") from None
        finally:
            self._loader.dispose()


def _refusal(error: yaml.YAMLError, text: str) -> YAMLRefused:
    """One located line from any PyYAML error."""
    if isinstance(error, yaml.reader.ReaderError):
        line = text[: error.position].count("\n") + 1 if text else None
        character = error.character
        code = character if isinstance(character, int) else int.from_bytes(character, "big")
        return YAMLRefused(line, f"YAML error: unacceptable character #x{code:04x}: {error.reason}")
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        syntax = isinstance(error, yaml.scanner.ScannerError | yaml.parser.ParserError)
        words = error.problem or str(error)
        if not syntax and error.context:  # "expected a single document in the stream, but …"
            words = f"{error.context}, {words}"
        kind = "YAML syntax error" if syntax else "YAML error"
        return YAMLRefused(_line(mark), f"{kind}: {words}")
    return YAMLRefused(None, f"YAML error: {error}")


def load(text: str) -> Any:
    """Measure, compose and construct `text` in one go (when the nodes are not needed)."""
    return Document(text).data()
