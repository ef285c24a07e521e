"""The timeline's hash chain: how an event is encoded and hashed, and the walk that proves it.

Hash encoding (version 1). For each event::

    hash = sha256(prev_hash ‖ id "," incident "," F(ts) F(kind) F(actor) F(summary)
                  F(payload) F(command)).hexdigest()

where ``‖`` is concatenation of bytes, ``id`` and ``incident`` are decimal ASCII (``-`` when the
incident is NULL), ``F(None) = "-"`` and ``F(s) = len(utf8(s)) ":" utf8(s)`` (the length in
bytes, in decimal). The first event's ``prev_hash`` is 64 zeros. ``payload`` is hashed as the
stored canonical JSON text, so verifying never parses or re-serialises JSON; the length prefixes
make the encoding unambiguous without escaping.

Payloads and texts are normalised here too (`jsonable`, `clean_text`, `canonical_json`), because
what is hashed must be exactly what is stored and read back.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

from cockpit.core.clock import iso_ms
from cockpit.core.damage import describe, find_damage, read_error
from cockpit.core.errors import ChainBroken, TimelineDamaged
from cockpit.core.timeline_schema import EVENT_COLUMNS

GENESIS_HASH = "0" * 64


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


def clean_text(text: str) -> str:
    """Make text storable and hashable as UTF-8, with NUL and lone surrogates replaced."""
    # NUL truncates text in some SQLite functions and lone surrogates cannot be stored as UTF-8;
    # replacing both keeps what is hashed identical to what is stored and read back.
    text = text.replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")


def jsonable(value: Any) -> Any:
    """Turn a payload into plain JSON types, so storing it never fails mid-incident."""
    if value is None or isinstance(value, bool | int | str):
        return clean_text(value) if isinstance(value, str) else value
    if isinstance(value, float):
        # JSON has no NaN/Infinity and SQLite's json functions reject them: keep them as text.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {clean_text(str(key)): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(item) for item in value), key=repr)
    if isinstance(value, datetime):
        return iso_ms(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, PurePath):
        return str(value)
    return clean_text(str(value))


def verify_chain(conn: sqlite3.Connection, path: Path, up_to: int | None = None) -> VerifyReport:
    """Prove the chain: every event's hash, its link to the previous one, no id gaps; and that
    every event reads as written (the types of its columns, a JSON object as payload, a time).

    What it cannot prove: removing the newest events leaves a shorter chain that is still
    valid, so truncation is not detectable from the chain alone (SQLite's AUTOINCREMENT
    counter is checked as a hint, but whoever can edit the file can edit that too). That is
    why the report carries the head hash: compare it with one recorded elsewhere (the
    post-mortem footer prints it) to prove nothing was cut off.

    The first event that fails decides, in id order. When it fails both ways (a payload
    edited into invalid JSON), the chain is reported: the row was altered.

    Args:
        conn: An open timeline connection, outside any transaction (the walk opens its own).
        path: The database file, for error messages.
        up_to: Only the events up to this id (the head an export names); the newer ones, and
            the AUTOINCREMENT hint, are not looked at.

    Returns:
        How many events verified and the head hash (64 zeros when empty).

    Raises:
        ChainBroken: Tampered: names the first bad event: hash mismatch (row altered),
            prev_hash mismatch, or an id gap (row removed or inserted; the missing id is named).
        TimelineDamaged: The first bad event cannot be read as written (a blob where text
            belongs, a NULL, text in the id column, a payload that is not a JSON object, a
            time that is none), or the file cannot be read (truncated, corrupted).
        TimelineError: The file cannot be read for another reason (a lock, a disk error).
    """
    sha256 = hashlib.sha256
    expected_id = 1
    prev = GENESIS_HASH.encode("ascii")
    count = 0
    # One read transaction: the damage scan, the rows and the AUTOINCREMENT counter come from
    # the same snapshot, so an append landing meanwhile cannot look like removed rows.
    conn.execute("BEGIN")
    try:
        # The types and payloads, checked in SQL in one pass: the walk below reads text as
        # bytes, which cannot tell a blob from text.
        damaged = find_damage(conn, path, up_to)
        if damaged is not None and type(damaged[0]) is not int:
            raise damaged[1]  # an id that is no integer has no place in the id order
        bad_id = damaged[0] if damaged is not None else None
        # Reading text as bytes skips a UTF-8 decode and re-encode per field: hashing 100,000
        # events must stay well under a second.
        conn.text_factory = bytes
        only = "" if up_to is None else f" WHERE id <= {int(up_to)}"
        rows = conn.execute(f"SELECT {EVENT_COLUMNS} FROM events{only} ORDER BY id")  # one pass
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
                raise ChainBroken(event_id, "prev_hash does not match the previous event's hash")
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
                if damaged is not None:
                    raise damaged[1] from None
                problem = "a column has the wrong type"
                raise TimelineDamaged(path, problem, f"event {event_id}") from None
            if sha256(canonical).hexdigest().encode("ascii") != digest:
                raise ChainBroken(event_id, "hash mismatch: the row was altered")
            if event_id == bad_id:
                assert damaged is not None
                raise damaged[1]  # chained as written, but not readable as written
            prev = digest
            expected_id += 1
            count += 1
        sequence = None
        if up_to is None:
            sequence = conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'events'"
            ).fetchone()
    except sqlite3.Error as error:
        raise read_error(path, error, conn) from None
    finally:
        conn.execute("ROLLBACK")
        conn.text_factory = str
    if up_to is not None and count < up_to:
        raise ChainBroken(count + 1, f"missing: events {count + 1}..{up_to} are gone")
    if sequence is not None:
        if type(sequence[0]) is not int:
            problem = f"the AUTOINCREMENT counter of events is {describe(sequence[0])}"
            raise TimelineDamaged(path, problem + ", not an integer")
        if sequence[0] > count:
            raise ChainBroken(
                count + 1,
                f"missing: events {count + 1}..{sequence[0]} were written but are gone "
                "(newest rows removed)",
            )
    return VerifyReport(count=count, head_hash=prev.decode("ascii"))
