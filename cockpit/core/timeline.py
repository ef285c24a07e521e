"""The timeline: the cockpit's append-only, hash-chained system of record, in SQLite.

Every fact the cockpit learns or causes is one row of the `events` table. Rows are never changed
or removed (SQL triggers refuse UPDATE and DELETE), and each row carries the SHA-256 of its
predecessor's hash plus its own content, so `verify()` proves nothing was altered, inserted or
removed in the middle. Incidents are not a mutable table but a projection of their
``incident.*`` events; actions are an ``action.intent`` before and an ``action.result`` after,
so a crash in between leaves an intent without a result: "outcome unknown". Between the two, an
action done by hand records its runbook's steps as ``action.step``.

This module is the public entry point: `Timeline` and everything callers import come from here.
The parts live in their own modules: `cockpit.core.chain` (hash encoding and the verify walk),
`cockpit.core.timeline_schema` (schema and migrations), `cockpit.core.event_log` (the SQLite
file, appending and reading: concurrency, durability and privacy are described there) and
`cockpit.core.incidents` (the incident projection). This module adds incidents, roles
(`cockpit.core.roles`: who may assign them is checked in the write) and actions.

Pure Python (no Textual, no Rich) and cheap to import: sqlite-utils, which takes about 0.2 s to
import, is loaded only when the schema must be created or migrated, so
`cockpit timeline verify` on an existing database never pays for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from cockpit.core import sample_store
from cockpit.core.chain import GENESIS_HASH, VerifyReport, canonical_json, chain_hash
from cockpit.core.damage import describe, event_name, payload_problem
from cockpit.core.errors import IncidentError, TimelineDamaged
from cockpit.core.event_log import BUSY_TIMEOUT_S, Event, EventLog, events_from_rows
from cockpit.core.incidents import IMPORTED, Incident, lifecycle_rows, project
from cockpit.core.metrics import Sample
from cockpit.core.procedure_copy import RECORDED, ProcedureCopy
from cockpit.core.roles import ASSIGNED, ROLE_KINDS, Roles, person_of, plan_assignment
from cockpit.core.sample_store import StoredSample
from cockpit.core.timeline_schema import EVENT_COLUMNS, MIGRATIONS, SCHEMA_VERSION

# Everything importers used when this was one module stays importable from here.
__all__ = [
    "BUSY_TIMEOUT_S",
    "GENESIS_HASH",
    "MIGRATIONS",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "Event",
    "Incident",
    "Outcome",
    "StoredSample",
    "Timeline",
    "VerifyReport",
    "canonical_json",
    "chain_hash",
]

Outcome = Literal["succeeded", "failed", "cancelled"]
OUTCOMES: tuple[str, ...] = ("succeeded", "failed", "cancelled")


class Timeline(EventLog):
    """The append-only, hash-chained event log of every incident, in one SQLite file.

    Not thread-safe: one `Timeline` per thread (several on the same file are fine, as are
    several processes).

    Args:
        path: The database file (default: `cockpit.core.paths.timeline_db()`). Its directory is
            created (0700) if missing.
        clock: Source of event timestamps (default: the system clock).
        actor: Who is acting; default `cockpit.core.actor.current_actor()` at first record.
        create: If False, a missing file is an error instead of a new, empty timeline.

    Raises:
        TimelineError: The file is not a SQLite database, is not a cockpit timeline, has a
            schema newer than this code, or cannot be opened.
    """

    # --- incidents ----------------------------------------------------------------------------

    def incident(self, incident_id: int) -> Incident:
        """The current projection of one incident.

        Raises:
            IncidentError: No incident has this id.
        """
        with self._reading():
            found = project(lifecycle_rows(self._conn, incident_id, self.path)).get(incident_id)
        if found is None:
            raise IncidentError(f"no incident {incident_id} in {self.path}")
        return found

    def incidents(self, *, include_closed: bool = True) -> list[Incident]:
        """All incidents, newest first, from one query over the lifecycle events."""
        with self._reading():
            found = project(lifecycle_rows(self._conn, None, self.path)).values()
        chosen = [item for item in found if include_closed or item.status == "open"]
        return sorted(chosen, key=lambda item: item.id, reverse=True)

    def latest_open(self, *, drill: bool | None = None) -> Incident | None:
        """The most recently opened incident that is still open, if any (`drill`: only
        drills, or only real incidents)."""
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
        """Open a new incident with the next free id and record ``incident.opened``, then its
        copy of the procedure (``procedure.recorded``, see `cockpit.core.procedure_copy`).

        Args:
            title: A short human title.
            severity: The procedure's severity id, e.g. ``P1``.
            procedure: The procedure it runs under (name or file), if known.
            drill: True for an exercise, so reports can tell drills from real incidents.
            actor: Override the recorded actor.
            copy: The procedure's text as the caller read (and validated) it
                (`cockpit.core.procedure_copy.read_copy`): every command that opens an
                incident gives it. Without one the incident opens without a copy, as those
                opened before copies existed, and the first cockpit session on it records one.

        Returns:
            The new incident.
        """
        with self._write():
            row = self._conn.execute("SELECT MAX(incident) FROM events").fetchone()
            if not isinstance(row[0], int | None):
                raise self._bad_incident_column()
            incident_id = (row[0] or 0) + 1
            payload = {"title": title, "severity": severity, "procedure": procedure, "drill": drill}
            prefix = "Drill opened" if drill else "Incident opened"
            event = self._append(
                incident_id, "incident.opened", f"{prefix}: {title}", payload, None, actor
            )
            if copy is not None:
                self._append(incident_id, RECORDED, copy.summary(), copy.payload(), None, actor)
        self._known_incidents.add(incident_id)
        return Incident(
            id=incident_id,
            title=title,
            severity=severity,
            status="open",
            procedure=procedure,
            opened_at=event.ts,
            drill=drill,
        )

    def record_procedure(
        self,
        incident_id: int,
        copy: ProcedureCopy,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Event:
        """Record the copy of its procedure an incident opened without (the first cockpit
        session that resumes it does); returns the incident's copy event, which is the one
        already there, unchanged, if another session recorded it first.

        Raises:
            IncidentError: Unknown incident.
        """
        with self._write():
            self._require_incident(incident_id)
            found = self.events(incident_id, kinds=[RECORDED], limit=1)
            if found:
                return found[0]
            summary = copy.summary(at_resume=True)
            return self._append(incident_id, RECORDED, summary, copy.payload(), None, actor, at)

    def _bad_incident_column(self) -> TimelineDamaged:
        """Names the first event whose incident is neither an integer nor NULL."""
        bad = self._conn.execute(
            "SELECT id, incident FROM events WHERE typeof(incident) NOT IN ('integer', 'null')"
            " ORDER BY id LIMIT 1"
        ).fetchone()
        where = event_name(bad[0]) if bad is not None else None
        found = describe(bad[1]) if bad is not None else "not an integer"
        return TimelineDamaged(self.path, f"incident is {found}, not an integer or NULL", where)

    def _change(
        self,
        incident_id: int,
        kind: str,
        summary: str,
        payload: dict[str, Any],
        check: Callable[[Incident], bool],
        actor: str | None,
        at: datetime | None,
    ) -> Incident:
        with self._write():
            current = self.incident(incident_id)
            if check(current):
                self._append(incident_id, kind, summary, payload, None, actor, at)
        return self.incident(incident_id)

    def close_incident(
        self,
        incident_id: int,
        resolution: str | None = None,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Incident:
        """Close an incident, recording ``incident.closed`` with the resolution.

        Raises:
            IncidentError: Unknown incident, or already closed.
        """

        def check(current: Incident) -> bool:
            if current.status == "closed":
                raise IncidentError(f"incident {incident_id} is already closed")
            return True

        summary = f"Incident closed: {resolution}" if resolution else "Incident closed"
        payload = {"resolution": resolution}
        return self._change(incident_id, "incident.closed", summary, payload, check, actor, at)

    def acknowledge(
        self, incident_id: int, *, actor: str | None = None, at: datetime | None = None
    ) -> Incident:
        """Record that someone took the incident; the first acknowledgement sets the time.

        Raises:
            IncidentError: Unknown or closed incident.
        """

        def check(current: Incident) -> bool:
            if current.status == "closed":
                raise IncidentError(f"incident {incident_id} is closed")
            return True

        return self._change(
            incident_id, "incident.acknowledged", "Incident acknowledged", {}, check, actor, at
        )

    def set_severity(
        self,
        incident_id: int,
        severity: str,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Incident:
        """Change the severity; recording nothing when it is already that severity.

        Raises:
            IncidentError: Unknown or closed incident.
        """
        with self._write():
            current = self.incident(incident_id)
            if current.status == "closed":
                raise IncidentError(f"incident {incident_id} is closed")
            if current.severity != severity:
                self._append(
                    incident_id,
                    "incident.severity_changed",
                    f"Severity {current.severity} → {severity}",
                    {"from": current.severity, "to": severity},
                    None,
                    actor,
                    at,
                )
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
        """Give `person` a role in the incident (``role.assigned``, see `cockpit.core.roles`):
        the rules are checked against the incident's roles inside the write transaction, so
        two cockpits cannot both hand over lead. None when they hold that role already.

        Raises:
            IncidentError: Unknown or closed incident.
            RoleError: Unknown role or a bad name.
            RoleRefused: The actor is not the lead (the lead is named), or the lead would take
                another role before handing lead over.
        """
        by = person_of(actor if actor is not None else self._actor_name())
        with self._write():
            if self.incident(incident_id).status == "closed":
                raise IncidentError(f"incident {incident_id} is closed")
            roles = Roles.replay(self.events(incident_id, kinds=list(ROLE_KINDS)))
            made = plan_assignment(incident_id, roles, by, role, person)
            if made is None:
                return None
            summary, payload = made
            return self._append(incident_id, ASSIGNED, summary, payload, None, actor, at)

    # --- actions ------------------------------------------------------------------------------

    def begin_action(
        self,
        incident: int,
        action: str,
        summary: str,
        payload: Mapping[str, Any] | None = None,
        *,
        command: str | None,
        actor: str | None = None,
        at: datetime | None = None,
        action_id: str | None = None,
    ) -> Event:
        """Record that an action is about to run (``action.intent``), before running it.

        Args:
            incident: The incident.
            action: What runs, e.g. ``flags.rollback``.
            summary: One human line.
            payload: Details (target, plan, ...); ``action`` and a fresh ``action_id`` are added.
            command: The CLI-equivalent command line.
            actor: Override the recorded actor.
            action_id: The action's id, when the caller chose it (a journal writes the same
                intent to two timelines, `cockpit.core.journal`); default: a fresh one.

        Returns:
            The intent event; ``event.payload["action_id"]`` identifies the action.
        """
        import uuid  # deferred: only processes that act pay for it

        body = dict(payload or {})
        body.update(action=action, action_id=action_id or uuid.uuid4().hex)
        with self._write():
            self._require_incident(incident)
            return self._append(incident, "action.intent", summary, body, command, actor, at)

    def finish_action(
        self,
        incident: int,
        action_id: str,
        outcome: Outcome,
        summary: str,
        payload: Mapping[str, Any] | None = None,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Event:
        """Record how an action ended (``action.result``), pairing it with its intent.

        Raises:
            ValueError: The outcome is not succeeded, failed or cancelled.
            IncidentError: No intent with this action_id in the incident, or it already has a
                result.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        with self._write():
            begun = self._running_action(incident, action_id)
            body = dict(payload or {})
            body.update(action=begun, action_id=action_id, outcome=outcome)
            return self._append(incident, "action.result", summary, body, None, actor, at)

    def step_action(
        self,
        incident: int,
        action_id: str,
        summary: str,
        payload: Mapping[str, Any] | None = None,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Event:
        """Record a step within a running action (``action.step``: a runbook step done by
        hand), between its intent and its result.

        Raises:
            IncidentError: No intent with this action_id in the incident, or it already has a
                result (a step after the end would change what was recorded as done).
        """
        with self._write():
            begun = self._running_action(incident, action_id)
            body = dict(payload or {})
            body.update(action=begun, action_id=action_id)
            return self._append(incident, "action.step", summary, body, None, actor, at)

    def _running_action(self, incident: int, action_id: str) -> Any:
        """The action named by a begun intent that has no result yet (inside a write)."""
        intent = self._conn.execute(
            "SELECT payload, id FROM events WHERE incident = ? AND kind = 'action.intent' "
            "AND json_extract(payload, '$.action_id') = ? LIMIT 1",
            (incident, action_id),
        ).fetchone()
        if intent is None:
            raise IncidentError(f"incident {incident}: no action {action_id} was begun")
        done = self._conn.execute(
            "SELECT id FROM events WHERE incident = ? AND kind = 'action.result' "
            "AND json_extract(payload, '$.action_id') = ? LIMIT 1",
            (incident, action_id),
        ).fetchone()
        if done is not None:
            raise IncidentError(
                f"incident {incident}: action {action_id} already has a result (event {done[0]})"
            )
        problem = payload_problem(intent[0])
        if problem is not None:
            raise TimelineDamaged(self.path, problem, event_name(intent[1]))
        return json.loads(intent[0]).get("action")

    def unresolved_actions(self, incident: int) -> list[Event]:
        """Intents without a result: after a crash their outcome is unknown and must be checked."""
        with self._reading():
            rows = self._conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events AS i"
                " WHERE i.incident = ? AND i.kind = 'action.intent'"
                " AND NOT EXISTS (SELECT 1 FROM events AS r WHERE r.incident = i.incident"
                " AND r.kind = 'action.result' AND json_extract(r.payload, '$.action_id')"
                " = json_extract(i.payload, '$.action_id'))"
                " ORDER BY i.id",
                (incident,),
            ).fetchall()
        return events_from_rows(rows, self.path)

    def import_incident(
        self, events: Sequence[Event], marker: Callable[[list[Event]], tuple[str, dict[str, Any]]]
    ) -> list[Event]:
        """Copy another timeline's incident in as a new one (`cockpit.core.incident_copy`): its
        `events` in order, each keeping its time, kind, actor, summary, payload and command, then
        an ``incident.imported`` event whose summary and payload `marker` makes from the copies;
        one transaction. Returns the copies, the marker last."""
        with self._write():
            row = self._conn.execute("SELECT MAX(incident) FROM events").fetchone()
            if not isinstance(row[0], int | None):
                raise self._bad_incident_column()
            incident_id = (row[0] or 0) + 1
            copies = [
                self._append(incident_id, e.kind, e.summary, e.payload, e.command, e.actor, e.at)
                for e in events
            ]
            summary, payload = marker(copies)
            copies.append(self._append(incident_id, IMPORTED, summary, payload, None, None))
        self._known_incidents.add(incident_id)
        return copies

    # --- samples ------------------------------------------------------------------------------

    def record_samples(self, incident: int, samples: Iterable[Sample]) -> int:
        """Keep metric readings of an incident (one transaction); returns how many."""
        with self._write():
            return sample_store.insert(self._conn, incident, samples)

    def samples(self, incident: int, *, metric: str | None = None) -> list[StoredSample]:
        """An incident's recorded samples in time order.

        Raises:
            TimelineDamaged: A sample cannot be read as written (its id is named).
        """
        with self._reading():
            return sample_store.select(self._conn, incident, metric, self.path)

    def prune_samples(self, before: datetime) -> int:
        """Drop samples older than `before` (retention); events are never pruned."""
        with self._write():
            return sample_store.prune(self._conn, before)
