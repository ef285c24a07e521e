"""A lock_timeout for pg_restore, which sets `lock_timeout = 0` itself at the start of a restore.

While a restore runs, `LockWatch.poll()` (called by the wait loop every 0.2 s) looks in pg_locks
for a lock the restore's session (found by its own application_name) has waited on longer than
lock_timeout_ms; it then cancels that statement with pg_cancel_backend, which rolls the whole
single-transaction restore back, and remembers who held the lock, for the error: pid, role,
application, state and how long their transaction has been open (never their query text, which
may hold data).
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any

import psycopg

from providers.postgres.db import Database

WAITING_SQL = """
SELECT a.pid, extract(epoch FROM now() - l.waitstart) * 1000, pg_blocking_pids(a.pid)
FROM pg_stat_activity a
JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
WHERE a.application_name = %s AND l.waitstart IS NOT NULL
"""
BLOCKERS_SQL = """
SELECT pid, coalesce(usename, '?'), coalesce(nullif(application_name, ''), 'no application'),
       coalesce(state, '?'), coalesce(extract(epoch FROM now() - xact_start)::int, 0)
FROM pg_stat_activity WHERE pid = ANY (%s) ORDER BY pid
"""


class LockWatch:
    """Cancels the watched session's statement once it has waited `limit_ms` for a lock."""

    def __init__(self, db: Database, application: str, limit_ms: int) -> None:
        self.db = db
        self.application = application
        self.limit_ms = limit_ms
        self.conn: psycopg.Connection[Any] | None = None
        self.blockers: list[str] = []
        self.fired = False

    def __enter__(self) -> LockWatch:
        with contextlib.suppress(Exception):  # no watch is better than no restore
            self.conn = self.db.connect()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.conn is not None:
            self.conn.close()

    def poll(self) -> None:
        if self.conn is None or self.fired:
            return
        try:
            for pid, waited_ms, blocking in self.conn.execute(
                WAITING_SQL, (self.application,)
            ).fetchall():
                if waited_ms is None or float(waited_ms) < self.limit_ms:
                    continue
                rows = self.conn.execute(BLOCKERS_SQL, (list(blocking),)).fetchall()
                self.blockers = [
                    f"pid {b_pid} ({user}, {app}, {state}, transaction open {age} s)"
                    for b_pid, user, app, state, age in rows
                ]
                self.conn.execute("SELECT pg_cancel_backend(%s)", (pid,))
                self.fired = True
                return
        except psycopg.Error:
            self.conn.close()
            self.conn = None

    def held_by(self) -> str:
        return ", ".join(self.blockers) or "another session"
