"""The timeline's SQLite schema: the events table, its versioned migrations and their runner.

The schema version lives in SQLite's ``user_version``. Migrations are built with sqlite-utils,
which takes about 0.2 s to import, so it is imported only when a migration actually has to run:
opening an up-to-date timeline (`cockpit timeline verify`, the app's first paint) never pays
for it, hence the `TYPE_CHECKING` import below.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.core.errors import TimelineError

if TYPE_CHECKING:
    from sqlite_utils import Database

SCHEMA_VERSION = 3
# Column order of every SELECT and INSERT on events; `Event` and the verify walk unpack it.
EVENT_COLUMNS = "id, incident, ts, kind, actor, summary, payload, command, prev_hash, hash"
# Every column of samples (opening checks they are all there).
SAMPLE_COLUMNS = "id, incident, at, metric, value, source, error"
# What a query reading a few kinds of one incident selects FROM. Left to choose, SQLite walks
# the (incident, id) index for an ORDER BY id and reads every event of the incident (70 ms at
# 100,000 events, to find its three lifecycle events) instead of the (incident, kind) index.
EVENTS_BY_KIND = "events INDEXED BY events_incident_kind"


def _migration_1(db: Database) -> None:
    """Create the events table, its lookup indexes and the append-only triggers."""
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            incident INTEGER,
            ts TEXT NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT NOT NULL,
            summary TEXT NOT NULL,
            payload TEXT NOT NULL,
            command TEXT,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX events_incident_kind ON events (incident, kind)")
    db.execute("CREATE INDEX events_kind ON events (kind)")
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
            "BEGIN SELECT RAISE(ABORT, 'timeline is append-only'); END"
        )


def _migration_2(db: Database) -> None:
    """Create the samples table: metric readings kept so rules can be replayed (backtest).

    Samples are measurements, not actions: they stay outside the hash chain and, unlike events,
    may be pruned by retention.
    """
    db["samples"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "incident": int,
            "at": str,
            "metric": str,
            "value": float,
            "source": str,
            "error": str,
        },
        pk="id",
        not_null={"incident", "at", "metric", "source", "error"},
    )
    db.execute("CREATE INDEX samples_incident_metric_at ON samples (incident, metric, at)")
    db.execute("CREATE INDEX samples_at ON samples (at)")


def _migration_3(db: Database) -> None:
    """Index events by incident in id order: reading one incident (the app's start and tail,
    `cockpit export`) no longer sorts its rows (100,000 events: 0.47 s to 0.27 s)."""
    db.execute("CREATE INDEX events_incident_id ON events (incident, id)")


# Append only: a released version's migration is never edited, a new one is added.
MIGRATIONS: tuple[tuple[int, Callable[[Database], None]], ...] = (
    (1, _migration_1),
    (2, _migration_2),
    (3, _migration_3),
)


def user_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database (0 for a new, empty file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(
    conn: sqlite3.Connection,
    path: Path,
    write: Callable[[], AbstractContextManager[None]],
) -> None:
    """Bring the schema up to `SCHEMA_VERSION`, one migration per write transaction.

    Args:
        conn: The timeline connection.
        path: The database file, for error messages.
        write: Opens one IMMEDIATE write transaction on `conn` (`Timeline._write`).

    Raises:
        TimelineError: The schema is newer than this code, or the file holds something else.
    """
    version = user_version(conn)
    if version > SCHEMA_VERSION:
        raise TimelineError(
            f"{path}: timeline schema version {version} is newer than this cockpit "
            f"understands ({SCHEMA_VERSION}); upgrade rollback-cockpit to open it"
        )
    if version == SCHEMA_VERSION:
        return
    if version == 0:
        foreign = conn.execute(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' LIMIT 1"
        ).fetchone()
        if foreign is not None:
            raise TimelineError(
                f"{path}: a SQLite database but not a cockpit timeline "
                f"(it has a table or index {foreign[0]!r})"
            )
    from sqlite_utils import Database  # deferred: ~0.2 s of imports, needed only here

    db = Database(conn, recursive_triggers=False)
    for target, step in MIGRATIONS:
        with write():
            # Re-read under the write lock: another process may have migrated meanwhile.
            if user_version(conn) >= target:
                continue
            step(db)
            # The version is part of the same transaction as the migration it records.
            conn.execute(f"PRAGMA user_version = {int(target)}")
