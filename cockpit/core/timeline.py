"""The timeline: the cockpit's append-only, hash-chained system of record, in SQLite.

Every fact the cockpit learns or causes is one row of the `events` table. Rows are never changed
or removed (SQL triggers refuse UPDATE and DELETE), and each row carries the SHA-256 of its
predecessor's hash plus its own content, so `verify()` proves nothing was altered, inserted or
removed in the middle. Incidents are not a mutable table but a projection of their
``incident.*`` events; actions are an ``action.intent`` before and an ``action.result`` after,
so a crash in between leaves an intent without a result: "outcome unknown".

Hash encoding (version 1). For each event::

    hash = sha256(prev_hash ‖ id "," incident "," F(ts) F(kind) F(actor) F(summary)
                  F(payload) F(command)).hexdigest()

where ``‖`` is concatenation of bytes, ``id`` and ``incident`` are decimal ASCII (``-`` when the
incident is NULL), ``F(None) = "-"`` and ``F(s) = len(utf8(s)) ":" utf8(s)`` (the length in
bytes, in decimal). The first event's ``prev_hash`` is 64 zeros. ``payload`` is hashed as the
stored canonical JSON text, so verifying never parses or re-serialises JSON; the length prefixes
make the encoding unambiguous without escaping.

Concurrency: appends run inside ``BEGIN IMMEDIATE`` (read the head, hash, insert, commit), so
processes appending to the same file at once serialise on SQLite's write lock and never fork the
chain. A `Timeline` holds one sqlite3 connection and is not thread-safe: give every thread its
own `Timeline` on the same path (sqlite3 enforces this; using one from another thread raises).

Durability and privacy: WAL journal, ``synchronous=FULL`` (a returned append survives power
loss), busy timeout 5 s. The database file is created 0600 before SQLite opens it and its
directory 0700; SQLite gives the ``-wal``/``-shm`` files the database file's mode, and opening
tightens them to 0600 should they be looser.

This module is pure Python (no Textual, no Rich) and cheap to import: sqlite-utils, which takes
about 0.2 s to import, is loaded only when the schema must be created or migrated, so
`cockpit timeline verify` on an existing database never pays for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path, PurePath
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from cockpit.core.clock import Clock, SystemClock, iso_ms, parse_iso
from cockpit.core.errors import ChainBroken, IncidentError, TimelineError
from cockpit.core.redact import redact

if TYPE_CHECKING:
    from sqlite_utils import Database

GENESIS_HASH = "0" * 64
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 5.0

Outcome = Literal["succeeded", "failed", "cancelled"]
OUTCOMES: tuple[str, ...] = ("succeeded", "failed", "cancelled")

# Kinds that change the incident projection or pair intents with results: only the dedicated
# methods may write them, so the projection's rules (no double close, one result per intent)
# cannot be bypassed through record().
_RESERVED_PREFIXES = ("incident.", "action.")
_LIFECYCLE = (
    "incident.opened",
    "incident.severity_changed",
    "incident.acknowledged",
    "incident.closed",
)
_COLUMNS = "id, incident, ts, kind, actor, summary, payload, command, prev_hash, hash"


@dataclass(frozen=True)
class Event:
    """One timeline row, with the payload decoded."""

    id: int
    incident: int | None
    ts: str
    kind: str
    actor: str
    summary: str
    payload: dict[str, Any] = field(hash=False)
    command: str | None
    prev_hash: str
    hash: str

    @property
    def at(self) -> datetime:
        """The event time as an aware UTC datetime."""
        return parse_iso(self.ts)


@dataclass(frozen=True)
class Incident:
    """An incident as its lifecycle events describe it (a projection, never stored)."""

    id: int
    title: str
    severity: str
    status: Literal["open", "closed"]
    procedure: str | None
    opened_at: str
    closed_at: str | None = None
    acknowledged_at: str | None = None
    drill: bool = False
    resolution: str | None = None


@dataclass(frozen=True)
class VerifyReport:
    """What `Timeline.verify` proved: how many events chain correctly and the head hash."""

    count: int
    head_hash: str


def canonical_json(value: Any) -> str:
    """Encode a payload the one way the timeline stores it (sorted keys, compact, UTF-8)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def chain_hash(
    prev_hash: str,
    event_id: int,
    incident: int | None,
    ts: str,
    kind: str,
    actor: str,
    summary: str,
    payload: str,
    command: str | None,
) -> str:
    """Compute an event's hash with the version-1 encoding described in the module docstring.

    Args:
        prev_hash: The previous event's hash (64 zeros for the first event).
        event_id: The event's id.
        incident: The incident id, or None.
        ts: The timestamp text as stored.
        kind: The event kind.
        actor: The actor text.
        summary: The summary text.
        payload: The payload as stored (canonical JSON text).
        command: The CLI-equivalent command, or None.

    Returns:
        The lowercase hexadecimal SHA-256.
    """
    parts = [
        prev_hash.encode("ascii"),
        b"%d,%s," % (event_id, b"-" if incident is None else b"%d" % incident),
    ]
    for text in (ts, kind, actor, summary, payload, command):
        if text is None:
            parts.append(b"-")
        else:
            raw = text.encode("utf-8")
            parts.append(b"%d:%s" % (len(raw), raw))
    return hashlib.sha256(b"".join(parts)).hexdigest()


