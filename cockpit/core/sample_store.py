"""Metric samples kept in the timeline database, so rules can be replayed and shown afterwards.

Not hash-chained and prunable: they are measurements at a few per second, not the record of
what people and the cockpit did. Error texts are scrubbed like every other text we store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from cockpit.core.clock import iso_ms
from cockpit.core.damage import SAMPLE_TYPES, check_times, check_types
from cockpit.core.metrics import Sample
from cockpit.core.redact import scrub

_SELECTED = ", ".join(name for name, _ in SAMPLE_TYPES)  # StoredSample's fields


class StoredSample(NamedTuple):
    """One persisted reading (`value` None: the source had none, `error` says why).

    A named tuple: an export reads tens of thousands, and builds them twice as fast.
    """

    at: str
    metric: str
    value: float | None
    source: str
    error: str


def insert(conn: sqlite3.Connection, incident: int, samples: Iterable[Sample]) -> int:
    """Insert samples (the caller holds the write transaction); returns how many."""
    rows = [
        (incident, iso_ms(s.at), s.metric, s.value, s.source, scrub(s.error) if s.error else "")
        for s in samples
    ]
    conn.executemany(
        "INSERT INTO samples (incident, at, metric, value, source, error)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def select(
    conn: sqlite3.Connection, incident: int, metric: str | None = None, path: object = None
) -> list[StoredSample]:
    """An incident's samples in time order, optionally of one metric.

    Raises:
        TimelineDamaged: A sample of `path` holds a value of the wrong type or a time that is
            none; its id is named.
    """
    sql = f"SELECT {_SELECTED} FROM samples WHERE incident = ?"
    params: list[object] = [incident]
    if metric is not None:
        sql += " AND metric = ?"
        params.append(metric)
    sql += " ORDER BY at, id"
    rows = conn.execute(sql, params).fetchall()

    def where(row: tuple[object, ...]) -> str:
        # Only for a message: the id is not selected, which would cost every read a copy.
        found = conn.execute(
            sql.replace(_SELECTED, "id", 1) + " LIMIT 1 OFFSET ?", [*params, rows.index(row)]
        ).fetchone()
        return f"sample {found[0]}" if found else "a sample"

    check_types(path, rows, SAMPLE_TYPES, where)
    check_times(path, rows, 0, where, name="at")
    return list(map(StoredSample._make, rows))


def prune(conn: sqlite3.Connection, before: datetime) -> int:
    """Delete samples older than `before` (the caller holds the write transaction)."""
    return conn.execute("DELETE FROM samples WHERE at < ?", (iso_ms(before),)).rowcount
