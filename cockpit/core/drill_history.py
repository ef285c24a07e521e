"""Drills over time: each drill of a timeline scored (cockpit.core.drill_score), per procedure,
newest first, with the change against the drill of the same procedure before it.

Each drill is scored under the copy of its procedure it recorded when it opened (the file as
it is now for a drill opened before copies were kept), as `cockpit export` reads it; a drill
whose procedure cannot be loaded is scored without targets and checklists, and says so.
Headless: no Textual, no Rich; the lines are plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cockpit.core.drill_score import DrillScore, score_drill

if TYPE_CHECKING:
    from cockpit.core.incidents import Incident
    from cockpit.core.procedure import Procedure
    from cockpit.core.timeline_open import AnyTimeline


def drill_procedure(store: AnyTimeline, incident: Incident) -> Procedure | None:
    """The procedure a drill ran under (its recorded copy), None when it cannot be loaded."""
    from cockpit.core.errors import CockpitError
    from cockpit.core.procedure_copy import load, read_copy, recorded_copy

    if not incident.procedure:
        return None
    try:
        copy = recorded_copy(store, incident.id) or read_copy(incident.procedure)
    except (CockpitError, OSError):
        return None
    return load(copy).procedure  # through the procedure cache: one validation per text


def drill_scores(store: AnyTimeline) -> list[DrillScore]:
    """Every drill of the timeline, scored, newest first."""
    return [
        score_drill(i, store.events(i.id), drill_procedure(store, i))
        for i in store.incidents()
        if i.drill
    ]


def history(scores: Sequence[DrillScore]) -> dict[str, list[dict[str, Any]]]:
    """Per procedure, its drills newest first, each with its change against the one before
    it (`change` in points, `trend` up, down or same; None for a procedure's first drill)."""
    by_procedure: dict[str, list[DrillScore]] = {}
    for score in sorted(scores, key=lambda s: s.incident):
        by_procedure.setdefault(score.procedure or "(none)", []).append(score)
    result: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(by_procedure):
        rows: list[dict[str, Any]] = []
        previous: DrillScore | None = None
        for score in by_procedure[name]:
            change = None if previous is None else score.score - previous.score
            trend = None if change is None else "up" if change > 0 else "down" if change else "same"
            rows.append({**score.as_dict(), "change": change, "trend": trend})
            previous = score
        result[name] = rows[::-1]
    return result


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{round(value, 1):g}"


def score_lines(score: DrillScore) -> list[str]:
    """A drill's score and its parts, as the terminal shows them."""
    state = "closed" if score.status == "closed" else "still open"
    lines = [
        f"Drill {score.incident} ({score.procedure or 'no procedure'}, opened "
        f"{score.opened_at[:16].replace('T', ' ')} UTC, {state}): {score.score}/100"
    ]
    for part in score.parts:
        earned = f"{_points(part.points)}/{part.weight:g}"
        lines.append(f"  {part.title:15} {earned:>8}  {part.detail}")
    return lines


def history_lines(drills: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The drills per procedure, newest first, with their trend."""
    if not drills:
        return ["No drills yet: `cockpit drill PROCEDURE` runs one."]
    lines: list[str] = []
    for name, rows in drills.items():
        lines.append(f"{name}: {len(rows)} drill(s), newest first")
        for row in rows:
            change = row["change"]
            trend = "first" if change is None else f"{row['trend']} {change:+d}"
            when = str(row["opened_at"])[:16].replace("T", " ")
            still = "" if row["status"] == "closed" else "  (still open)"
            lines.append(
                f"  #{row['incident']:<5} {when} UTC  {row['score']:>3}/100  {trend}{still}"
            )
    return lines