def _clean_text(text: str) -> str:
    # NUL truncates text in some SQLite functions and lone surrogates cannot be stored as UTF-8;
    # replacing both keeps what is hashed identical to what is stored and read back.
    text = text.replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")


def _jsonable(value: Any) -> Any:
    """Turn a payload into plain JSON types, so storing it never fails mid-incident."""
    if value is None or isinstance(value, bool | int | str):
        return _clean_text(value) if isinstance(value, str) else value
    if isinstance(value, float):
        # JSON has no NaN/Infinity and SQLite's json functions reject them: keep them as text.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {_clean_text(str(key)): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(item) for item in value), key=repr)
    if isinstance(value, datetime):
        return iso_ms(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, PurePath):
        return str(value)
    return _clean_text(str(value))


# --- schema -------------------------------------------------------------------------------


def _migration_1(db: Database) -> None:
    """Create the events table, its lookup indexes and the append-only triggers."""
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            incident INTEGER,
            ts TEXT NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT NOT NULL,
            summary TEXT NOT NULL,
            payload TEXT NOT NULL,
            command TEXT,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX events_incident_kind ON events (incident, kind)")
    db.execute("CREATE INDEX events_kind ON events (kind)")
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
            "BEGIN SELECT RAISE(ABORT, 'timeline is append-only'); END"
        )


# Append only: a released version's migration is never edited, a new one is added.
MIGRATIONS: tuple[tuple[int, Callable[[Database], None]], ...] = ((1, _migration_1),)


