"""Outlines of procedure texts already read, kept as small JSON files keyed by the text's sha256.

The first frame needs a procedure's outline (metric and trigger titles). Reading it from the
YAML costs the PyYAML import and a parse, 30-40 ms of a start that is meant to take about 0.3 s;
the same text read on an earlier start is here in a millisecond. A missing, unreadable or
malformed entry is read from the YAML again: the cache can only be slower, never wrong about
anything but titles, and the dashboard is rebuilt from the validated procedure after the first
paint in any case.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cockpit.core.outline import MetricTitle, Outline

FORMAT = 1
"""Bumped when Outline changes shape: entries of another format are ignored."""

KEEP = 32
"""Entries kept; a write beyond this removes the least recently written."""


def cache_dir() -> Path:
    """Where outlines are kept: the data directory's cache folder."""
    from cockpit.core.paths import data_dir

    return data_dir() / "cache" / "outlines"


def cached_outline(sha256: str, read: Callable[[], Outline], folder: Path | None = None) -> Outline:
    """The outline of the text whose sha256 is given: from the cache, else `read()` and kept."""
    folder = cache_dir() if folder is None else folder
    entry = folder / f"{sha256}.json"
    found = _load(entry)
    if found is not None:
        return found
    outline = read()
    _store(folder, entry, outline)
    return outline


def _load(entry: Path) -> Outline | None:
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            return None
        return Outline(
            name=_text(data["name"]),
            title=_text(data["title"]),
            metrics={
                _text(key): MetricTitle(_text(value[0]), _text(value[1]))
                for key, value in data["metrics"].items()
            },
            triggers=tuple(_text(title) for title in data["triggers"]),
        )
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _store(folder: Path, entry: Path, outline: Outline) -> None:
    """Write the entry (a temporary file and a rename: a reader never sees half of one) and
    keep the newest KEEP. A data directory that cannot be written is not an error here."""
    data = {
        "format": FORMAT,
        "name": outline.name,
        "title": outline.title,
        "metrics": {key: [m.title, m.unit] for key, m in outline.metrics.items()},
        "triggers": list(outline.triggers),
    }
    temporary = folder / f".{entry.name}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, entry)
        entries = sorted(folder.glob("*.json"), key=lambda path: path.stat().st_mtime)
        for old in entries[:-KEEP]:
            old.unlink(missing_ok=True)
    except OSError:
        with contextlib.suppress(OSError):  # a folder that cannot be made has no temporary
            temporary.unlink(missing_ok=True)
