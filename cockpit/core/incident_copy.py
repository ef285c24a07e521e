"""Moving an incident between timelines: `cockpit incident push` and `pull` (issue 20).

The source's chain is verified first (`ChainBroken` when it does not hold: nothing is written).
The incident's events are copied in order as a new incident of the destination, which assigns
its own incident and event ids and chains them in its own chain; each copy keeps the original's
time, kind, actor, summary, payload and command. An ``incident.imported`` event ends the copy
and records where it came from: the source timeline as shown (a URL without its password),
its incident id, the head (the hash of the incident's last event there) and which source event
each copy is. The incident's samples are copied too. Then the destination's chain is verified.

Idempotent: a copy of the same source incident with the same head is found by its
``incident.imported`` event and not made again (`Published.already`); on PostgreSQL, two
pushes at the same moment make one copy (its events' idempotency keys come from the source and
its head). When the source incident
grew since its last copy, the copy is refused (`IncidentError`) unless `again`, which makes a
second, complete copy (the earlier one stays: timelines are append-only).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cockpit.core.errors import ChainBroken, IncidentError, TimelineError
from cockpit.core.incidents import IMPORTED
from cockpit.core.metrics import Sample

if TYPE_CHECKING:
    from cockpit.core.chain import VerifyReport
    from cockpit.core.event_log import Event
    from cockpit.core.timeline_open import AnyTimeline


@dataclass(frozen=True)
class Published:
    """The destination's copy of an incident."""

    incident: int
    events: int
    head_hash: str
    already: bool = False
    samples: int = 0


def _earlier(
    destination: AnyTimeline, source_name: str, source_incident: int
) -> list[tuple[int, str]]:
    """The destination's earlier copies of this source incident: ``(incident, source head)``."""
    found = []
    for event in destination.events(None, kinds=[IMPORTED]):
        data = event.payload
        if data.get("source") == source_name and data.get("source_incident") == source_incident:
            assert event.incident is not None
            found.append((event.incident, str(data.get("source_head", ""))))
    return found


def copy_incident(
    source: AnyTimeline,
    source_name: str,
    incident_id: int,
    destination: AnyTimeline,
    *,
    again: bool = False,
    verified: VerifyReport | None = None,
) -> Published:
    """Copy incident `incident_id` of `source` (shown as `source_name`) into `destination`.

    `verified`: the caller's report of the source's verification, not repeated while the
    source's head is still the one it verified.

    Raises:
        ChainBroken: The source's chain does not hold (nothing written).
        IncidentError: No such incident, or it grew since its last copy and not `again`.
        TimelineError: Either timeline cannot be read or written.
    """
    if verified is None or verified.head_hash != source.head()[1]:
        source.verify()
    source.incident(incident_id)  # IncidentError when there is none
    events = source.events(incident_id)
    head = events[-1].hash
    earlier = _earlier(destination, source_name, incident_id)
    for copy_id, copied_head in earlier:
        if copied_head == head:
            last = destination.events(copy_id)
            return Published(copy_id, len(last), last[-1].hash, already=True)
    if earlier and not again:
        numbers = ", ".join(str(copy_id) for copy_id, _ in earlier)
        raise IncidentError(
            f"incident {incident_id} grew since it was published as incident {numbers}; "
            "--again publishes a new copy"
        )

    def marker(copies: list[Event]) -> tuple[str, dict[str, Any]]:
        payload = {
            "source": source_name,
            "source_incident": incident_id,
            "source_head": head,
            "events": [[old.id, new.id] for old, new in zip(events, copies, strict=True)],
        }
        return f"Imported from {source_name}, incident {incident_id}", payload

    # On PostgreSQL the copy's idempotency keys come from what is copied: two pushes of the
    # same head at once (two responders, one incident) make one copy, the second finding it.
    keyed = getattr(destination, "keyed", None)
    if keyed is not None:
        keyed(
            "push:" + hashlib.sha256(f"{source_name}\0{incident_id}\0{head}".encode()).hexdigest()
        )
    try:
        copies = destination.import_incident(events, marker)
        new_id = copies[0].incident
        assert new_id is not None
        samples = [
            Sample(s.metric, s.value, _when(s.at), s.source, s.error)
            for s in source.samples(incident_id)
        ]
        if samples:  # keyed too: a second push at the same moment stores them once
            destination.record_samples(new_id, samples)
    finally:
        if keyed is not None:
            keyed(None)
    try:
        destination.verify()
    except ChainBroken as broken:
        raise TimelineError(
            f"the copy is incident {new_id} there, but that timeline's chain does not hold: "
            f"event {broken.event_id}: {broken.reason}"
        ) from None
    return Published(new_id, len(copies), copies[-1].hash, samples=len(samples))


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
