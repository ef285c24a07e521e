"""Where a local journal parted from the team's PostgreSQL timeline, and how its ids translate.

When the PostgreSQL server is lost mid-incident, `cockpit.core.journal.JournaledTimeline`
copies the incident's events known so far into a local SQLite timeline (the journal) with
`Timeline.import_incident`, and goes on writing there. The ``incident.imported`` event that
ends the copy is the split's marker: its payload says which PostgreSQL incident it is, the copy
of each event (``events``: ``[primary id, local id]`` pairs, as `cockpit push` records them),
and under ``journal`` what replay needs: a uuid of its own (the replay's idempotency keys are
made from it), the last PostgreSQL event id known at the split, the host, and whether the write
that found the server gone may have committed there all the same (``in_doubt``).

Ids: an event copied into the journal translates back to its PostgreSQL id. An event written
to the journal while apart has no PostgreSQL id yet; it is given a provisional one, continuing
after the last PostgreSQL id known at the split (local id ``base + n`` → ``split_id + n``), so a
feed or a screen can order it after what it has. Provisional ids are only that: others may have
appended meanwhile, and replay gives each event the next free id at its turn. Replay returns
the real ones (`cockpit.core.journal_replay.ReplayReport`).

Pure Python, no Textual, no Rich.
"""

from __future__ import annotations

import dataclasses
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cockpit.core.errors import TimelineError
from cockpit.core.event_log import Event
from cockpit.core.incidents import IMPORTED, Incident

if TYPE_CHECKING:
    from cockpit.core.timeline import Timeline

REPLAYED = "journal.replayed"
"""The event that ends a replay, on both sides (`cockpit.core.journal_replay`)."""
CONFLICT = "journal.conflict"
"""The event a replay records for the same target acted on from both sides while apart."""
JOURNAL_KEY = "journal"
"""The marker payload's entry that tells a journal's split from an ordinary imported copy."""


@dataclass(frozen=True)
class Split:
    """One parting of a journal from its PostgreSQL incident.

    Attributes:
        journal_id: The split's own uuid (hex); replay's idempotency keys start with it.
        primary: The PostgreSQL timeline as shown (no password).
        primary_incident: The incident's id there.
        local_incident: Its copy's id in the journal.
        base: The journal id of the marker: the journal's own events come after it.
        split_id: The last PostgreSQL event id known at the split.
        copied: Journal id → PostgreSQL id of each copied event.
        head_id: The PostgreSQL id of the last copied event (0: none).
        head_hash: Its hash there, to recognise the same timeline at replay.
        host: Where the journal was written.
        in_doubt: The write that found the server gone may have committed there.
    """

    journal_id: str
    primary: str
    primary_incident: int
    local_incident: int
    base: int
    split_id: int
    copied: Mapping[int, int] = field(default_factory=dict)
    head_id: int = 0
    head_hash: str = ""
    host: str = ""
    in_doubt: bool = False

    @property
    def key_prefix(self) -> str:
        """What every idempotency key replay makes for this split starts with."""
        return f"journal:{self.journal_id}:"

    def event_key(self, local_id: int) -> str:
        """The idempotency key of the journal's event `local_id` replayed."""
        return f"{self.key_prefix}{local_id}"

    def primary_id(self, local_id: int) -> int:
        """The PostgreSQL id of journal event `local_id`: its original's for a copy, a
        provisional one (after `split_id`) for an event written while apart.

        Raises:
            ValueError: The id is neither a copy nor after the marker (not this split's).
        """
        if local_id > self.base:
            return self.split_id + (local_id - self.base)
        found = self.copied.get(local_id)
        if found is None:
            raise ValueError(f"journal event {local_id} is not part of this split")
        return found

    def local_after(self, primary_after: int) -> int:
        """The journal id after which the journal's own events with provisional ids above
        `primary_after` start (the inverse of `primary_id` for a feed's "after this id")."""
        return self.base + max(0, primary_after - self.split_id)

    def to_primary(self, event: Event) -> Event:
        """A journal event in the PostgreSQL incident's terms: its incident, its (copied or
        provisional) id; hashes stay the journal's."""
        return event._replace(id=self.primary_id(event.id), incident=self.primary_incident)

    def translate(self, answer: Any) -> Any:
        """A journal method's answer in the PostgreSQL incident's terms: an event translated
        (`to_primary`), an incident given its id there, anything else as it is."""
        if isinstance(answer, Event):
            return self.to_primary(answer)
        if isinstance(answer, Incident):
            return dataclasses.replace(answer, id=self.primary_incident)
        return answer

    def marker_payload(self, pairs: list[list[int]], source_head: str) -> dict[str, Any]:
        """The marker's payload (`Timeline.import_incident`'s marker), pairs as copied."""
        return {
            "source": self.primary,
            "source_incident": self.primary_incident,
            "source_head": source_head,
            "events": pairs,
            JOURNAL_KEY: {
                "id": self.journal_id,
                "split_id": self.split_id,
                "head_id": self.head_id,
                "host": self.host,
                "in_doubt": self.in_doubt,
            },
        }


