"""A procedure's outline (name, title, metrics) read without validation, for the first paint.

The dashboard's frame needs only the metric titles; the full pydantic validation of a built-in
procedure, or of the copy of it an incident recorded (about 0.25 s of imports and schema
building), runs in a worker after the first paint.
Files that are not built-in are validated before the cockpit starts, so a bad file still gets
its one-line error on the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cockpit.core.errors import Problem, ProcedureFileError
from cockpit.core.procedure_copy import ProcedureCopy
from cockpit.core.procedure_file import construct, is_builtin, parse_yaml, read_builtin

__all__ = [
    "MetricTitle",
    "Outline",
    "builtin_outline",
    "copy_outline",
    "is_builtin",
    "text_outline",
]


@dataclass(frozen=True)
class MetricTitle:
    """What a pane needs before the procedure is validated."""

    title: str
    unit: str = ""


@dataclass(frozen=True)
class Outline:
    """Name, title, metrics and trigger titles of a procedure."""

    name: str
    title: str
    metrics: dict[str, MetricTitle]
    triggers: tuple[str, ...] = ()
    """The trigger rules' titles, in order: the dashboard lists them in its first frame."""


def builtin_outline(name: str) -> Outline:
    """Read a built-in procedure's outline (the loader validates the same file later).

    Read through the same bounds as every procedure file; what is not the expected shape is
    a ProcedureFileError, as the full validation would say.
    """
    return text_outline(read_builtin(name), f"checklists/{name}.yaml", name)


def copy_outline(copy: ProcedureCopy) -> Outline:
    """The outline of the copy of its procedure an incident recorded (kept by its sha256 in
    `cockpit.core.outline_cache`, so a second start reads no YAML before its first frame)."""
    from cockpit.core.outline_cache import cached_outline
    from cockpit.core.procedure_copy import sha256_of

    # The text's own hash: a copy read from the timeline is redacted, its sha256 the file's.
    return cached_outline(
        sha256_of(copy.text), lambda: text_outline(copy.text, copy.shown, copy.name)
    )


def text_data(text: str, shown: str) -> dict[str, Any]:
    """A procedure's YAML as a mapping, read through the same bounds as every procedure file,
    not validated (`shown`: the file, as errors name it)."""
    data: Any = construct(parse_yaml(text, shown), shown)
    if not isinstance(data, dict):
        raise ProcedureFileError(shown, [Problem(None, "", "not a mapping")])
    return data


def text_outline(text: str, shown: str, name: str) -> Outline:
    """The outline of a procedure's text (`shown`: the file, as errors name it)."""
    data = text_data(text, shown)
    metrics = data.get("metrics")
    if not isinstance(metrics, dict) or not all(isinstance(m, dict) for m in metrics.values()):
        raise ProcedureFileError(shown, [Problem(None, "metrics", "not a mapping of metrics")])
    return Outline(
        str(data.get("name", name)),
        str(data.get("title", name)),
        {
            str(metric): MetricTitle(str(spec.get("title", metric)), str(spec.get("unit", "")))
            for metric, spec in metrics.items()
        },
        tuple(
            str(rule.get("title", rule.get("id", "")))
            for rule in data.get("triggers") or []
            if isinstance(rule, dict)
        ),
    )
