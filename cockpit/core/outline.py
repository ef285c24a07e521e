"""A procedure's outline (name, title, metrics) read without validation, for the first paint.

The dashboard's frame needs only the metric titles; the full pydantic validation of a built-in
procedure (about 0.25 s of imports and schema building) runs in a worker after the first paint.
Files that are not built-in are validated before the cockpit starts, so a bad file still gets
its one-line error on the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class MetricTitle:
    """What a pane needs before the procedure is validated."""

    title: str
    unit: str = ""


@dataclass(frozen=True)
class Outline:
    """Name, title and metrics of a procedure."""

    name: str
    title: str
    metrics: dict[str, MetricTitle]


def is_builtin(name: str) -> bool:
    """Whether `name` is a built-in procedure (a file in the checklists package)."""
    if not name or "/" in name or name.endswith((".yaml", ".yml")):
        return False
    return (resources.files("checklists") / f"{name}.yaml").is_file()


def builtin_outline(name: str) -> Outline:
    """Read a built-in procedure's outline (the loader validates the same file later)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = (resources.files("checklists") / f"{name}.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.load(text, Loader=loader)
    metrics = {
        str(metric): MetricTitle(str(spec.get("title", metric)), str(spec.get("unit", "")))
        for metric, spec in (data.get("metrics") or {}).items()
    }
    return Outline(str(data.get("name", name)), str(data.get("title", name)), metrics)
