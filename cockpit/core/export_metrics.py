"""The post-mortem's metric snapshots: each metric at the trigger, the decision and after the
rollback, its peak, and a text sparkline of the whole incident, from the stored samples.

Times are compared as the timeline's canonical UTC text (`2026-01-15T03:12:00.000Z`), which
sorts like the instants it names, so nothing here parses a date. The sparkline is plain text in
a fenced block, which every Markdown viewer shows in a fixed-width font, with a line of markers
(T trigger, D decision, R rollback end) on the same time axis.

Pure Python (no Textual, no Rich).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cockpit.core.procedure import Procedure
    from cockpit.core.sample_store import StoredSample

BARS = "▁▂▃▄▅▆▇█"
WIDTH = 48
"""Sparkline columns: fits beside a 16-character name in an 80-column terminal or a diff."""

#: The snapshot points: (key, label, marker, the milestone giving its time).
POINTS: tuple[tuple[str, str, str, str], ...] = (
    ("trigger", "At trigger", "T", "detect"),
    ("decision", "At decision", "D", "decide"),
    ("after", "After rollback", "R", "rollback_end"),
)


def number(value: float | None) -> str:
    """`9.1234` → `9.12`; `1200.0` → `1200`; None → `-`."""
    if value is None:
        return "-"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _flat(series: Mapping[str, Any]) -> bool:
    return series["max"] is not None and series["min"] == series["max"]


def peak_text(series: Mapping[str, Any]) -> str:
    """A series' peak and when: '12.5 at 03:12:40'; 'flat at 0' for a line that never moved
    (its first reading is no peak); '-' without a reading."""
    if series["max"] is None:
        return "-"
    if _flat(series):
        return f"flat at {number(series['max'])}"
    return f"{number(series['max'])} at {series['peak_at'][11:19]}"


def span_text(series: Mapping[str, Any]) -> str:
    """'0.3 to 12.5', or 'flat at 0'."""
    if _flat(series):
        return f"flat at {number(series['max'])}"
    return f"{number(series['min'])} to {number(series['max'])}"


def sparkline(values: Sequence[float | None], low: float, high: float) -> str:
    """One bar per value, scaled between `low` and `high`; a missing value is a gap."""
    span = high - low
    bars = []
    for value in values:
        if value is None:
            bars.append(" ")
        elif span <= 0:
            bars.append(BARS[0])
        else:
            bars.append(BARS[min(len(BARS) - 1, int((value - low) / span * len(BARS)))])
    return "".join(bars)


def _buckets(times: list[str], values: list[float | None], edges: list[str]) -> list[float | None]:
    """The highest value in each time bucket (a spike must not average away), None if none."""
    found: list[float | None] = [None] * len(edges)
    for at, value in zip(times, values, strict=True):
        if value is None:
            continue
        index = min(len(edges) - 1, max(0, bisect_right(edges, at) - 1))
        current = found[index]
        found[index] = value if current is None else max(current, value)
    return found


def _edges(start: str, end: str, width: int) -> list[str]:
    from datetime import timedelta

    from cockpit.core.clock import iso_ms, parse_iso

    first, last = parse_iso(start), parse_iso(end)
    step = (last - first) / width if last > first else timedelta(0)
    return [iso_ms(first + step * column) for column in range(width)]


def _value_at(times: list[str], values: list[float | None], at: str | None) -> float | None:
    """The last reading at or before `at` (what the responder saw then)."""
    if at is None:
        return None
    index = bisect_right(times, at) - 1
    return values[index] if index >= 0 else None


def _markers(edges: list[str], moments: Mapping[str, str | None]) -> str:
    line = [" "] * len(edges)
    for marker, at in moments.items():
        if at is None or not edges:
            continue
        column = min(len(edges) - 1, max(0, bisect_right(edges, at) - 1))
        while column < len(line) - 1 and line[column] != " ":
            column += 1  # two moments in one column: the later one moves right
        line[column] = marker
    return "".join(line).rstrip()


def metric_snapshots(
    samples: Sequence[StoredSample],
    reached: Mapping[str, str | None],
    procedure: Procedure | None,
    closed_at: str | None,
) -> dict[str, Any]:
    """The metrics section's data.

    Args:
        samples: The incident's stored samples (`Timeline.samples`), any order.
        reached: When each milestone was reached (`export_report.milestones`).
        procedure: For the metrics' titles, units and order; None: by name.
        closed_at: The incident's closing time; "after rollback" is the last reading before it.
    """
    ordered = sorted(samples, key=lambda s: s.at)
    if not ordered:
        return {"points": [], "series": [], "from": None, "to": None, "samples": 0, "markers": ""}
    start, end = ordered[0].at, ordered[-1].at
    after = None
    if reached.get("rollback_end") is not None:
        after = closed_at if closed_at is not None else end
    moments = {"trigger": reached.get("detect"), "decision": reached.get("decide"), "after": after}
    points = [
        {"key": key, "label": label, "at": moments[key]}
        for key, label, _marker, _milestone in POINTS
    ]
    edges = _edges(start, end, WIDTH)
    per_metric: dict[str, tuple[list[str], list[float | None]]] = {}
    for sample in ordered:
        times, values = per_metric.setdefault(sample.metric, ([], []))
        times.append(sample.at)
        values.append(sample.value)
    specs = procedure.metrics if procedure else {}
    names = [name for name in specs if name in per_metric]
    names += sorted(name for name in per_metric if name not in specs)
    series = []
    for name in names:
        times, values = per_metric[name]
        readings = [v for v in values if v is not None]
        low, high = (min(readings), max(readings)) if readings else (0.0, 0.0)
        peak_index = values.index(high) if readings else None
        spec = specs.get(name)
        series.append(
            {
                "metric": name,
                "title": spec.title if spec else name,
                "unit": spec.unit if spec else "",
                "values": [_value_at(times, values, moments[key]) for key, *_ in POINTS],
                "min": low if readings else None,
                "max": high if readings else None,
                "peak_at": times[peak_index] if peak_index is not None else None,
                "sparkline": sparkline(_buckets(times, values, edges), low, high),
            }
        )
    marks = {marker: reached.get(milestone) for _key, _label, marker, milestone in POINTS}
    return {
        "points": points,
        "series": series,
        "from": start,
        "to": end,
        "samples": len(ordered),
        "markers": _markers(edges, marks),
    }
