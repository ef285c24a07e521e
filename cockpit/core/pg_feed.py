"""The change feed on PostgreSQL: `cockpit.core.feed.SqliteFeed`'s contract over LISTEN/NOTIFY.

Every event committed to one incident, by this cockpit, another one on another jump host or the
CLI, delivered in id order on a thread of the feed's own, so the screen never waits on the
network.

The feed holds one dedicated autocommit connection that ``LISTEN``s on
`cockpit.core.pg_schema.NOTIFY_CHANNEL` (the server's insert trigger sends ``'<id> <incident or
->'``, delivered at commit). A notification only wakes the feed: it then reads the incident's
rows after the last id it handed over, so a notification missed, merged or lost with a
connection costs nothing but a moment. It also reads every `period` seconds whatever it heard
(the safety net), and at once when poked (the writer pokes it after each commit).

A lost connection (a network cut, a failover, the backend terminated) is reported once through
`failed`; the feed reconnects with a growing pause (at most `RECONNECT_PAUSE_CAP` seconds),
``LISTEN``s again before it reads, catches up from its last id and says so through `resumed`.
Every wait is bounded: the connection attempt (``connect_timeout``), each statement
(``statement_timeout``), the wait for a notification (the period), and `stop()` (it pokes the
thread awake through a socket pair and joins it for at most `STOP_JOIN` seconds). A read on a
network that went silent (no reset) waits on the server's answer until the connection's TCP
keepalives give up (about 25 s, `cockpit.core.pg_connect`); the thread is a daemon, and `stop()`
does not wait for it beyond `STOP_JOIN`.

Pure Python, no Textual, no Rich.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import psycopg

from cockpit.core.errors import TimelineError
from cockpit.core.event_log import events_from_rows
from cockpit.core.feed import BATCH
from cockpit.core.pg_connect import Conn, PgTarget, Timeouts, translate
from cockpit.core.pg_schema import NOTIFY_CHANNEL, PG_EVENT_COLUMNS

if TYPE_CHECKING:
    from cockpit.core.event_log import Event

PG_FEED_PERIOD = 1.0
"""Seconds between two reads when nothing wakes the feed: only a safety net, since a NOTIFY
wakes it at once."""

RECONNECT_PAUSE_CAP = 2.0
"""The longest pause between two connection attempts while the server cannot be reached."""

STOP_JOIN = 1.0
"""`stop()` waits at most this long for the thread (it ends after its current statement)."""

FEED_TIMEOUTS = Timeouts(connect=5.0, statement=5.0, lock=5.0)
"""The feed's connection limits: short, so a dead server is noticed and stop stays prompt."""

_READ = (
    f"SELECT {PG_EVENT_COLUMNS} FROM cockpit.events"
    " WHERE incident = %s AND id > %s ORDER BY id LIMIT %s"
)


