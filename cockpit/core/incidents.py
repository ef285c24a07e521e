"""Incidents as a projection of their lifecycle events, never a mutable table.

An incident is whatever its ``incident.opened``, ``incident.severity_changed``,
``incident.acknowledged`` and ``incident.closed`` events say, replayed in id order. Only
`Timeline`'s dedicated methods write those kinds, so the projection's rules (no double close,
the first acknowledgement sets the time) hold for every row it reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from cockpit.core.damage import (
    LIFECYCLE_TYPES,
    check_times,
    check_types,
    decode_payloads,
    event_where,
)
from cockpit.core.timeline_schema import EVENTS_BY_KIND

IMPORTED = "incident.imported"
"""The event ending an incident copied from another timeline (`cockpit.core.incident_copy`)."""

LIFECYCLE_KINDS = (
    "incident.opened",
    "incident.severity_changed",
    "incident.acknowledged",
    "incident.closed",
)


@dataclass(frozen=True)
class Incident:
    """An incident as its lifecycle events describe it (a projection, never stored)."""

    id: int
    title: str
    severity: str
    status: Literal["open", "closed"]
    procedure: str | None
    opened_at: str
    closed_at: str | None = None
    acknowledged_at: str | None = None
    drill: bool = False
    resolution: str | None = None


def lifecycle_rows(
    conn: sqlite3.Connection, incident_id: int | None, path: object
) -> list[tuple[int, str, str, dict[str, Any]]]:
    """The lifecycle events of one incident (or of all), in id order, ready for `project`:
    ``(incident, kind, ts, payload)``, with the payload decoded.

    Raises:
        TimelineDamaged: A lifecycle event of `path` cannot be read as written (see
            `cockpit.core.damage`); it is named.
    """
    marks = ", ".join("?" for _ in LIFECYCLE_KINDS)
    # One incident's: through the (incident, kind) index (see EVENTS_BY_KIND).
    source = "events" if incident_id is None else EVENTS_BY_KIND
    sql = f"SELECT id, incident, kind, ts, payload FROM {source} WHERE kind IN ({marks})"
    params: list[Any] = list(LIFECYCLE_KINDS)
    if incident_id is not None:
        sql += " AND incident = ?"
        params.append(incident_id)
    rows = conn.execute(sql + " ORDER BY id", params).fetchall()
    check_types(path, rows, LIFECYCLE_TYPES, event_where)
    check_times(path, rows, 3, event_where)
    payloads = decode_payloads(path, rows, 4, event_where)
    return [(row[1], row[2], row[3], data) for row, data in zip(rows, payloads, strict=True)]


def _text(value: object) -> str | None:
    """A payload field shown as text (the payload is whatever the file holds)."""
    return None if value is None else str(value)


def project(rows: Iterable[tuple[int, str, str, dict[str, Any]]]) -> dict[int, Incident]:
    """Replay ``(incident, kind, ts, payload)`` lifecycle rows into each incident's state."""
    found: dict[int, Incident] = {}
    for incident_id, kind, ts, data in rows:
        moved = advance(found.get(incident_id), incident_id, kind, ts, data)
        if moved is not None:
            found[incident_id] = moved
    return found


def advance(
    current: Incident | None, incident_id: int, kind: str, ts: str, data: Mapping[str, Any]
) -> Incident | None:
    """One lifecycle event applied to an incident's state (None before it was opened).

    The one rule for every reader: the projection over rows and the live IncidentState.
    """
    if kind == "incident.opened":
        return Incident(
            id=incident_id,
            title=str(data.get("title", "")),
            severity=str(data.get("severity", "")),
            status="open",
            procedure=_text(data.get("procedure")),
            opened_at=ts,
            drill=bool(data.get("drill", False)),
        )
    if current is None:
        return None
    if kind == "incident.severity_changed":
        return replace(current, severity=str(data.get("to", "")))
    if kind == "incident.acknowledged" and current.acknowledged_at is None:
        return replace(current, acknowledged_at=ts)
    if kind == "incident.closed":
        return replace(
            current, status="closed", closed_at=ts, resolution=_text(data.get("resolution"))
        )
    return current