class Timeline:
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

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Clock | None = None,
        actor: str | None = None,
        create: bool = True,
    ) -> None:
        if path is None:
            from cockpit.core.paths import timeline_db

            path = timeline_db()
        self.path = Path(path).expanduser()
        self._clock: Clock = clock or SystemClock()
        self._actor = actor
        self._known_incidents: set[int] = set()
        self._prepare_file(create)
        try:
            self._conn = sqlite3.connect(
                str(self.path),
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=True,
            )
        except sqlite3.Error as error:
            raise TimelineError(f"{self.path}: cannot open the timeline: {error}") from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise TimelineError(f"{self.path}: cannot switch the timeline to WAL ({mode})")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except sqlite3.DatabaseError as error:
            self._conn.close()
            raise TimelineError(f"{self.path}: not a usable timeline database: {error}") from None
        except BaseException:
            self._conn.close()
            raise
        self._tighten_sidecars()

    # --- opening ------------------------------------------------------------------------------

    def _prepare_file(self, create: bool) -> None:
        from cockpit.core.paths import ensure_private_dir

        if self.path.is_dir():
            raise TimelineError(f"{self.path}: is a directory, not a timeline database")
        if self.path.exists():
            return
        if not create:
            raise TimelineError(f"{self.path}: no timeline database here")
        try:
            if not self.path.parent.exists():
                ensure_private_dir(self.path.parent)
            # Created 0600 before SQLite sees it: SQLite would create it with the umask's mode.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # another process created it first; its mode is its own business
        except OSError as error:
            raise TimelineError(f"{self.path}: cannot create the timeline: {error}") from None
        os.close(fd)

    def _tighten_sidecars(self) -> None:
        for suffix in ("-wal", "-shm"):
            sidecar = self.path.with_name(self.path.name + suffix)
            with contextlib.suppress(OSError):
                if stat.S_IMODE(sidecar.stat().st_mode) & 0o077:
                    sidecar.chmod(0o600)

    def _user_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self._user_version()
        if version > SCHEMA_VERSION:
            raise TimelineError(
                f"{self.path}: timeline schema version {version} is newer than this cockpit "
                f"understands ({SCHEMA_VERSION}); upgrade rollback-cockpit to open it"
            )
        if version == SCHEMA_VERSION:
            return
        if version == 0:
            foreign = self._conn.execute(
                "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' LIMIT 1"
            ).fetchone()
            if foreign is not None:
                raise TimelineError(
                    f"{self.path}: a SQLite database but not a cockpit timeline "
                    f"(it has a table or index {foreign[0]!r})"
                )
        from sqlite_utils import Database  # deferred: ~0.2 s of imports, needed only here

        db = Database(self._conn, recursive_triggers=False)
        for target, step in MIGRATIONS:
            with self._write():
                # Re-read under the write lock: another process may have migrated meanwhile.
                if self._user_version() >= target:
                    continue
                step(db)
                # The version is part of the same transaction as the migration it records.
                self._conn.execute(f"PRAGMA user_version = {int(target)}")

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connection; the object is unusable afterwards."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- writing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One IMMEDIATE transaction: takes the write lock first, so the head cannot move."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise TimelineError(f"{self.path}: cannot write to the timeline: {error}") from None
        try:
            yield
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise TimelineError(f"{self.path}: cannot write to the timeline: {error}") from None
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise TimelineError(f"{self.path}: cannot commit to the timeline: {error}") from None

    def _actor_name(self) -> str:
        if self._actor is None:
            from cockpit.core.actor import current_actor

            self._actor = current_actor()
        return self._actor

    def _append(
        self,
        incident: int | None,
        kind: str,
        summary: str,
        payload: Mapping[str, Any] | None,
        command: str | None,
        actor: str | None,
    ) -> Event:
        """Insert one event; the caller holds the IMMEDIATE transaction."""
        clean_payload = redact(_jsonable(dict(payload or {})))
        payload_text = canonical_json(clean_payload)
        summary = _clean_text(redact(summary))
        command = None if command is None else _clean_text(redact(command))
        who = _clean_text(actor if actor is not None else self._actor_name())
        head = self._conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        prev_id, prev_hash = head if head is not None else (0, GENESIS_HASH)
        event_id = int(prev_id) + 1
        ts = iso_ms(self._clock.now())
        digest = chain_hash(
            prev_hash, event_id, incident, ts, kind, who, summary, payload_text, command
        )
        self._conn.execute(
            f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, incident, ts, kind, who, summary, payload_text, command, prev_hash, digest),
        )
        return Event(
            event_id,
            incident,
            ts,
            kind,
            who,
            summary,
            json.loads(payload_text),
            command,
            prev_hash,
            digest,
        )

    def record(
        self,
        incident: int | None,
        kind: str,
        summary: str,
        payload: Mapping[str, Any] | None = None,
        *,
        command: str | None = None,
        actor: str | None = None,
    ) -> Event:
        """Append one event (redacted: secrets never reach the file).

        Args:
            incident: The incident it belongs to, or None for events outside any incident
                (``session.started``, ...).
            kind: Dotted kind, e.g. ``note``, ``trigger.fired``. ``incident.*`` and ``action.*``
                are written only by the dedicated methods.
            summary: One human line.
            payload: JSON-like details; non-JSON values are stored as text.
            command: The CLI-equivalent command, for actions.
            actor: Override the recorded actor (tests, imports); default: the current actor.

        Returns:
            The stored event, as stored (redacted).

        Raises:
            ValueError: The kind is empty or reserved.
            IncidentError: The incident does not exist.
            TimelineError: The database cannot be written.
        """
        if not kind or kind.strip() != kind:
            raise ValueError(f"invalid event kind {kind!r}")
        if kind.startswith(_RESERVED_PREFIXES):
            raise ValueError(f"kind {kind!r} is written by the Timeline's own methods only")
        with self._write():
            if incident is not None:
                self._require_incident(incident)
            return self._append(incident, kind, summary, payload, command, actor)

    def append_bulk(
        self,
        items: Iterable[tuple[int | None, str, str, Mapping[str, Any] | None]],
        *,
        actor: str | None = None,
    ) -> int:
        """Append many ``(incident, kind, summary, payload)`` events in one transaction.

        For imports and benchmarks: one commit (one fsync) for all, same rules as `record`.
        Nothing is written if any item is refused.

        Returns:
            How many events were appended.

        Raises:
            ValueError: A kind is empty or reserved.
            IncidentError: An incident does not exist.
        """
        count = 0
        with self._write():
            for incident, kind, summary, payload in items:
                if not kind or kind.startswith(_RESERVED_PREFIXES):
                    raise ValueError(f"invalid or reserved event kind {kind!r}")
                if incident is not None:
                    self._require_incident(incident)
                self._append(incident, kind, summary, payload, None, actor)
                count += 1
        return count

    # --- incidents ----------------------------------------------------------------------------

    def _require_incident(self, incident_id: int) -> None:
        if incident_id in self._known_incidents:
            return
        row = self._conn.execute(
            "SELECT 1 FROM events WHERE incident = ? AND kind = 'incident.opened' LIMIT 1",
            (incident_id,),
        ).fetchone()
        if row is None:
            raise IncidentError(f"no incident {incident_id} in {self.path}")
        # Incidents are never deleted, so a positive answer can be remembered.
        self._known_incidents.add(incident_id)

    def _lifecycle_rows(self, incident_id: int | None) -> list[tuple[Any, ...]]:
        marks = ", ".join("?" for _ in _LIFECYCLE)
        sql = f"SELECT incident, kind, ts, payload FROM events WHERE kind IN ({marks})"
        params: list[Any] = list(_LIFECYCLE)
        if incident_id is not None:
            sql += " AND incident = ?"
            params.append(incident_id)
        return self._conn.execute(sql + " ORDER BY id", params).fetchall()

    @staticmethod
    def _project(rows: Iterable[tuple[Any, ...]]) -> dict[int, Incident]:
        found: dict[int, Incident] = {}
        for incident_id, kind, ts, payload_text in rows:
            data = json.loads(payload_text)
            if kind == "incident.opened":
                found[incident_id] = Incident(
                    id=incident_id,
                    title=str(data.get("title", "")),
                    severity=str(data.get("severity", "")),
                    status="open",
                    procedure=data.get("procedure"),
                    opened_at=ts,
                    drill=bool(data.get("drill", False)),
                )
                continue
            current = found.get(incident_id)
            if current is None:
                continue
            if kind == "incident.severity_changed":
                found[incident_id] = _replace(current, severity=str(data.get("to", "")))
            elif kind == "incident.acknowledged" and current.acknowledged_at is None:
                found[incident_id] = _replace(current, acknowledged_at=ts)
            elif kind == "incident.closed":
                found[incident_id] = _replace(
                    current, status="closed", closed_at=ts, resolution=data.get("resolution")
                )
        return found

    def incident(self, incident_id: int) -> Incident:
        """The current projection of one incident.

        Raises:
            IncidentError: No incident has this id.
        """
        found = self._project(self._lifecycle_rows(incident_id)).get(incident_id)
        if found is None:
            raise IncidentError(f"no incident {incident_id} in {self.path}")
        return found

    def incidents(self, *, include_closed: bool = True) -> list[Incident]:
        """All incidents, newest first, from one query over the lifecycle events."""
        found = self._project(self._lifecycle_rows(None)).values()
        chosen = [item for item in found if include_closed or item.status == "open"]
        return sorted(chosen, key=lambda item: item.id, reverse=True)

    def latest_open(self) -> Incident | None:
        """The most recently opened incident that is still open, if any."""
        open_ones = self.incidents(include_closed=False)
        return open_ones[0] if open_ones else None

    def open_incident(
        self,
        title: str,
        severity: str,
        procedure: str | None,
        *,
        drill: bool = False,
        actor: str | None = None,
    ) -> Incident:
        """Open a new incident with the next free id and record ``incident.opened``.

        Args:
            title: A short human title.
            severity: The procedure's severity id, e.g. ``P1``.
            procedure: The procedure it runs under (name or file), if known.
            drill: True for an exercise, so reports can tell drills from real incidents.
            actor: Override the recorded actor.

        Returns:
            The new incident.
        """
        with self._write():
            row = self._conn.execute("SELECT MAX(incident) FROM events").fetchone()
            incident_id = int(row[0] or 0) + 1
            payload = {"title": title, "severity": severity, "procedure": procedure, "drill": drill}
            prefix = "Drill opened" if drill else "Incident opened"
            event = self._append(
                incident_id, "incident.opened", f"{prefix}: {title}", payload, None, actor
            )
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

    def _change(
        self,
        incident_id: int,
        kind: str,
        summary: str,
        payload: dict[str, Any],
        check: Callable[[Incident], bool],
        actor: str | None,
    ) -> Incident:
        with self._write():
            current = self.incident(incident_id)
            if check(current):
                self._append(incident_id, kind, summary, payload, None, actor)
        return self.incident(incident_id)

    def close_incident(
        self, incident_id: int, resolution: str | None = None, *, actor: str | None = None
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
        return self._change(incident_id, "incident.closed", summary, payload, check, actor)

    def acknowledge(self, incident_id: int, *, actor: str | None = None) -> Incident:
        """Record that someone took the incident; the first acknowledgement sets the time.

        Raises:
            IncidentError: Unknown or closed incident.
        """

        def check(current: Incident) -> bool:
            if current.status == "closed":
                raise IncidentError(f"incident {incident_id} is closed")
            return True

        return self._change(
            incident_id, "incident.acknowledged", "Incident acknowledged", {}, check, actor
        )

    def set_severity(
        self, incident_id: int, severity: str, *, actor: str | None = None
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
                )
        return self.incident(incident_id)

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
    ) -> Event:
        """Record that an action is about to run (``action.intent``), before running it.

        Args:
            incident: The incident.
            action: What runs, e.g. ``flags.rollback``.
            summary: One human line.
            payload: Details (target, plan, ...); ``action`` and a fresh ``action_id`` are added.
            command: The CLI-equivalent command line.
            actor: Override the recorded actor.

        Returns:
            The intent event; ``event.payload["action_id"]`` identifies the action.
        """
        import uuid  # deferred: only processes that act pay for it

        body = dict(payload or {})
        body.update(action=action, action_id=uuid.uuid4().hex)
        with self._write():
            self._require_incident(incident)
            return self._append(incident, "action.intent", summary, body, command, actor)

    def finish_action(
        self,
        incident: int,
        action_id: str,
        outcome: Outcome,
        summary: str,
        payload: Mapping[str, Any] | None = None,
        *,
        actor: str | None = None,
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
            intent = self._conn.execute(
                "SELECT payload FROM events WHERE incident = ? AND kind = 'action.intent' "
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
                    f"incident {incident}: action {action_id} already has a result "
                    f"(event {done[0]})"
                )
            body = dict(payload or {})
            body.update(
                action=json.loads(intent[0]).get("action"), action_id=action_id, outcome=outcome
            )
            return self._append(incident, "action.result", summary, body, None, actor)

    def unresolved_actions(self, incident: int) -> list[Event]:
        """Intents without a result: after a crash their outcome is unknown and must be checked."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM events AS i WHERE i.incident = ? AND i.kind = 'action.intent'"
            " AND NOT EXISTS (SELECT 1 FROM events AS r WHERE r.incident = i.incident"
            " AND r.kind = 'action.result'"
            " AND json_extract(r.payload, '$.action_id') = json_extract(i.payload, '$.action_id'))"
            " ORDER BY i.id",
            (incident,),
        ).fetchall()
        return [_event(row) for row in rows]

    # --- reading ------------------------------------------------------------------------------

    def events(
        self,
        incident: int | None = None,
        *,
        after_id: int = 0,
        kinds: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Events in id order; tail the timeline by passing the last seen id as `after_id`.

        Args:
            incident: Only this incident's events (default: all).
            after_id: Only events with a larger id.
            kinds: Only these kinds.
            limit: At most this many events (the oldest matching ones).
        """
        sql = f"SELECT {_COLUMNS} FROM events WHERE id > ?"
        params: list[Any] = [after_id]
        if incident is not None:
            sql += " AND incident = ?"
            params.append(incident)
        if kinds is not None:
            wanted = list(kinds)
            sql += f" AND kind IN ({', '.join('?' for _ in wanted)})" if wanted else " AND 0"
            params.extend(wanted)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_event(row) for row in self._conn.execute(sql, params)]

    def head(self) -> tuple[int, str]:
        """The newest event's id and hash, ``(0, 64 zeros)`` for an empty timeline."""
        row = self._conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS_HASH)

    # --- verification -------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Prove the chain: every event's hash, its link to the previous one, no id gaps.

        What it cannot prove: removing the newest events leaves a shorter chain that is still
        valid, so truncation is not detectable from the chain alone (SQLite's AUTOINCREMENT
        counter is checked as a hint, but whoever can edit the file can edit that too). That is
        why the report carries the head hash: compare it with one recorded elsewhere (the
        post-mortem footer prints it) to prove nothing was cut off.

        Returns:
            How many events verified and the head hash (64 zeros when empty).

        Raises:
            ChainBroken: Names the first bad event: hash mismatch (row altered), prev_hash
                mismatch, or an id gap (row removed or inserted; the missing id is named).
        """
        sha256 = hashlib.sha256
        expected_id = 1
        prev = GENESIS_HASH.encode("ascii")
        count = 0
        # Reading text as bytes skips a UTF-8 decode and re-encode per field: hashing 100,000
        # events must stay well under a second.
        self._conn.text_factory = bytes
        # One read transaction: the rows and the AUTOINCREMENT counter come from the same
        # snapshot, so an append landing meanwhile cannot look like removed rows.
        self._conn.execute("BEGIN")
        try:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM events ORDER BY id"
            )  # one pass, in id order
            for row in rows:
                event_id, inc, ts, kind, actor, summary, payload, command, prev_hash, digest = row
                if event_id != expected_id:
                    if event_id > expected_id:
                        raise ChainBroken(
                            expected_id,
                            f"missing (event {event_id} follows event {expected_id - 1}): "
                            "a row was removed",
                        )
                    raise ChainBroken(event_id, "id out of sequence: a row was inserted")
                if prev_hash != prev:
                    raise ChainBroken(
                        event_id, "prev_hash does not match the previous event's hash"
                    )
                try:
                    canonical = b"%s%d,%s,%d:%s%d:%s%d:%s%d:%s%d:%s%s" % (
                        prev_hash,
                        event_id,
                        b"-" if inc is None else b"%d" % inc,
                        len(ts),
                        ts,
                        len(kind),
                        kind,
                        len(actor),
                        actor,
                        len(summary),
                        summary,
                        len(payload),
                        payload,
                        b"-" if command is None else b"%d:%s" % (len(command), command),
                    )
                except TypeError:
                    raise ChainBroken(
                        event_id, "malformed row (a column has the wrong type)"
                    ) from None
                if sha256(canonical).hexdigest().encode("ascii") != digest:
                    raise ChainBroken(event_id, "hash mismatch: the row was altered")
                prev = digest
                expected_id += 1
                count += 1
            sequence = self._conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'events'"
            ).fetchone()
        except sqlite3.DatabaseError as error:
            raise TimelineError(f"{self.path}: cannot read the timeline: {error}") from None
        finally:
            self._conn.execute("ROLLBACK")
            self._conn.text_factory = str
        if sequence is not None and int(sequence[0]) > count:
            raise ChainBroken(
                count + 1,
                f"missing: events {count + 1}..{int(sequence[0])} were written but are gone "
                "(newest rows removed)",
            )
        return VerifyReport(count=count, head_hash=prev.decode("ascii"))


def _replace(incident: Incident, **changes: Any) -> Incident:
    from dataclasses import replace

    return replace(incident, **changes)


def _event(row: tuple[Any, ...]) -> Event:
    event_id, incident, ts, kind, actor, summary, payload, command, prev_hash, digest = row
    return Event(
        id=event_id,
        incident=incident,
        ts=ts,
        kind=kind,
        actor=actor,
        summary=summary,
        payload=json.loads(payload),
        command=command,
        prev_hash=prev_hash,
        hash=digest,
    )
