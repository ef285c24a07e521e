"""The writes of `cockpit.core.journal.JournaledTimeline`: each of the Timeline methods the
writer's jobs call, made on PostgreSQL while it answers and on the local journal while it does
not (`_write`, `_both`: the class's), each with its time and actor fixed before the first try.

A base class of its own so the journal's module keeps to going offline and back. Pure Python.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from cockpit.core.event_log import Event

if TYPE_CHECKING:
    from cockpit.core.clock import Clock
    from cockpit.core.incidents import Incident
    from cockpit.core.journal_split import Split
    from cockpit.core.metrics import Sample
    from cockpit.core.pg_timeline import PgTimeline
    from cockpit.core.procedure_copy import ProcedureCopy
    from cockpit.core.timeline import Outcome, Timeline

T = TypeVar("T")


class JournaledWrites:
    """The write methods; `JournaledTimeline` supplies where each goes."""

    incident_id: int
    _clock: Clock

    def _write(
        self,
        incident: int,
        online: Callable[[PgTimeline], T],
        offline: Callable[[Timeline, Split], T],
    ) -> T:
        raise NotImplementedError

    def _both(self, method: str, incident: int, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _actor_name(self) -> str:
        raise NotImplementedError

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
        """`Timeline.record` (`key`: PostgreSQL's idempotency key, while online)."""
        if incident is None:
            raise ValueError("a journaled timeline records events of its incident only")
        at, who, body = at or self._clock.now(), actor or self._actor_name(), dict(payload or {})
        return self._write(
            incident,
            lambda pg: pg.record(
                incident, kind, summary, body, command=command, actor=who, at=at, key=key
            ),
            lambda j, s: s.to_primary(
                j.record(s.local_incident, kind, summary, body, command=command, actor=who, at=at)
            ),
        )

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
        """`Timeline.begin_action`, the action's id chosen here (the same on either side)."""
        at, who = at or self._clock.now(), actor or self._actor_name()
        body = {**(payload or {}), "action": action, "action_id": uuid.uuid4().hex}
        return self._write(
            incident,
            # PgTimeline.begin_action is this append, with an id of its own choosing.
            lambda pg: pg.append(
                incident, "action.intent", summary, body, command=command, actor=who, at=at,
                require_incident=True,
            ),
            lambda j, s: s.to_primary(
                j.begin_action(
                    s.local_incident, action, summary, body, command=command, actor=who, at=at,
                    action_id=body["action_id"],
                )
            ),
        )  # fmt: skip

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
        """`Timeline.finish_action`."""
        body = dict(payload or {})
        found = self._both(
            "finish_action", incident, action_id, outcome, summary, body, actor=actor, at=at
        )
        return cast(Event, found)

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
        """`Timeline.step_action`."""
        body = dict(payload or {})
        return cast(
            Event, self._both("step_action", incident, action_id, summary, body, actor=actor, at=at)
        )

    def set_severity(
        self, incident: int, severity: str, *, actor: str | None = None, at: datetime | None = None
    ) -> Incident:
        """`Timeline.set_severity`."""
        return cast("Incident", self._both("set_severity", incident, severity, actor=actor, at=at))

    def acknowledge(
        self, incident: int, *, actor: str | None = None, at: datetime | None = None
    ) -> Incident:
        """`Timeline.acknowledge`."""
        return cast("Incident", self._both("acknowledge", incident, actor=actor, at=at))

    def close_incident(
        self,
        incident: int,
        resolution: str | None = None,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Incident:
        """`Timeline.close_incident`."""
        found = self._both("close_incident", incident, resolution, actor=actor, at=at)
        return cast("Incident", found)

    def record_procedure(
        self,
        incident: int,
        copy: ProcedureCopy,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Event:
        """`Timeline.record_procedure`."""
        return cast(Event, self._both("record_procedure", incident, copy, actor=actor, at=at))

    def assign_role(
        self,
        incident: int,
        role: str,
        person: str,
        *,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> Event | None:
        """`Timeline.assign_role` (while apart, checked against the journal's copy of the
        incident's roles only: replay appends it as recorded)."""
        found = self._both("assign_role", incident, role, person, actor=actor, at=at)
        return cast("Event | None", found)

    def prune_samples(self, before: datetime) -> int:
        """`Timeline.prune_samples` on PostgreSQL; nothing while apart (the journal keeps its
        readings for the replay)."""
        return self._write(
            self.incident_id, lambda pg: pg.prune_samples(before), lambda _journal, _split: 0
        )

    def record_samples(self, incident: int, samples: Iterable[Sample]) -> int:
        """`Timeline.record_samples` (kept with the journal while offline, replayed with it)."""
        listed = list(samples)
        return self._write(
            incident,
            lambda pg: pg.record_samples(incident, listed),
            lambda j, s: j.record_samples(s.local_incident, listed),
        )

    def incident(self, incident: int) -> Incident:
        """The incident as the side written to sees it (`Timeline.incident`)."""
        return self._write(
            incident,
            lambda pg: pg.incident(incident),
            lambda j, s: cast("Incident", s.translate(j.incident(s.local_incident))),
        )
