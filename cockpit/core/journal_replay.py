"""Replaying a local journal onto the team's PostgreSQL timeline once the server answers again.

`replay_journal` appends the events written to a journal while apart (those after each split's
marker, `cockpit.core.journal_split`) to the PostgreSQL incident, in their order. Each keeps its
original time, kind, actor, summary and command; its payload gains a ``delayed`` entry (the
journal file, host, local id, when it was written there and when it was replayed), so nobody
mistakes it for an event seen live. Each is appended with an idempotency key made of the
split's uuid and its local id: a replay cut short (the server gone again, the process killed)
and run again finds what committed and appends only the rest. Appends go in batches, one
transaction each under the append lock, ids and hashes computed here and checked by the
server's trigger, so 10,000 events take 20 transactions, not 10,000.

The write that found the server gone may have committed there after all (its answer was lost):
when the split says so, the journal's first event is looked for there by its content (time,
kind, actor, summary, payload, command: the journaled timeline fixed them before the first
try) and not appended twice.

Conflicts: an ``action.intent`` on a target (provider and target, as `cockpit.action_runner`
and `cockpit.core.manual` record them) written by someone else on PostgreSQL after the split,
and one on the same target in the journal, are both kept as recorded; a ``journal.conflict``
event after the replayed intent names both (ids, actors, times, target), and the report counts
it. Nothing is merged.

Then both sides record the replay (``journal.replayed``: how many, the PostgreSQL id range, the
journal's head hash) and both chains are verified. A journal whose own chain does not verify
is refused (`JournalRefused`, naming the file), nothing appended.

Pure Python, no Textual, no Rich.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.core.chain import chain_hash
from cockpit.core.clock import Clock, SystemClock, iso_ms
from cockpit.core.errors import ChainBroken, TimelineDamaged, TimelineError
from cockpit.core.event_log import Event, clean_fields
from cockpit.core.incidents import IMPORTED
from cockpit.core.journal_conflicts import (
    Conflict,
    conflict_fields,
    conflict_key,
    conflict_of,
    rivals,
    target_of,
)
from cockpit.core.journal_split import CONFLICT, REPLAYED, Split, splits_of
from cockpit.core.pg_schema import PG_EVENT_COLUMNS

if TYPE_CHECKING:
    from cockpit.core.pg_connect import Conn
    from cockpit.core.pg_timeline import PgTimeline
    from cockpit.core.timeline import Timeline

BATCH = 500
"""Events per transaction. Few round trips, and short transactions: others' appends queue on
the append lock meanwhile, and the server's trigger updates the one chain-head row per event,
whose versions pile up within a transaction (10,000 in one took twice as long as 500 at a time,
make bench)."""

_INSERT = (
    f"INSERT INTO cockpit.events ({PG_EVENT_COLUMNS}, idem_key)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


__all__ = ["CONFLICT", "REPLAYED", "Conflict", "JournalRefused", "ReplayReport", "replay_journal"]


class JournalRefused(TimelineError):
    """The journal cannot be replayed (tampered, damaged, not a journal, another timeline's)."""

    title = "Journal refused"


@dataclass
class ReplayReport:
    """What a replay did.

    Attributes:
        journal: The journal file.
        primary: The PostgreSQL timeline as shown (no password).
        incident: The PostgreSQL incident.
        count: The journal's own events (written while apart), this run's and earlier ones'.
        appended: How many this run appended.
        already: How many were there already (an earlier, interrupted run; the write whose
            answer was lost).
        first_id: The first PostgreSQL id the journal's events have (None: there were none).
        last_id: The last one.
        ids: Journal id → PostgreSQL id of each replayed event (for provisional ids).
        conflicts: Each conflict recorded.
        samples: Metric readings copied.
        journal_head: The journal's head hash after its ``journal.replayed`` event.
        primary_head: PostgreSQL's head hash after the replay.
    """

    journal: Path
    primary: str
    incident: int
    count: int = 0
    appended: int = 0
    already: int = 0
    first_id: int | None = None
    last_id: int | None = None
    ids: dict[int, int] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    samples: int = 0
    journal_head: str = ""
    primary_head: str = ""


def replay_journal(
    journal: Timeline,
    primary: PgTimeline,
    incident: int | None = None,
    *,
    clock: Clock | None = None,
    batch: int = BATCH,
    verify: bool = True,
) -> ReplayReport:
    """Append every split of `journal` (of PostgreSQL incident `incident`, or all) to `primary`.

    Raises:
        JournalRefused: The journal does not verify, holds no split (of that incident), or
            parted from another timeline than `primary`.
        TimelineUnavailable: The server was lost meanwhile (run it again: nothing is appended
            twice).
        TimelineError: Either timeline cannot be read or written.
    """
    try:
        journal.verify()
    except (ChainBroken, TimelineDamaged) as error:
        raise JournalRefused(
            f"{journal.path}: the journal does not verify, nothing replayed: {error}"
        ) from None
    splits = [
        split
        for split in splits_of(journal.events(None, kinds=[IMPORTED]), journal.path)
        if incident is None or split.primary_incident == incident
    ]
    if not splits:
        which = f" of incident {incident}" if incident is not None else ""
        raise JournalRefused(f"{journal.path}: no journaled writes{which} to replay")
    replay = _Replay(journal, primary, clock or SystemClock(), max(1, batch))
    report = ReplayReport(journal.path, primary.where, splits[0].primary_incident)
    for split in splits:
        replay.split(split, report)
    if verify:
        report.primary_head = primary.verify().head_hash
        report.journal_head = journal.verify().head_hash
    else:
        report.primary_head, report.journal_head = primary.head()[1], journal.head()[1]
    return report


class _Replay:
    """One replay's timelines and helpers (one split at a time)."""

    def __init__(self, journal: Timeline, primary: PgTimeline, clock: Clock, batch: int) -> None:
        self.journal = journal
        self.primary = primary
        self.clock = clock
        self.batch = batch
        self.host = socket.gethostname()
        # PgTimeline's appends choose their own keys; replay's keys are the journal's, so it
        # runs its own statements in PgTimeline's transaction under the append lock.
        self.locked = primary._locked
        self.run = primary._run

    def split(self, split: Split, report: ReplayReport) -> None:
        own = [
            e
            for e in self.journal.events(split.local_incident, after_id=split.base)
            if e.kind != REPLAYED
        ]
        self._same_timeline(split)
        matched = self._in_doubt(split, own[0]) if split.in_doubt and own else {}
        others = self._others_intents(split, set(matched.values()))
        when = iso_ms(self.clock.now())
        appended = 0
        for start in range(0, len(own), self.batch):
            chunk = own[start : start + self.batch]
            # Counted once committed: a batch retried after a lost connection counts once.
            done, conflicts = self.locked(
                "replaying the journal",
                partial(
                    self._append,
                    split=split,
                    chunk=chunk,
                    matched=matched,
                    others=others,
                    when=when,
                ),
            )
            appended += done
            report.conflicts.extend(conflicts)
        ids = self._ids_of(split, own, matched)
        report.count += len(own)
        report.ids.update(ids)
        if ids:
            first, last = min(ids.values()), max(ids.values())
            report.first_id = first if report.first_id is None else min(report.first_id, first)
            report.last_id = last if report.last_id is None else max(report.last_id, last)
        self._mark(split, own, ids, report)
        report.appended += appended
        report.already += len(own) - appended

    def _same_timeline(self, split: Split) -> None:
        """Refuse a timeline that is not the one the journal parted from: its copy of the last
        event known at the split must be there, same hash."""
        if not split.head_id:
            return
        found = self.primary.events(after_id=split.head_id - 1, limit=1)
        if not found or found[0].id != split.head_id or found[0].hash != split.head_hash:
            raise JournalRefused(
                f"{self.journal.path}: parted from {split.primary or 'another timeline'}, not "
                f"{self.primary.where}: event {split.head_id} there is not the one copied "
                "(nothing replayed)"
            )

    def _in_doubt(self, split: Split, first: Event) -> dict[int, int]:
        """The journal's first event found on PostgreSQL already (its commit's answer was
        lost when the server went): local id → its id there."""
        fields = _fields(split, first, None)
        row = self.run(
            "looking for a write whose answer was lost",
            lambda conn: conn.execute(
                "SELECT id FROM cockpit.events WHERE incident = %s AND id > %s AND ts = %s"
                " AND kind = %s AND actor = %s AND summary = %s AND payload = %s"
                " AND command IS NOT DISTINCT FROM %s AND idem_key NOT LIKE %s"
                " ORDER BY id LIMIT 1",
                (split.primary_incident, split.split_id, *fields[1:], split.key_prefix + "%"),
            ).fetchone(),
        )
        return {} if row is None else {first.id: int(row[0])}

    def _others_intents(self, split: Split, mine: set[int]) -> dict[tuple[str, str], list[Event]]:
        """Intents recorded on PostgreSQL after the split by anyone but this journal, by
        target."""
        rows = self.run(
            "reading actions taken meanwhile",
            lambda conn: conn.execute(
                f"SELECT {PG_EVENT_COLUMNS} FROM cockpit.events WHERE incident = %s AND id > %s"
                " AND kind = 'action.intent' AND idem_key NOT LIKE %s ORDER BY id",
                (split.primary_incident, split.split_id, split.key_prefix + "%"),
            ).fetchall(),
        )
        from cockpit.core.event_log import events_from_rows

        found: dict[tuple[str, str], list[Event]] = {}
        for event in events_from_rows(rows, self.primary.where):
            target = target_of(event.payload)
            if target is not None and event.id not in mine:
                found.setdefault(target, []).append(event)
        return found

    def _append(
        self,
        conn: Conn,
        split: Split,
        chunk: Sequence[Event],
        matched: dict[int, int],
        others: dict[tuple[str, str], list[Event]],
        when: str,
    ) -> tuple[int, list[Conflict]]:
        """One batch, in the caller's transaction holding the append lock: what is there
        already (by key) is skipped, the rest chained after the head and inserted at once."""
        keys = [split.event_key(e.id) for e in chunk]
        keys += [conflict_key(split, e.id, o.id) for e in chunk for o in rivals(e, others)]
        there = dict(
            conn.execute(
                "SELECT idem_key, id FROM cockpit.events WHERE idem_key = ANY(%s)", (keys,)
            ).fetchall()
        )
        head = conn.execute("SELECT id, hash FROM cockpit.chain_head").fetchone()
        last_id, prev = (int(head[0]), str(head[1])) if head is not None else (0, "0" * 64)
        rows: list[tuple[Any, ...]] = []
        conflicts: list[Conflict] = []
        appended = 0

        def add(fields: tuple[Any, ...], key: str) -> int:
            nonlocal last_id, prev
            last_id += 1
            digest = chain_hash(prev, last_id, *fields)
            rows.append((last_id, *fields, prev, digest, key))
            prev = digest
            return last_id

        for event in chunk:
            if event.id in matched:
                continue
            key = split.event_key(event.id)
            if key in there:
                event_id = int(there[key])
            else:
                event_id = add(_fields(split, event, self._delayed(split, event, when)), key)
                appended += 1
            for rival in rivals(event, others):
                conflict = conflict_of(event, event_id, rival)
                conflicts.append(conflict)
                key = conflict_key(split, event.id, rival.id)
                if key not in there:
                    add(
                        conflict_fields(
                            split, conflict, when, self.journal.path, self.primary._actor_name()
                        ),
                        key,
                    )
        if rows:
            with conn.cursor() as cursor:
                cursor.executemany(_INSERT, rows)
        return appended, conflicts

    def _delayed(self, split: Split, event: Event, when: str) -> dict[str, Any]:
        return {
            "journal": str(self.journal.path),
            "journal_id": split.journal_id,
            "host": split.host or self.host,
            "local_id": event.id,
            "written_at": event.ts,
            "replayed_at": when,
        }

    def _ids_of(self, split: Split, own: list[Event], matched: dict[int, int]) -> dict[int, int]:
        """Journal id → PostgreSQL id of every event of the split, read back by key."""
        keys = [split.event_key(e.id) for e in own if e.id not in matched]
        rows = self.run(
            "reading the replayed ids",
            lambda conn: conn.execute(
                "SELECT idem_key, id FROM cockpit.events WHERE idem_key = ANY(%s)", (keys,)
            ).fetchall(),
        )
        by_key = {str(key): int(event_id) for key, event_id in rows}
        ids = dict(matched)
        for event in own:
            if event.id not in matched:
                ids[event.id] = by_key[split.event_key(event.id)]
        return ids

    def _mark(
        self, split: Split, own: list[Event], ids: dict[int, int], report: ReplayReport
    ) -> None:
        """``journal.replayed`` on PostgreSQL (with the journal's readings, in the same
        transaction: they have no key, so they go once, with the marker) and in the journal."""
        last_local = own[-1].id if own else split.base
        head = own[-1].hash if own else ""
        first = min(ids.values()) if ids else None
        last = max(ids.values()) if ids else None
        span = f"events {first}–{last}" if first is not None else "no events"
        payload = {
            "journal": str(self.journal.path),
            "journal_id": split.journal_id,
            "host": split.host or self.host,
            "count": len(own),
            "first_id": first,
            "last_id": last,
            "journal_head": head,
            "local_ids": [split.base + 1, last_local] if own else [],
        }
        summary = (
            f"Journal replayed: {len(own)} event(s) written on {split.host or self.host} while "
            f"the timeline could not be reached ({span})"
        )
        key = f"{split.key_prefix}replayed:{last_local}"
        samples = [
            (split.primary_incident, s.at, s.metric, s.value, s.source, s.error)
            for s in self.journal.samples(split.local_incident)
        ]
        fields = clean_fields(summary, payload, None, self.primary._actor_name())
        when = iso_ms(self.clock.now())

        def job(conn: Conn) -> tuple[int, str, int]:
            found = conn.execute(
                "SELECT id, hash FROM cockpit.events WHERE idem_key = %s", (key,)
            ).fetchone()
            if found is not None:
                return int(found[0]), str(found[1]), 0
            head_row = conn.execute("SELECT id, hash FROM cockpit.chain_head").fetchone()
            prev_id, prev = (int(head_row[0]), str(head_row[1])) if head_row else (0, "0" * 64)
            row = (split.primary_incident, when, REPLAYED, fields[3], fields[0], fields[1], None)
            digest = chain_hash(prev, prev_id + 1, *row)
            conn.execute(_INSERT, (prev_id + 1, *row, prev, digest, key))
            if samples:
                from cockpit.core import pg_samples

                pg_samples.insert(conn, samples)
            return prev_id + 1, digest, len(samples)

        marker_id, marker_hash, copied = self.locked("recording the replay", job)
        report.samples += copied
        done = any(
            e.payload.get("primary_marker") == marker_id
            for e in self.journal.events(split.local_incident, kinds=[REPLAYED])
        )
        if not done:
            self.journal.record(
                split.local_incident,
                REPLAYED,
                f"Replayed to {self.primary.where}: {len(own)} event(s) ({span})",
                {
                    "primary": self.primary.where,
                    "primary_incident": split.primary_incident,
                    "count": len(own),
                    "first_id": first,
                    "last_id": last,
                    "primary_marker": marker_id,
                    "primary_marker_hash": marker_hash,
                },
            )


def _fields(split: Split, event: Event, delayed: dict[str, Any] | None) -> tuple[Any, ...]:
    """A journal event's columns on PostgreSQL: ``(incident, ts, kind, actor, summary,
    payload, command)``, the payload with its ``delayed`` entry when given."""
    payload = event.payload if delayed is None else {**event.payload, "delayed": delayed}
    summary, text, command, actor = clean_fields(event.summary, payload, event.command, event.actor)
    return (split.primary_incident, event.ts, event.kind, actor, summary, text, command)
