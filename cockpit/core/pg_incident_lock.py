"""Who drives an incident kept on PostgreSQL: `cockpit.core.lock.IncidentLock` as an advisory
lock, so the cockpits of a team on several jump hosts elect one driver (the one that records
readings and triggers, pages, reminds and sends).

It is `PgTargetLock` on the key ``incident:N`` (its holder row names who drives and since when;
the server releases it when the driver's session ends, however it ends). Taking over cannot
signal a process on another host, as the SQLite side does: it ends the holder's lock session
with ``pg_terminate_backend`` (allowed between sessions of the same role), which the old
driver's watcher sees as a lost lock, and then takes the lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from cockpit.core.clock import Clock
from cockpit.core.errors import LockHeld, LockLost
from cockpit.core.lock import Holder
from cockpit.core.pg_connect import PgTarget, translate
from cockpit.core.pg_lock import ADVISORY_MATCH, PgTargetLock, key_halves


class PgIncidentLock(PgTargetLock):
    """The driver's lock of one incident on a PostgreSQL timeline (`PgTargetLock`'s arguments,
    the incident's id for the key)."""

    def __init__(
        self,
        target: PgTarget,
        incident_id: int,
        *,
        clock: Clock | None = None,
        actor: str | None = None,
        on_lost: Callable[[LockLost], object] = lambda _: None,
    ) -> None:
        super().__init__(
            target,
            f"incident:{incident_id}",
            shown=f"incident {incident_id}",
            clock=clock,
            actor=actor,
            on_lost=on_lost,
        )

    def busy_message(self, holder: Holder | None) -> str:
        who = (
            f"{holder.actor} on {holder.host} (pid {holder.pid}) since {holder.since}"
            if holder
            else "another cockpit"
        )
        return f"incident is driven by another cockpit: {who}"

    def take_over(self, *, grace_seconds: float = 3.0) -> None:
        """End the holder's lock session and take the lock.

        Raises:
            LockHeld: Still held after the grace period (the role may not end the holder's
                session: another role holds it).
            TimelineError: The database cannot be reached.
        """
        if self.held:
            return
        conn = self._connect("taking over the incident")
        try:
            conn.execute(
                f"SELECT pg_terminate_backend(l.pid) FROM pg_locks AS l WHERE {ADVISORY_MATCH}"
                " AND l.pid <> pg_backend_pid()",
                key_halves(self.key),
            )
        except psycopg.Error as error:
            raise translate(self.pg, error, "taking over the incident", self.timeouts) from None
        finally:
            conn.close()
        deadline = time.monotonic() + grace_seconds
        while True:
            try:
                self.acquire()
                return
            except LockHeld:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