class PgFeed:
    """Reads an incident's new events from PostgreSQL on its own thread and delivers them.

    Args:
        target: The timeline's database (`PgTarget.parse`); the feed opens its own connection.
        incident: The incident followed.
        after_id: The last event id already known.
        deliver: Called on the feed's thread with each batch, in id order (must only post).
        failed: Called on the feed's thread when reading or the connection fails, once per
            failing streak (the feed keeps trying).
        resumed: Called on the feed's thread, with a sentence saying so, when the feed is
            back after a failure and has caught up.
        period: Seconds between two reads when nothing wakes the feed.
        timeouts: The limits of the feed's connection.
    """

    def __init__(
        self,
        target: PgTarget,
        incident: int,
        after_id: int,
        deliver: Callable[[list[Event]], object],
        *,
        failed: Callable[[TimelineError], object] = lambda _: None,
        resumed: Callable[[str], object] = lambda _: None,
        period: float = PG_FEED_PERIOD,
        timeouts: Timeouts = FEED_TIMEOUTS,
    ) -> None:
        self.target = target
        self.where = target.shown()
        self.incident = incident
        self.last_id = after_id
        self._deliver = deliver
        self._failed = failed
        self._resumed = resumed
        self.period = period
        self.timeouts = timeouts
        self.connections = 0
        """How many connections the feed has opened (1 unless it had to reconnect)."""
        self._stopped = threading.Event()
        # A socket pair, not a pipe: once closed, a late poke fails instead of writing to a
        # file descriptor number the process may have reused.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="pg-change-feed", daemon=True)

    # --- the App's side -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (once); it reads what is new at once, then when woken."""
        if not self._thread.is_alive() and not self._stopped.is_set():
            self._thread.start()

    def poke(self) -> None:
        """Look now (thread-safe; the writer calls it after each commit)."""
        with contextlib.suppress(OSError):  # full (a wake-up is pending anyway) or closed
            self._wake_w.send(b"!")

    def stop(self) -> None:
        """Stop; waits at most `STOP_JOIN` seconds for the thread to finish its statement."""
        self._stopped.set()
        self.poke()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_JOIN)
        elif self._thread.ident is None:  # never started: nobody else closes the pair
            self._close_wake()

    # --- the feed's thread --------------------------------------------------------------------

    def _run(self) -> None:
        conn: Conn | None = None
        failures = 0
        try:
            while not self._stopped.is_set():
                try:
                    if conn is None:
                        conn = self._listen()
                        caught_up_from = self.last_id
                        self._read(conn)
                        if failures:
                            failures = 0
                            self._resumed(
                                f"{self.where}: the change feed is connected again and caught "
                                f"up from event {caught_up_from} to {self.last_id}"
                            )
                    if self._wait(conn):
                        self._read(conn)
                except (psycopg.Error, TimelineError) as error:
                    if isinstance(error, psycopg.Error):
                        error = translate(
                            self.target, error, "following the timeline", self.timeouts
                        )
                    if conn is not None:
                        conn.close()
                        conn = None
                    failures += 1
                    if failures == 1:  # once per failing streak, as sources are reported
                        self._failed(error)
                    self._pause(min(self.period * 2 ** (failures - 1), RECONNECT_PAUSE_CAP))
        finally:
            if conn is not None:
                conn.close()
            self._close_wake()

    def _listen(self) -> Conn:
        """A new connection, listening before its first read: nothing committed in between
        can be missed."""
        conn = self.target.connect(self.timeouts)
        self.connections += 1
        try:
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _wait(self, conn: Conn) -> bool:
        """Wait (at most one period) for a notification, a poke or the period's end; whether
        to read now. Notifications of other incidents alone do not make the feed read."""
        deadline = time.monotonic() + self.period
        while not self._stopped.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return True  # the safety net: read even if nothing was heard
            wake = self._wake_r.fileno()
            ready, _, _ = select.select([conn.fileno(), wake], [], [], left)
            if self._stopped.is_set():
                return False
            if wake in ready:
                self._drain_wake()
                return True
            if ready:
                # Reading what arrived also finds a connection the server closed.
                heard = [note.payload for note in conn.notifies(timeout=0)]
                if conn.closed:
                    raise psycopg.OperationalError("the server closed the connection")
                if any(self._concerns_us(payload) for payload in heard):
                    return True
        return False

    def _concerns_us(self, payload: str) -> bool:
        parts = payload.split()
        return len(parts) != 2 or parts[1] == str(self.incident)

    def _read(self, conn: Conn) -> None:
        while not self._stopped.is_set():
            rows = conn.execute(_READ, (self.incident, self.last_id, BATCH)).fetchall()
            if not rows:
                return
            found = events_from_rows(rows, self.where)
            self.last_id = found[-1].id
            self._deliver(found)
            if len(found) < BATCH:
                return

    def _pause(self, seconds: float) -> None:
        """Sleep before reconnecting, cut short by stop (or a poke)."""
        with contextlib.suppress(OSError, ValueError):
            select.select([self._wake_r], [], [], seconds)
        self._drain_wake()

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    def _close_wake(self) -> None:
        self._wake_w.close()
        self._wake_r.close()
