"""A procedure file's text and YAML, read within bounds; every refusal a ProcedureFileError.

The one way in for every reader of a procedure: `cockpit procedures`, backtest, export, the
cockpit's start, its worker, and the outline of the first paint (which is why this module
imports neither pydantic nor anything else heavy). The bounds are those of
`cockpit.core.safe_read` (a regular file, at most MAX_FILE_BYTES, never a blocking open) and
`cockpit.core.safe_yaml` (depth, values with aliases expanded, numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.core.errors import Problem, ProcedureFileError
from cockpit.core.safe_read import FileRefused, read_regular_file

if TYPE_CHECKING:
    from cockpit.core.safe_yaml import Document

MAX_FILE_BYTES = 1024 * 1024
"""1 MiB. The built-ins are 22-28 KB, so this is room for a procedure forty times the largest;
a 1 MiB file still parses in about a second even through the pure-Python parser that words a
syntax error, and a file named by mistake (a log, a dump) is refused before it is read."""


def read_text(path: Path, shown: str | None = None) -> str:
    """The UTF-8 text of a procedure file; `shown` is the name errors give (default: path)."""
    where = str(path) if shown is None else shown
    try:
        raw = read_regular_file(path, MAX_FILE_BYTES)
    except FileRefused as refused:
        raise ProcedureFileError(where, [Problem(None, "", str(refused))]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        problem = f"not UTF-8 text: byte 0x{raw[error.start]:02x} on line {line} ({error.reason})"
        raise ProcedureFileError(where, [Problem(None, "", problem)]) from None


def parse_yaml(text: str, shown: str) -> Document:
    """The measured and composed YAML of a procedure (construct it with `.data()`)."""
    # Imported here: PyYAML costs ~20 ms, and a start whose outline is cached reads no YAML.
    from cockpit.core.safe_yaml import Document, YAMLRefused

    if len(text) > MAX_FILE_BYTES:  # text that did not come through read_text
        raise ProcedureFileError(
            shown, [Problem(None, "", f"more than {MAX_FILE_BYTES:,} characters")]
        )
    try:
        return Document(text)
    except YAMLRefused as refused:
        raise ProcedureFileError(shown, [Problem(refused.line, "", refused.message)]) from None


def construct(document: Document, shown: str) -> object:
    """The data of a composed document; a bad value (`!!int abc`) as a located problem."""
    from cockpit.core.safe_yaml import YAMLRefused

    try:
        return document.data()
    except YAMLRefused as refused:
        raise ProcedureFileError(shown, [Problem(refused.line, "", refused.message)]) from None


def builtin_names() -> list[str]:
    """Names of the built-in procedures (file stems in the checklists package)."""
    folder = resources.files("checklists")
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


def is_builtin(name: str) -> bool:
    """Whether `name` is a built-in procedure (a file in the checklists package)."""
    if not name or "/" in name or "\\" in name or name.endswith((".yaml", ".yml")):
        return False
    return (resources.files("checklists") / f"{name}.yaml").is_file()


@contextmanager
def _builtin_path(name: str) -> Iterator[Path]:
    entry = resources.files("checklists") / f"{name}.yaml"
    with resources.as_file(entry) as path:  # the file itself, unless installed in a zip
        yield path


def read_builtin(name: str) -> str:
    """The text of a built-in procedure, read like any other file."""
    shown = f"checklists/{name}.yaml"
    if not is_builtin(name):
        raise ProcedureFileError(
            f"{name}.yaml",
            [
                Problem(
                    None, "", f"no built-in procedure {name!r} (have: {', '.join(builtin_names())})"
                )
            ],
        )
    with _builtin_path(name) as path:
        return read_text(path, shown)


def names_a_file(name_or_path: str) -> bool:
    """Whether a procedure's name is a file path (a YAML suffix, or something is there) rather
    than a built-in's name: the one rule every reader resolves a name by."""
    candidate = Path(name_or_path)
    return candidate.suffix in {".yaml", ".yml"} or _exists(candidate)


def _exists(path: Path) -> bool:
    """Whether anything is at `path`; a FIFO counts (it is refused when read, not here)."""
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False
