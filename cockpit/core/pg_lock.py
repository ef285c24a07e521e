"""One action at a time per target across jump hosts: `cockpit.core.lock.TargetLock` on
PostgreSQL, for cockpits sharing a PostgreSQL timeline.

The lock is a session-level ``pg_advisory_lock`` held on a connection of its own for as long as
the action runs. The server releases it when that session ends, however it ends (the cockpit
killed, its host gone and the TCP keepalives expired, the backend terminated by an admin), so a
dead responder never leaves a stale lock, as the kernel does for the SQLite side's flock.

Key space: one bigint per target, `lock_key(key)`, the first 8 bytes of a SHA-256 of the
target's key (provider and target, as `cockpit.action_runner` builds it), stable across hosts
and Python versions. PostgreSQL keeps one-bigint advisory keys apart from two-integer ones
(``objsubid`` 1 and 2 in ``pg_locks``), and the event log's own locks are two-integer:
(0x436B7074 'Ckpt', 1) appends and (0x436B7074, 2) migrations (`cockpit.core.pg_schema`), so no
target can ever take one of those. Two targets sharing a hash (about 1 in 2**64 per pair) would
only make one wait for the other.

Who holds it: the holder writes a row in ``cockpit.action_locks`` (schema version 3) right after
it gets the lock: target, its pid, host, actor and since when, and its backend's pid. A cockpit
refused the lock reads the row whose backend ``pg_locks`` shows holding the lock, so a row left
by a dead holder is never shown; when there is none yet (the holder is between its lock and its
row) the error says "another cockpit". `LockHeld` carries the `Holder` as ``holder``, as the
SQLite lock's does.

A lost connection means a lost lock: the server has released it, and another responder may hold
it already. The lock watches its idle connection (a terminated backend or expired keepalives
make its socket readable); it then marks itself lost, calls `on_lost` once (on the watcher's
thread: post, never touch the UI), and `check()`, which the action runner calls before each
step that changes something, raises `LockLost`. `held` turns False.

Pure Python, no Textual, no Rich.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import socket
import threading
from collections.abc import Callable

import psycopg

from cockpit.core.actor import current_actor
from cockpit.core.clock import Clock, SystemClock
from cockpit.core.errors import LockHeld, LockLost, TimelineError
from cockpit.core.lock import Holder
from cockpit.core.pg_connect import Conn, PgTarget, Timeouts, translate

LOCK_TIMEOUTS = Timeouts(connect=5.0, statement=5.0, lock=5.0)
"""Taking a lock never waits on another holder (``pg_try_advisory_lock``); these bound the
connection and its statements."""

WATCH_PERIOD = 0.25
"""How often the watcher looks whether the lock was released (it wakes at once on a loss)."""

ADVISORY_MATCH = (
    "l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
    " AND l.classid = %s::oid AND l.objid = %s::oid"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_HOLDER = (
    "SELECT a.pid, a.host, a.actor, a.since, l.pid FROM pg_locks AS l"
    " LEFT JOIN cockpit.action_locks AS a ON a.lock_key = %s AND a.backend_pid = l.pid"
    f" WHERE {ADVISORY_MATCH} LIMIT 1"
)
_CLAIM = (
    "INSERT INTO cockpit.action_locks (lock_key, target, backend_pid, pid, host, actor, since)"
    " VALUES (%s, %s, pg_backend_pid(), %s, %s, %s, %s) ON CONFLICT (lock_key) DO UPDATE SET"
    " target = excluded.target, backend_pid = excluded.backend_pid, pid = excluded.pid,"
    " host = excluded.host, actor = excluded.actor, since = excluded.since"
)


def lock_key(key: str) -> int:
    """The target's advisory lock key: a signed 64-bit integer, the same on every host."""
    digest = hashlib.sha256(b"rollback-cockpit target lock\0" + key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def key_halves(key: int) -> tuple[int, int]:
    """How ``pg_locks`` shows a bigint key: its high and low 32 bits, unsigned."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


class PgTargetLock:
    """One action at a time on one target, across cockpits sharing a PostgreSQL timeline.

    Args:
        target: The timeline's database (`PgTarget.parse`); the lock opens its own connection.
        key: The target's key (it names the provider too).
        shown: The target as the responder knows it.
        clock: Source of the holder's "since".
        actor: Who acts, as the holder's row names them (default `current_actor()`).
        on_lost: Called once, on the watcher's thread, if the held lock is lost.
        timeouts: The limits of the lock's connection.
    """

    def __init__(
        self,
        target: PgTarget,
        key: str,
        *,
        shown: str | None = None,
        clock: Clock | None = None,
        actor: str | None = None,
        on_lost: Callable[[LockLost], object] = lambda _: None,
        timeouts: Timeouts = LOCK_TIMEOUTS,
    ) -> None:
        self.pg = target
        self.key = lock_key(key)
        self.target = shown or key
        """The target as the responder knows it."""
        self.clock = clock or SystemClock()
        self.actor = actor
        self.timeouts = timeouts
        self._on_lost = on_lost
        self._conn: Conn | None = None
        self._lost: LockLost | None = None
        self._guard = threading.RLock()  # on_lost, called under it, may call check()
        self._released = threading.Event()

    @property
    def held(self) -> bool:
        """Whether this object holds the lock (False once it is released or lost)."""
        return self._conn is not None and self._lost is None

    @property
    def lost(self) -> LockLost | None:
        """Why the lock was lost while held, if it was."""
        return self._lost

    def busy_message(self, holder: Holder | None) -> str:
        """Why the lock cannot be had, naming who has it."""
        who = (
            f"{holder.actor} on {holder.host} (pid {holder.pid}) since {holder.since}"
            if holder
            else "another cockpit"
        )
        return f"another action is running on {self.target}: held by {who}"

    def holder(self) -> Holder | None:
        """The live holder, as it wrote itself down; None when free or not yet written.

        Raises:
            TimelineError: The database cannot be reached or refused the query.
        """
        if self._conn is not None and self._lost is None:
            with self._guard:
                return self._holder_on(self._conn)
        conn = self._connect("reading who holds the lock")
        try:
            return self._holder_on(conn)
        except psycopg.Error as error:
            raise translate(self.pg, error, "reading who holds a lock", self.timeouts) from None
        finally:
            conn.close()

    def _holder_on(self, conn: Conn) -> Holder | None:
        try:
            row = conn.execute(_HOLDER, (self.key, *key_halves(self.key))).fetchone()
        except psycopg.errors.UndefinedTable:
            return None  # a schema before version 3: the lock works, its holder is unnamed
        if row is None or row[0] is None:
            return None
        return Holder(pid=int(row[0]), host=str(row[1]), actor=str(row[2]), since=str(row[3]))

    def _connect(self, what: str) -> Conn:
        try:
            return self.pg.connect(self.timeouts)
        except TimelineError as error:
            raise type(error)(f"{error} ({what} on {self.target})") from None

    def acquire(self) -> None:
        """Take the lock, or raise `LockHeld` naming the live holder (never waits for it).

        Raises:
            LockHeld: Another session holds it (``holder`` set on the error, maybe None).
            TimelineError: The database cannot be reached (`TimelineUnavailable`) or refused.
        """
        if self.held:
            return
        conn = self._connect("taking the action lock")
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            if row is None or not row[0]:
                holder = self._holder_on(conn)
                error = LockHeld(self.busy_message(holder))
                error.holder = holder  # type: ignore[attr-defined]
                raise error
            self._write_holder(conn)
        except psycopg.Error as error:
            conn.close()
            raise translate(self.pg, error, "taking the action lock", self.timeouts) from None
        except BaseException:
            conn.close()
            raise
        # Each holding has its own watcher and its own "released": a watcher of an earlier
        # holding, still waking up, never judges this one.
        self._conn, self._lost, self._released = conn, None, threading.Event()
        threading.Thread(
            target=self._watch, args=(conn, self._released), name="pg-target-lock", daemon=True
        ).start()

    def _write_holder(self, conn: Conn) -> None:
        """Name this process as the holder (a schema before version 3 has nowhere to)."""
        since = self.clock.now().strftime("%Y-%m-%d %H:%M:%S")
        actor = self.actor if self.actor is not None else current_actor()
        values = (self.key, self.target, os.getpid(), socket.gethostname(), actor, since)
        with contextlib.suppress(psycopg.errors.UndefinedTable):
            conn.execute(_CLAIM, values)

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False when someone holds it."""
        try:
            self.acquire()
        except LockHeld:
            return False
        return True

    def check(self) -> None:
        """Prove the lock is still held (one round trip); call before each step that changes
        something.

        Raises:
            LockLost: The connection was lost (the server released the lock), or the lock was
                never taken or already released.
        """
        with self._guard:
            if self._lost is not None:
                raise self._lost
            conn = self._conn
            if conn is None:
                raise LockLost(f"the action lock on {self.target} is not held")
            try:
                conn.execute("SELECT 1")
            except psycopg.Error as error:
                raise self._lose(conn, error) from None

    def _lose(self, conn: Conn, error: BaseException) -> LockLost:
        """Mark the lock lost (the caller holds the guard) and say so once."""
        if self._lost is None:
            reason = self.pg.message(error)
            self._lost = LockLost(
                f"the action lock on {self.target} was lost with its connection to "
                f"{self.pg.shown()} ({reason}); the server has released it, so another "
                "responder may act on the target now"
            )
            conn.close()
            self._on_lost(self._lost)
        return self._lost

    def _watch(self, conn: Conn, released: threading.Event) -> None:
        """While held: an idle connection whose socket turns readable was closed or broken
        (a terminated backend says so; a dead network does once the keepalives give up)."""
        while not released.is_set():
            try:
                ready, _, _ = select.select([conn.fileno()], [], [], WATCH_PERIOD)
            except (OSError, ValueError, psycopg.Error):
                ready = [True]  # the connection is gone under us
            if not ready:
                continue
            with self._guard:
                if released.is_set() or self._conn is not conn or self._lost is not None:
                    return
                try:
                    conn.execute("SELECT 1")  # reads what arrived; fails if it is gone
                except psycopg.Error as error:
                    self._lose(conn, error)
                    return

    def release(self) -> None:
        """Give the lock back (a lost one is released already; also happens when the process
        or its connection dies)."""
        self._released.set()
        with self._guard:
            conn, self._conn = self._conn, None
            if conn is None or self._lost is not None:
                return
            try:
                conn.execute(
                    "DELETE FROM cockpit.action_locks"
                    " WHERE lock_key = %s AND backend_pid = pg_backend_pid()",
                    (self.key,),
                )
            except psycopg.Error:
                pass  # a schema without the table, or the connection is gone: closing is enough
            finally:
                conn.close()  # ends the session, which releases its advisory locks
