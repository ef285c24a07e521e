"""Metric samples in a PostgreSQL timeline: `cockpit.core.sample_store` for ``cockpit.samples``.

The same rows as on SQLite (times as the same ISO text, error texts scrubbed), outside the hash
chain and prunable. Each function takes the session's connection; the caller runs it through
`cockpit.core.pg_connect.PgSession.run`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from cockpit.core.clock import iso_ms
from cockpit.core.damage import SAMPLE_TYPES, check_times, check_types
from cockpit.core.metrics import Sample
from cockpit.core.pg_connect import Conn
from cockpit.core.redact import scrub
from cockpit.core.sample_store import StoredSample

_SELECTED = ", ".join(name for name, _ in SAMPLE_TYPES)  # StoredSample's fields


def rows_of(incident: int, samples: Iterable[Sample]) -> list[tuple[Any, ...]]:
    """The rows to insert, made once (a retried insert inserts the same rows)."""
    return [
        (incident, iso_ms(s.at), s.metric, s.value, s.source, scrub(s.error) if s.error else "")
        for s in samples
    ]


def insert(conn: Conn, rows: Sequence[tuple[Any, ...]], key: str | None = None) -> int:
    """Insert `rows_of` rows (the caller holds the transaction); returns how many. With a
    batch `key` already stored (a retry after a commit whose answer was lost), nothing: 0."""
    if key is not None and rows:
        claimed = conn.execute(
            "INSERT INTO cockpit.sample_batches (batch_key, incident, count)"
            " VALUES (%s, %s, %s) ON CONFLICT (batch_key) DO NOTHING RETURNING batch_key",
            (key, rows[0][0], len(rows)),
        ).fetchone()
        if claimed is None:
            return 0
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO cockpit.samples (incident, at, metric, value, source, error)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
    return len(rows)


def select(conn: Conn, incident: int, metric: str | None, where: str) -> list[StoredSample]:
    """An incident's samples in time order, optionally of one metric.

    Raises:
        TimelineDamaged: A sample holds a time that is none (its id is named).
    """
    query = f"SELECT id, {_SELECTED} FROM cockpit.samples WHERE incident = %s"
    params: list[object] = [incident]
    if metric is not None:
        query += " AND metric = %s"
        params.append(metric)
    found = conn.execute(query + " ORDER BY at, id", params).fetchall()
    rows = [tuple(row[1:]) for row in found]
    ids = {id(row): sample_id[0] for row, sample_id in zip(rows, found, strict=True)}

    def named(row: tuple[object, ...]) -> str:
        return f"sample {ids.get(id(row), '?')}"

    check_types(where, rows, SAMPLE_TYPES, named)
    check_times(where, rows, 0, named, name="at")
    return list(map(StoredSample._make, rows))


def prune(conn: Conn, before: datetime) -> int:
    """Delete samples older than `before` (autocommit: one statement)."""
    return conn.execute("DELETE FROM cockpit.samples WHERE at < %s", (iso_ms(before),)).rowcount