def is_marker(event: Event) -> bool:
    """True for the ``incident.imported`` event that starts a journal's split."""
    return event.kind == IMPORTED and isinstance(event.payload.get(JOURNAL_KEY), dict)


def from_marker(event: Event, where: object) -> Split:
    """The split a marker event records.

    Raises:
        TimelineError: The marker does not read as one (names the journal and the event).
    """
    data = event.payload
    info = data.get(JOURNAL_KEY)
    try:
        assert isinstance(info, dict) and event.incident is not None
        pairs = data.get("events") or []
        copied = {int(local): int(primary) for primary, local in pairs}
        return Split(
            journal_id=str(info["id"]),
            primary=str(data.get("source", "")),
            primary_incident=int(data["source_incident"]),
            local_incident=event.incident,
            base=event.id,
            split_id=int(info["split_id"]),
            copied=copied,
            head_id=int(info.get("head_id") or 0),
            head_hash=str(data.get("source_head") or ""),
            host=str(info.get("host", "")),
            in_doubt=bool(info.get("in_doubt", False)),
        )
    except (AssertionError, KeyError, TypeError, ValueError):
        raise TimelineError(
            f"{where}: event {event.id} does not read as a journal's split marker"
        ) from None


def splits_of(events: list[Event], where: object) -> list[Split]:
    """Every split a journal's events record, oldest first."""
    return [from_marker(event, where) for event in events if is_marker(event)]


def unreplayed(journal: Timeline, incident: int) -> Split | None:
    """The journal's latest split of PostgreSQL incident `incident` when it has not been
    replayed (a cockpit that stopped while offline, started again)."""
    for split in reversed(splits_of(journal.events(None, kinds=[IMPORTED]), journal.path)):
        if split.primary_incident == incident:
            replayed = journal.events(split.local_incident, kinds=[REPLAYED], limit=1)
            return None if replayed else split
    return None


def start_split(journal: Timeline, events: list[Event], primary: str, in_doubt: bool) -> Split:
    """Copy a PostgreSQL incident's `events` (in id order, from `primary` as shown) into the
    journal as a new incident there, ending with the split's marker; returns the split."""
    last = events[-1]
    assert last.incident is not None
    plan = Split(
        journal_id=uuid.uuid4().hex,
        primary=primary,
        primary_incident=last.incident,
        local_incident=0,
        base=0,
        split_id=last.id,
        head_id=last.id,
        head_hash=last.hash,
        host=socket.gethostname(),
        in_doubt=in_doubt,
    )

    def marker(copies: list[Event]) -> tuple[str, dict[str, Any]]:
        pairs = [[old.id, new.id] for old, new in zip(events, copies, strict=True)]
        summary = (
            f"Journal of incident {last.incident} on {primary or 'the team timeline'}: "
            "written here while it cannot be reached"
        )
        return summary, plan.marker_payload(pairs, last.hash)

    copies = journal.import_incident(events, marker)
    return from_marker(copies[-1], journal.path)
