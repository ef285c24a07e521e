"""Incidents on PostgreSQL: SQLite `Timeline`'s incident methods on `PgEventLog`, the base of
`cockpit.core.pg_timeline.PgTimeline` (use that class; this one keeps each module small).

An incident is the projection of its lifecycle events (`cockpit.core.incidents.project`, the
same rules as on SQLite); its id is the largest so far plus one, taken under the append lock.
A method that checks before it writes (no double close) runs its check and its append in one
transaction holding that lock, with an idempotency key chosen before the first try: after a
lost connection the retry finds the event if the lost attempt committed, and does not check
again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from cockpit.core.damage import (
    LIFECYCLE_TYPES,
    check_times,
    check_types,
    decode_payloads,
    event_where,
)
from cockpit.core.errors import IncidentError
from cockpit.core.event_log import Event, events_from_rows
from cockpit.core.incidents import IMPORTED, LIFECYCLE_KINDS, Incident, project
from cockpit.core.pg_connect import Conn
from cockpit.core.pg_event_log import PgEventLog
from cockpit.core.pg_schema import APPEND_LOCK, PG_EVENT_COLUMNS
from cockpit.core.procedure_copy import RECORDED, ProcedureCopy
from cockpit.core.roles import ASSIGNED, ROLE_KINDS, Roles, person_of, plan_assignment

T = TypeVar("T")


class PgIncidentLog(PgEventLog):
    """The PostgreSQL event log with incidents (`PgEventLog`'s arguments and errors)."""

    def _locked(self, what: str, job: Callable[[Conn], T]) -> T:
        """Run `job` in one transaction holding the append lock (retried on a lost
        connection: the job looks its key up first)."""

        def locked(conn: Conn) -> T:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", APPEND_LOCK)
                return job(conn)

        return self._run(what, locked)

    def _checked(self, what: str, make: Callable[[Conn, str], T]) -> T | Event:
        """An append decided under the append lock from the timeline as it is (a check, then
        a write, in one transaction): `make(conn, key)` checks and inserts with `key`. The key
        is chosen before the first try, so a retry after a lost connection finds the event
        the lost attempt committed, and returns it without checking again."""
        key = self._new_key()

        def job(conn: Conn) -> T | Event:
            stored = self._stored(conn, key)
            return stored if stored is not None else make(conn, key)

        return self._locked(what, job)

    # --- incidents ----------------------------------------------------------------------------

    def _projection(self, conn: Conn, incident_id: int | None) -> dict[int, Incident]:
        """The lifecycle events of one incident (or of all) projected, as SQLite's
        `lifecycle_rows` and `project` do."""
        query = "SELECT id, incident, kind, ts, payload FROM cockpit.events WHERE kind = ANY(%s)"
        params: list[Any] = [list(LIFECYCLE_KINDS)]
        if incident_id is not None:
            query += " AND incident = %s"
            params.append(incident_id)
        rows = conn.execute(query + " ORDER BY id", params).fetchall()
        check_types(self.where, rows, LIFECYCLE_TYPES, event_where)
        check_times(self.where, rows, 3, event_where)
        payloads = decode_payloads(self.where, rows, 4, event_where)
        return project(
            (row[1], row[2], row[3], data) for row, data in zip(rows, payloads, strict=True)
        )

    def _incident(self, conn: Conn, incident_id: int) -> Incident:
        found = self._projection(conn, incident_id).get(incident_id)
        if found is None:
            raise IncidentError(f"no incident {incident_id} in {self.where}")
        return found

    def incident(self, incident_id: int) -> Incident:
        """The current projection of one incident.

        Raises:
            IncidentError: No incident has this id.
        """
        return self._run("reading an incident", lambda conn: self._incident(conn, incident_id))

    def incidents(self, *, include_closed: bool = True) -> list[Incident]:
        """All incidents, newest first, from one query over the lifecycle events."""
        found = self._run("reading incidents", lambda conn: self._projection(conn, None))
        chosen = [item for item in found.values() if include_closed or item.status == "open"]
        return sorted(chosen, key=lambda item: item.id, reverse=True)

    def latest_open(self, *, drill: bool | None = None) -> Incident | None:
        """The most recently opened incident still open, if any (`drill`: only drills, or
        only real incidents)."""
        open_ones = [
            item
            for item in self.incidents(include_closed=False)
            if drill is None or item.drill == drill
        ]
        return open_ones[0] if open_ones else None

    def open_incident(
        self,
        title: str,
        severity: str,
        procedure: str | None,
        *,
        drill: bool = False,
        actor: str | None = None,
        copy: ProcedureCopy | None = None,
    ) -> Incident:
        """Open a new incident with the next free id, as `Timeline.open_incident`."""
        keys = (self._new_key(), self._new_key())
        at = self._clock.now()
        payload = {"title": title, "severity": severity, "procedure": procedure, "drill": drill}
        prefix = "Drill opened" if drill else "Incident opened"

        def job(conn: Conn) -> Event:
            stored = self._stored(conn, keys[0])
            if stored is not None:
                return stored
            row = conn.execute("SELECT max(incident) FROM cockpit.events").fetchone()
            incident_id = int(row[0] or 0) + 1 if row is not None else 1
            opened = self._insert(
                conn,
                self._fields(
                    incident_id, "incident.opened", f"{prefix}: {title}", payload, None, actor, at
                ),
                keys[0],
            )
            if copy is not None:
                fields = self._fields(
                    incident_id, RECORDED, copy.summary(), copy.payload(), None, actor, at
                )
                self._insert(conn, fields, keys[1])
            return opened

        event = self._locked("opening an incident", job)
        assert event.incident is not None
        self._known_incidents.add(event.incident)
        return Incident(
            id=event.incident,
            title=title,
            severity=severity,
            status="open",
            procedure=procedure,
            opened_at=event.ts,
            drill=drill,
        )

    def import_incident(
        self, events: Sequence[Event], marker: Callable[[list[Event]], tuple[str, dict[str, Any]]]
    ) -> list[Event]:
        """Copy another timeline's incident in as a new one, in one transaction under the
        append lock (`Timeline.import_incident`)."""
        keys = [self._new_key() for _ in range(len(events) + 1)]
        now = self._clock.now()

        def job(conn: Conn) -> list[Event]:
            if self._stored(conn, keys[-1]) is not None:  # the lost attempt committed
                rows = conn.execute(
                    f"SELECT {PG_EVENT_COLUMNS} FROM cockpit.events WHERE idem_key = ANY(%s)"
                    " ORDER BY id",
                    (keys,),
                ).fetchall()
                return events_from_rows(rows, self.where)
            row = conn.execute("SELECT max(incident) FROM cockpit.events").fetchone()
            incident_id = int(row[0] or 0) + 1 if row is not None else 1
            copies = [
                self._insert(
                    conn,
                    self._fields(
                        incident_id, e.kind, e.summary, e.payload, e.command, e.actor, e.at
                    ),
                    key,
                )
                for e, key in zip(events, keys, strict=False)
            ]
            summary, payload = marker(copies)
            fields = self._fields(incident_id, IMPORTED, summary, payload, None, None, now)
            copies.append(self._insert(conn, fields, keys[-1]))
            return copies

        copies = self._locked("importing an incident", job)
        if copies and copies[0].incident is not None:
            self._known_incidents.add(copies[0].incident)
        return copies

    def record_procedure(
        self,
        incident_id: int,
        copy: ProcedureCopy,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Event:
        """Record the copy of its procedure an incident opened without; the copy already
        there, unchanged, if another session recorded it first (`Timeline.record_procedure`).
        """
        when = at if at is not None else self._clock.now()

        def make(conn: Conn, key: str) -> Event:
            self._incident(conn, incident_id)
            found = conn.execute(
                f"SELECT {PG_EVENT_COLUMNS} FROM cockpit.events"
                " WHERE incident = %s AND kind = %s ORDER BY id LIMIT 1",
                (incident_id, RECORDED),
            ).fetchall()
            if found:
                return events_from_rows(found, self.where)[0]
            summary = copy.summary(at_resume=True)
            fields = self._fields(incident_id, RECORDED, summary, copy.payload(), None, actor, when)
            return self._insert(conn, fields, key)

        return self._checked("recording the procedure", make)

    def _change(
        self,
        incident_id: int,
        kind: str,
        change: Callable[[Incident], tuple[str, dict[str, Any]] | None],
        actor: str | None,
        at: datetime | None,
    ) -> Incident:
        """Append the lifecycle event `change` makes of the incident's current state (None:
        nothing to record), checked and appended under the append lock."""
        when = at if at is not None else self._clock.now()

        def make(conn: Conn, key: str) -> Event | None:
            made = change(self._incident(conn, incident_id))
            if made is None:
                return None
            summary, payload = made
            fields = self._fields(incident_id, kind, summary, payload, None, actor, when)
            return self._insert(conn, fields, key)

        self._checked(f"recording {kind}", make)
        return self.incident(incident_id)

    def assign_role(
        self,
        incident_id: int,
        role: str,
        person: str,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Event | None:
        """Give `person` a role (``role.assigned``), the rules checked against the incident's
        roles under the append lock, as `Timeline.assign_role`: two cockpits on two hosts
        cannot both hand over lead. None when they hold that role already."""
        when = at if at is not None else self._clock.now()
        by = person_of(actor if actor is not None else self._actor_name())

        def make(conn: Conn, key: str) -> Event | None:
            if self._incident(conn, incident_id).status == "closed":
                raise IncidentError(f"incident {incident_id} is closed")
            rows = conn.execute(
                f"SELECT {PG_EVENT_COLUMNS} FROM cockpit.events"
                " WHERE incident = %s AND kind = ANY(%s) ORDER BY id",
                (incident_id, list(ROLE_KINDS)),
            ).fetchall()
            roles = Roles.replay(events_from_rows(rows, self.where))
            made = plan_assignment(incident_id, roles, by, role, person)
            if made is None:
                return None
            summary, payload = made
            fields = self._fields(incident_id, ASSIGNED, summary, payload, None, actor, when)
            return self._insert(conn, fields, key)

        return self._checked("assigning a role", make)

    def close_incident(
        self,
        incident_id: int,
        resolution: str | None = None,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Incident:
        """Close an incident (``incident.closed``); refused when unknown or already closed."""

        def change(current: Incident) -> tuple[str, dict[str, Any]]:
            if current.status == "closed":
                raise IncidentError(f"incident {incident_id} is already closed")
            summary = f"Incident closed: {resolution}" if resolution else "Incident closed"
            return summary, {"resolution": resolution}

        return self._change(incident_id, "incident.closed", change, actor, at)

    def acknowledge(
        self, incident_id: int, *, actor: str | None = None, at: datetime | None = None
    ) -> Incident:
        """Record that someone took the incident; the first acknowledgement sets the time."""

        def change(current: Incident) -> tuple[str, dict[str, Any]]:
            if current.status == "closed":
                raise IncidentError(f"incident {incident_id} is closed")
            return "Incident acknowledged", {}

        return self._change(incident_id, "incident.acknowledged", change, actor, at)

    def set_severity(
        self,
        incident_id: int,
        severity: str,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Incident:
        """Change the severity; recording nothing when it is already that severity."""

        def change(current: Incident) -> tuple[str, dict[str, Any]] | None:
            if current.status == "closed":
                raise IncidentError(f"incident {incident_id} is closed")
            if current.severity == severity:
                return None
            return f"Severity {current.severity} → {severity}", {
                "from": current.severity,
                "to": severity,
            }

        return self._change(incident_id, "incident.severity_changed", change, actor, at)
