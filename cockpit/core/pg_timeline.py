"""The timeline on PostgreSQL: SQLite `Timeline`'s incidents, actions and samples on
`PgEventLog`, for responders on several jump hosts sharing one incident.

The same events as on SQLite, to the byte: the same kinds, payloads, summaries and actors, and
incident ids allocated the same way (the largest so far plus one), so a timeline reads, exports
and verifies the same on either backend (`cockpit.core.incidents` projects both).

The incidents are `cockpit.core.pg_incidents`; this module adds actions and samples. Every
method that checks before it writes (no double close, one result per intent, one copy of the
procedure per incident) runs its check and its append in one transaction holding the append
lock, so two responders cannot both finish one action. Each such write has an idempotency key
chosen before the first try: after a lost connection (a failover) the retry finds the event if
the lost attempt committed, and returns it instead of checking again.

Pure Python, no Textual, no Rich; psycopg is imported (through `cockpit.core.pg_connect`) only
by code that opens a PostgreSQL timeline.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cockpit.core import pg_samples
from cockpit.core.damage import event_name, payload_problem
from cockpit.core.errors import IncidentError, TimelineDamaged
from cockpit.core.event_log import RESERVED_PREFIXES, Event, events_from_rows
from cockpit.core.metrics import Sample
from cockpit.core.pg_connect import Conn
from cockpit.core.pg_incidents import PgIncidentLog
from cockpit.core.pg_schema import PG_EVENT_COLUMNS
from cockpit.core.sample_store import StoredSample
from cockpit.core.timeline import OUTCOMES, Outcome

_ACTION_ID = "payload::jsonb ->> 'action_id'"


class PgTimeline(PgIncidentLog):
    """Incidents, actions and samples over the PostgreSQL event log; the arguments and errors
    are `PgEventLog`'s, the methods `cockpit.core.timeline.Timeline`'s."""

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
    ) -> Event:
        """Record ``action.intent`` before the action runs (`Timeline.begin_action`)."""
        body = dict(payload or {})
        key = self._new_key()
        # The key itself when random (as SQLite's uuid4); derived from a writer's job key, so a
        # retried intent is the same event with the same action id.
        action_id = key if self._job_key is None else hashlib.sha256(key.encode()).hexdigest()[:32]
        body.update(action=action, action_id=action_id)
        return self.append(
            incident,
            "action.intent",
            summary,
            body,
            command=command,
            actor=actor,
            at=at,
            key=key,
            require_incident=True,
        )

    def _action_event(
        self,
        incident: int,
        action_id: str,
        kind: str,
        summary: str,
        extra: dict[str, Any],
        actor: str | None,
        at: datetime | None,
    ) -> Event:
        """An ``action.step`` or ``action.result`` of a begun action that has no result yet."""
        when = at if at is not None else self._clock.now()

        def make(conn: Conn, key: str) -> Event:
            body = dict(extra)
            body.update(action=self._running_action(conn, incident, action_id))
            body.update(action_id=action_id)
            fields = self._fields(incident, kind, summary, body, None, actor, when)
            return self._insert(conn, fields, key)

        return self._checked(f"recording {kind}", make)

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
        """Record ``action.result``, paired with its intent (`Timeline.finish_action`)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        extra = {**(payload or {}), "outcome": outcome}
        return self._action_event(incident, action_id, "action.result", summary, extra, actor, at)

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
        """Record ``action.step`` within a running action (`Timeline.step_action`)."""
        extra = dict(payload or {})
        return self._action_event(incident, action_id, "action.step", summary, extra, actor, at)

    def _running_action(self, conn: Conn, incident: int, action_id: str) -> Any:
        """The action named by a begun intent that has no result yet (inside the lock)."""
        intent = conn.execute(
            "SELECT payload, id FROM cockpit.events WHERE incident = %s"
            f" AND kind = 'action.intent' AND {_ACTION_ID} = %s ORDER BY id LIMIT 1",
            (incident, action_id),
        ).fetchone()
        if intent is None:
            raise IncidentError(f"incident {incident}: no action {action_id} was begun")
        done = conn.execute(
            "SELECT id FROM cockpit.events WHERE incident = %s"
            f" AND kind = 'action.result' AND {_ACTION_ID} = %s ORDER BY id LIMIT 1",
            (incident, action_id),
        ).fetchone()
        if done is not None:
            raise IncidentError(
                f"incident {incident}: action {action_id} already has a result (event {done[0]})"
            )
        problem = payload_problem(intent[0])
        if problem is not None:
            raise TimelineDamaged(self.where, problem, event_name(intent[1]))
        return json.loads(intent[0]).get("action")

    def unresolved_actions(self, incident: int) -> list[Event]:
        """Intents without a result: after a crash their outcome is unknown."""
        columns = ", ".join(f"i.{name}" for name in PG_EVENT_COLUMNS.split(", "))
        rows = self._run(
            "reading actions",
            lambda conn: conn.execute(
                f"SELECT {columns} FROM cockpit.events AS i"
                " WHERE i.incident = %s AND i.kind = 'action.intent'"
                " AND NOT EXISTS (SELECT 1 FROM cockpit.events AS r WHERE r.incident = i.incident"
                " AND r.kind = 'action.result'"
                " AND r.payload::jsonb -> 'action_id' = i.payload::jsonb -> 'action_id')"
                " ORDER BY i.id",
                (incident,),
            ).fetchall(),
        )
        return events_from_rows(rows, self.where)

    def append_bulk(
        self,
        items: Iterable[tuple[int | None, str, str, Mapping[str, Any] | None]],
        *,
        actor: str | None = None,
    ) -> int:
        """Append many ``(incident, kind, summary, payload)`` events in one transaction, with
        `record`'s rules; nothing is written if any item is refused."""
        listed = [(item, self._new_key()) for item in items]
        at = self._clock.now()

        def job(conn: Conn) -> int:
            if listed and self._stored(conn, listed[0][1]) is not None:
                return len(listed)  # the lost attempt committed them all
            for (incident, kind, summary, payload), key in listed:
                if not kind or kind.startswith(RESERVED_PREFIXES):
                    raise ValueError(f"invalid or reserved event kind {kind!r}")
                if incident is not None:
                    self._require_incident(conn, incident)
                self._insert(
                    conn, self._fields(incident, kind, summary, payload, None, actor, at), key
                )
            return len(listed)

        return self._locked("appending events", job)

    # --- samples ------------------------------------------------------------------------------

    def record_samples(self, incident: int, samples: Iterable[Sample]) -> int:
        """Keep metric readings of an incident (one transaction); returns how many were
        stored. Within a writer's job (`keyed`), the batch has an idempotency key: a batch
        whose commit answer was lost to a failover, tried again, is kept once (0 the second
        time)."""
        rows = pg_samples.rows_of(incident, samples)
        key = self._new_key() if self._job_key is not None else None

        def job(conn: Conn) -> int:
            with conn.transaction():
                return pg_samples.insert(conn, rows, key)

        return self._run("recording samples", job)

    def samples(self, incident: int, *, metric: str | None = None) -> list[StoredSample]:
        """An incident's recorded samples in time order (`Timeline.samples`)."""
        return self._run(
            "reading samples",
            lambda conn: pg_samples.select(conn, incident, metric, self.where),
        )

    def prune_samples(self, before: datetime) -> int:
        """Drop samples older than `before` (the schema's owner only); events are never pruned."""
        return self._run("pruning samples", lambda conn: pg_samples.prune(conn, before))
