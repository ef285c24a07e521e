"""The event log on PostgreSQL: the SQLite `EventLog`'s append, read and verify contract, for
responders on several jump hosts sharing one incident.

The schema and the server's rules are in `cockpit.core.pg_schema`, connecting and errors in
`cockpit.core.pg_connect`, the verify walk in `cockpit.core.pg_verify`. Events are the SQLite
log's `Event`, normalised by the same `clean_fields` and chained by the same
`cockpit.core.chain.chain_hash`, so identical inputs give identical hashes on either backend.

Appending: one transaction takes the append lock (``pg_advisory_xact_lock``), looks the event's
idempotency key up, reads the chain head, inserts ``head + 1`` with its hash and commits; the
server's trigger refuses anything that does not extend the head. Two processes on two hosts
therefore queue on the lock and never fork the chain; a wait longer than ``lock_timeout`` is
`TimelineBusy`.

Idempotency: every append has a key (the caller's, or a fresh one made before the first
attempt). When the connection is lost (a network cut, a failover), the append reconnects and
tries again with the same key and the same time; if the lost attempt had committed, the event
is found by its key and returned as it is, so it is committed once. A caller that retries on its
own (an outbox, a writer queue) passes its own key to get the same guarantee. The same key for
a different event is refused.

A log holds one connection and is not thread-safe, like the SQLite one: one per thread
(`sibling()`). Pure Python, no Textual, no Rich.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from cockpit.core.chain import GENESIS_HASH, VerifyReport, chain_hash
from cockpit.core.clock import Clock, SystemClock, iso_ms
from cockpit.core.damage import ROW_TYPES, check_types, event_where
from cockpit.core.errors import IncidentError, TimelineError
from cockpit.core.event_log import RESERVED_PREFIXES, Event, clean_fields, events_from_rows
from cockpit.core.pg_connect import Conn, PgSession, PgTarget, Timeouts
from cockpit.core.pg_schema import APPEND_LOCK, PG_EVENT_COLUMNS
from cockpit.core.pg_verify import verify_pg

_SELECT = f"SELECT {PG_EVENT_COLUMNS} FROM cockpit.events"
_INSERT = (
    f"INSERT INTO cockpit.events ({PG_EVENT_COLUMNS}, idem_key)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


class PgEventLog:
    """The append-only, hash-chained events of one PostgreSQL database.

    Args:
        dsn: A ``postgresql://`` URL or key=value string (several hosts for failover are
            libpq's business: ``host=a,b target_session_attrs=read-write``).
        password: The password, kept out of the DSN (it wins over one in it).
        clock: Source of event timestamps (default: the system clock).
        actor: Who is acting; default `cockpit.core.actor.current_actor()` at first append.
        create: If False, a database without a timeline is an error instead of a new one.
        timeouts: Connection, statement and lock-wait limits.
        attempts: Tries per operation when the connection is lost (reconnecting between).
        retry_pause: Seconds between two tries (a failover takes a moment).

    Raises:
        TimelineUnavailable: The server refused the connection or the login (host and port
            named, never the password).
        SchemaTooNew: The database's timeline schema is newer than this code.
        TimelineError: Anything else that stops the timeline from being opened.
    """

    def __init__(
        self,
        dsn: str,
        *,
        password: str | None = None,
        clock: Clock | None = None,
        actor: str | None = None,
        create: bool = True,
        timeouts: Timeouts | None = None,
        attempts: int = 3,
        retry_pause: float = 1.0,
    ) -> None:
        self._dsn = dsn
        self._clock: Clock = clock or SystemClock()
        self._actor = actor
        self._known_incidents: set[int] = set()
        self._session = PgSession(
            PgTarget.parse(dsn, password=password),
            timeouts or Timeouts(),
            create=create,
            attempts=attempts,
            retry_pause=retry_pause,
        )
        self.where = self._session.where
        self._run = self._session.run
        self._job_key: str | None = None
        self._job_keys = 0

    def keyed(self, job_key: str | None) -> None:
        """Derive the idempotency keys of the next appends from `job_key` (None: random ones).

        The writer retries a job after the server was lost for longer than one call's own
        retries (a failover): set to the same key before each try, the retry finds what a lost
        commit stored instead of appending it again.
        """
        self._job_key, self._job_keys = job_key, 0

    def _new_key(self) -> str:
        """An idempotency key for one event: the job's next, else a random one."""
        if self._job_key is None:
            return uuid.uuid4().hex
        self._job_keys += 1
        return f"{self._job_key}.{self._job_keys}"

    # --- connection -----------------------------------------------------------------------

    @property
    def target(self) -> PgTarget:
        """Where the timeline is, password kept apart: what a change feed
        (`cockpit.core.pg_feed`) or an action lock (`cockpit.core.pg_lock`) opens its own
        connection to."""
        return self._session.target

    @property
    def url(self) -> str:
        """The database as a ``postgresql://`` URL without the password, for a command line."""
        return "postgresql://" + self._session.target.shown()

    def sibling(self) -> Self:
        """Another connection to the same timeline, same clock and actor (for another thread)."""
        session = self._session
        return type(self)(
            self._dsn,
            password=session.target.password,
            clock=self._clock,
            actor=self._actor,
            create=False,
            timeouts=session.timeouts,
            attempts=session.attempts,
            retry_pause=session.retry_pause,
        )

    def close(self) -> None:
        """Close the connection; the object is unusable afterwards."""
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- writing --------------------------------------------------------------------------

    @property
    def actor(self) -> str:
        """Who this log records as acting when a write names nobody else (a cockpit's
        roles are its actor's: `cockpit.core.roles.person_of`)."""
        return self._actor_name()

    def _actor_name(self) -> str:
        if self._actor is None:
            from cockpit.core.actor import current_actor

            self._actor = current_actor()
        return self._actor

    def append(
        self,
        incident: int | None,
        kind: str,
        summary: str,
        payload: Mapping[str, Any] | None = None,
        *,
        command: str | None = None,
        actor: str | None = None,
        at: datetime | None = None,
        key: str | None = None,
        require_incident: bool = False,
    ) -> Event:
        """Append one event, any kind (the incident and action methods build on this; use
        `record` for everything else). Returns the stored event; with the `key` of an event
        already stored, that event, unchanged.

        Raises:
            IncidentError: `require_incident` and the incident does not exist.
            TimelineError: The same key was used for another event, or the server refused.
            TimelineBusy: The append lock or a statement took longer than its timeout.
        """
        fields = self._fields(incident, kind, summary, payload, command, actor, at)
        # Chosen once, before the first try: a retry records the same event at the same time.
        key = key if key is not None else self._new_key()

        def job(conn: Conn) -> Event:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", APPEND_LOCK)
                stored = conn.execute(f"{_SELECT} WHERE idem_key = %s", (key,)).fetchone()
                if stored is not None:
                    return self._same(stored, fields, key)
                if require_incident and incident is not None:
                    self._require_incident(conn, incident)
                return self._insert(conn, fields, key)

        return self._run("appending an event", job)

    def _fields(
        self,
        incident: int | None,
        kind: str,
        summary: str,
        payload: Mapping[str, Any] | None,
        command: str | None,
        actor: str | None,
        at: datetime | None,
    ) -> tuple[Any, ...]:
        """An event's columns as stored and hashed, but its id and hashes:
        ``(incident, ts, kind, actor, summary, payload, command)`` (the time is fixed here, so
        a retry records the same event)."""
        summary, payload_text, command, who = clean_fields(
            summary, payload, command, actor if actor is not None else self._actor_name()
        )
        ts = iso_ms(at if at is not None else self._clock.now())
        return (incident, ts, kind, who, summary, payload_text, command)

    def _insert(self, conn: Conn, fields: tuple[Any, ...], key: str) -> Event:
        """Insert one event as the chain's next (the caller's transaction holds the append
        lock and has looked `key` up)."""
        head = conn.execute("SELECT id, hash FROM cockpit.chain_head").fetchone()
        prev_id, prev_hash = head if head is not None else (0, GENESIS_HASH)
        event_id = prev_id + 1
        digest = chain_hash(prev_hash, event_id, *fields)
        row = (event_id, *fields, prev_hash, digest)
        conn.execute(_INSERT, (*row, key))
        return events_from_rows([row], self.where)[0]

    def _stored(self, conn: Conn, key: str) -> Event | None:
        """The event appended with `key`, if any."""
        stored = conn.execute(f"{_SELECT} WHERE idem_key = %s", (key,)).fetchone()
        return None if stored is None else events_from_rows([stored], self.where)[0]

    def _same(self, stored: tuple[Any, ...], fields: tuple[Any, ...], key: str) -> Event:
        """The stored event when it is the one being appended again (the time aside: a retry
        from a later call keeps the first); a different event with the same key is a bug."""
        if stored[1] != fields[0] or tuple(stored[3:8]) != fields[2:]:
            raise TimelineError(
                f"{self.where}: idempotency key {key!r} is event {stored[0]}'s, "
                "which records something else"
            )
        return events_from_rows([stored], self.where)[0]

    def record(
        self,
        incident: int | None,
        kind: str,
        summary: str,
        payload: Mapping[str, Any] | None = None,
        *,
        command: str | None = None,
        actor: str | None = None,
        at: datetime | None = None,
        key: str | None = None,
    ) -> Event:
        """Append one event with the rules of `EventLog.record`: a valid kind, not one the
        incident and action methods own, and an incident that exists.

        Raises:
            ValueError: The kind is empty or reserved.
            IncidentError: The incident does not exist.
            TimelineError: The database cannot be written.
        """
        if not kind or kind.strip() != kind:
            raise ValueError(f"invalid event kind {kind!r}")
        if kind.startswith(RESERVED_PREFIXES):
            raise ValueError(f"kind {kind!r} is written by the Timeline's own methods only")
        return self.append(
            incident,
            kind,
            summary,
            payload,
            command=command,
            actor=actor,
            at=at,
            key=key,
            require_incident=True,
        )

    def _require_incident(self, conn: Conn, incident_id: int) -> None:
        if incident_id in self._known_incidents:
            return
        row = conn.execute(
            "SELECT 1 FROM cockpit.events WHERE incident = %s AND kind = 'incident.opened' LIMIT 1",
            (incident_id,),
        ).fetchone()
        if row is None:
            raise IncidentError(f"no incident {incident_id} in {self.where}")
        self._known_incidents.add(incident_id)  # incidents are never deleted

    # --- reading --------------------------------------------------------------------------

    def events(
        self,
        incident: int | None = None,
        *,
        after_id: int = 0,
        kinds: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Events in id order, as `EventLog.events` (same arguments)."""
        query = f"{_SELECT} WHERE id > %s"
        params: list[Any] = [after_id]
        if incident is not None:
            query += " AND incident = %s"
            params.append(incident)
        if kinds is not None:
            query += " AND kind = ANY(%s)"
            params.append(list(kinds))
        query += " ORDER BY id"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        rows = self._run("reading events", lambda conn: conn.execute(query, params).fetchall())
        return events_from_rows(rows, self.where)

    def rows(
        self, incident: int, *, up_to: int | None = None
    ) -> list[tuple[int, str, str, str, str, str | None]]:
        """Every event of an incident as (id, ts, kind, actor, summary, command), in id order."""
        rows = self._run(
            "reading events",
            lambda conn: conn.execute(
                "SELECT id, ts, kind, actor, summary, command FROM cockpit.events"
                " WHERE incident = %s AND id <= %s ORDER BY id",
                (incident, up_to if up_to is not None else 2**63 - 1),
            ).fetchall(),
        )
        check_types(self.where, rows, ROW_TYPES, event_where)
        return rows

    def head(self) -> tuple[int, str]:
        """The newest event's id and hash, ``(0, 64 zeros)`` for an empty timeline."""
        row = self._run(
            "reading the chain head",
            lambda conn: conn.execute(
                "SELECT id, hash FROM cockpit.events ORDER BY id DESC LIMIT 1"
            ).fetchone(),
        )
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def verify(self, *, up_to: int | None = None) -> VerifyReport:
        """Prove the chain, as `EventLog.verify` (see `cockpit.core.pg_verify`).

        Raises:
            ChainBroken: Names the first bad event (altered, inserted, removed).
            TimelineDamaged: The first event that cannot be read as written.
        """
        return self._run("verifying the timeline", lambda conn: verify_pg(conn, self.where, up_to))
