"""Damage in a timeline file: found without slowing the readers, named where it is.

Whoever holds the file can drop the append-only triggers and store anything: a blob where text
belongs, a NULL, text in an integer column, a payload that is not JSON. SQLite returns what is
stored whatever the column's declared type, so the readers check the Python type of each value
instead of trusting the schema, and turn any problem into `TimelineDamaged` naming the event,
the column and what is wrong ("event 17: payload is a blob, not JSON text").

Cost: the readers stay bulk. A result's types are checked as the set of its rows' type
signatures (a handful of distinct ones, built in C: 40 ms for 100,000 ten-column rows), and all
payloads are decoded in one `json.loads`; only when either fails are the rows walked one by one,
to name the first bad one. `find_damage` makes the same checks in SQL over the whole events
table, for `timeline verify` (typeof and json_valid: about 0.1 s for 100,000 events).

Pure Python (no Textual, no Rich).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from typing import Any

from cockpit.core.clock import parse_iso
from cockpit.core.errors import TimelineDamaged, TimelineError
from cockpit.core.redact import scrub
from cockpit.core.timeline_schema import EVENT_COLUMNS

NoneType = type(None)
Columns = tuple[tuple[str, frozenset[type]], ...]
"""A result's columns: each one's name and the Python types a sound value may have."""

_TEXT: frozenset[type] = frozenset({str})
_INTEGER: frozenset[type] = frozenset({int})
_TEXT_OR_NULL: frozenset[type] = frozenset({str, NoneType})
_INTEGER_OR_NULL: frozenset[type] = frozenset({int, NoneType})
_NUMBER_OR_NULL: frozenset[type] = frozenset({int, float, NoneType})

_EVENT_TYPES: dict[str, frozenset[type]] = {
    "id": _INTEGER,
    "incident": _INTEGER_OR_NULL,
    "ts": _TEXT,
    "kind": _TEXT,
    "actor": _TEXT,
    "summary": _TEXT,
    "payload": _TEXT,
    "command": _TEXT_OR_NULL,
    "prev_hash": _TEXT,
    "hash": _TEXT,
}
EVENT_NAMES: tuple[str, ...] = tuple(EVENT_COLUMNS.split(", "))
EVENT_TYPES: Columns = tuple((name, _EVENT_TYPES[name]) for name in EVENT_NAMES)
"""Rows selected as `EVENT_COLUMNS`."""
ROW_TYPES: Columns = tuple(
    (name, _EVENT_TYPES[name]) for name in ("id", "ts", "kind", "actor", "summary", "command")
)
"""Rows as `Timeline.rows` selects them."""
LIFECYCLE_TYPES: Columns = (
    ("id", _INTEGER),
    ("incident", _INTEGER),
    ("kind", _TEXT),
    ("ts", _TEXT),
    ("payload", _TEXT),
)
"""Lifecycle rows as `cockpit.core.incidents.lifecycle_rows` selects them."""
SAMPLE_TYPES: Columns = (
    ("at", _TEXT),
    ("metric", _TEXT),
    ("value", _NUMBER_OR_NULL),
    ("source", _TEXT),
    ("error", _TEXT),
)
"""Samples as `cockpit.core.sample_store.select` selects them."""

_NAMES = {
    int: "an integer",
    float: "a real number",
    str: "text",
    bytes: "a blob",
    NoneType: "NULL",
}
# typeof() in SQL, in the same words.
_SQL_NAMES = {"integer": int, "real": float, "text": str, "blob": bytes, "null": NoneType}
# The canonical UTC time `cockpit.core.clock.iso_ms` writes: 2026-01-15T03:12:00.000Z.
_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_TS_GLOB = "-".join(["[0-9]" * 4, "[0-9]" * 2, "[0-9]" * 2]) + "T" + ":".join(["[0-9]" * 2] * 3)
_TS_GLOB += ".[0-9][0-9][0-9]Z"


def describe(value: object) -> str:
    """What a value read from SQLite is, in words: ``a blob``, ``NULL``, ``text``, ..."""
    return _NAMES.get(type(value), type(value).__name__)


def _expected(name: str, kinds: frozenset[type]) -> str:
    if name == "payload":
        return "JSON text"
    words = [_NAMES[kind] for kind in (int, float, str, bytes) if kind in kinds]
    return " or ".join(words + (["NULL"] if NoneType in kinds else []))


def event_name(event_id: object) -> str:
    """How a message names an event: ``event 17``, or its id as found when that is no integer."""
    if type(event_id) is int:
        return f"event {event_id}"
    if event_id is None:
        return "an event without an id"
    return f"event {scrub(repr(event_id))[:40]}"


def event_where(row: Sequence[Any]) -> str:
    """A row whose first column is the event id: where it is, for a message."""
    return event_name(row[0])


def check_types(
    path: object, rows: Sequence[Sequence[Any]], columns: Columns, where: Callable[..., str]
) -> None:
    """Refuse rows holding a value of the wrong type (a blob, a NULL, text in an integer column).

    Args:
        path: The database file, for the message.
        rows: The result, its columns in the order of `columns`.
        columns: Each column's name and sound types.
        where: Names a row for the message (``event 17``).

    Raises:
        TimelineDamaged: Names the first bad row, its column and what it holds.
    """
    if not rows:
        return
    allowed = [kinds for _, kinds in columns]
    # One tuple of types per row, made in C; a sound result has only a few distinct ones.
    signatures = set(map(tuple, map(map, repeat(type), rows)))
    if all(all(t in a for t, a in zip(sig, allowed, strict=True)) for sig in signatures):
        return
    for row in rows:
        for (name, kinds), value in zip(columns, row, strict=True):
            if type(value) not in kinds:
                problem = f"{name} is {describe(value)}, not {_expected(name, kinds)}"
                raise TimelineDamaged(path, problem, where(row))


def payload_problem(payload: object) -> str | None:
    """What is wrong with one stored payload (None: it is a JSON object, as written)."""
    if type(payload) is not str:
        return f"payload is {describe(payload)}, not JSON text"
    try:
        value = json.loads(payload)
    except ValueError as error:
        return f"payload is not valid JSON: {error}"
    except RecursionError:
        return "payload is not valid JSON: nested too deeply"
    if type(value) is not dict:
        return f"payload is JSON {type(value).__name__}, not an object"
    return None


def decode_payloads(
    path: object, rows: Sequence[Sequence[Any]], index: int, where: Callable[..., str]
) -> list[dict[str, Any]]:
    """Every row's payload (column `index`), decoded in one `json.loads`.

    One call for all is about 2.5 times faster than one per row (an export reads 100,000);
    only when it fails, or gives something else than one object per row, are the payloads
    decoded one by one to name the first bad one.

    Raises:
        TimelineDamaged: A payload is not text, not valid JSON, or not a JSON object.
    """
    if not rows:
        return []
    try:
        payloads = json.loads("[" + ",".join(map(itemgetter(index), rows)) + "]")
    except (TypeError, ValueError, RecursionError):
        payloads = None
    if (
        type(payloads) is list
        and len(payloads) == len(rows)
        and all(type(value) is dict for value in payloads)
    ):
        return payloads
    for row in rows:
        problem = payload_problem(row[index])
        if problem is not None:
            raise TimelineDamaged(path, problem, where(row))
    raise TimelineDamaged(path, "payloads cannot be decoded together")  # pragma: no cover


def ts_problem(ts: str) -> str | None:
    """What is wrong with a stored time (None: the canonical UTC form, a real moment)."""
    if _TS.fullmatch(ts) is None:
        return f"ts is not a UTC time like 2026-01-15T03:12:00.000Z: {scrub(repr(ts))[:40]}"
    try:
        parse_iso(ts)
    except ValueError as error:
        return f"ts is not a valid time: {error}"
    return None


def check_times(
    path: object,
    rows: Sequence[Sequence[Any]],
    index: int,
    where: Callable[..., str],
    name: str = "ts",
) -> None:
    """Refuse rows whose time (column `index`, text) is not a UTC moment the readers can parse.

    In bulk (10 ms for 100,000): every time is 24 characters ending in Z and parses; only
    when that fails are the rows walked to name the first bad one.

    Raises:
        TimelineDamaged: Names the first bad row.
    """
    if not rows:
        return
    times = list(map(itemgetter(index), rows))
    if set(map(len, times)) == {24} and "".join(times)[23::24] == "Z" * len(times):
        try:
            deque(map(datetime.fromisoformat, times), maxlen=0)
        except ValueError:
            pass
        else:
            return
    for row in rows:
        problem = ts_problem(row[index])
        if problem is not None:
            raise TimelineDamaged(path, problem.replace("ts ", f"{name} ", 1), where(row))


# Every check a sound event passes, as one SQL condition (typeof never decodes a value).
_SOUND = " AND ".join(
    [
        *(
            f"typeof({name}) IN ({', '.join(repr(t) for t, k in _SQL_NAMES.items() if k in kinds)})"
            for name, kinds in EVENT_TYPES
        ),
        "json_valid(payload)",
        "substr(payload, 1, 1) = '{'",
        f"ts GLOB '{_TS_GLOB}'",
    ]
)
_TYPEOFS = ", ".join(f"typeof({name})" for name in EVENT_NAMES)


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def find_damage(
    conn: sqlite3.Connection, path: object, up_to: int | None = None
) -> tuple[object, TimelineDamaged] | None:
    """The first damaged event in the events table, by one SQL pass: its id and the error.

    Events whose id is no integer come first (the id order cannot place them), then by id.
    Reads text as str whatever the connection's text factory. None when every event (up to
    `up_to`) is sound.
    """
    limit = "" if up_to is None else f" AND id <= {int(up_to)}"
    saved = conn.text_factory
    # Text that is not UTF-8 must not stop the search for what is wrong.
    conn.text_factory = _lenient_text
    try:
        row = conn.execute(
            f"SELECT id, {_TYPEOFS}, CAST(payload AS TEXT), CAST(ts AS TEXT) FROM events"
            f" WHERE NOT ({_SOUND}){limit} ORDER BY typeof(id) = 'integer', id LIMIT 1"
        ).fetchone()
    finally:
        conn.text_factory = saved
    if row is None:
        return None
    event_id, types, payload, ts = row[0], row[1:-2], row[-2], row[-1]
    where = event_name(event_id)
    for (name, kinds), sql_type in zip(EVENT_TYPES, types, strict=True):
        found = _SQL_NAMES.get(sql_type, NoneType)
        if found not in kinds:
            problem = f"{name} is {_NAMES[found]}, not {_expected(name, kinds)}"
            return event_id, TimelineDamaged(path, problem, where)
    problem = payload_problem(payload) or ts_problem(ts) or "a value is not as written"
    return event_id, TimelineDamaged(path, problem, where)


def read_error(
    path: object, error: sqlite3.Error, conn: sqlite3.Connection | None = None
) -> TimelineError:
    """The cockpit's error for a SQLite error met while reading: damage named, or why not.

    Not a database, corruption, truncation, a missing table or column and a payload SQLite's
    JSON functions cannot read are damage (`TimelineDamaged`, the event located through `conn`
    when given); anything else (a lock, a disk error) is a `TimelineError` saying the timeline
    cannot be read.
    """
    name = getattr(error, "sqlite_errorname", None) or ""
    text = str(error)
    if name.startswith("SQLITE_NOTADB"):
        return TimelineDamaged(path, f"not a SQLite database ({text})")
    if name.startswith("SQLITE_CORRUPT"):
        return TimelineDamaged(path, f"{text} (the file is truncated or corrupted)")
    if text.startswith(("no such table", "no such column", "no such index")):
        return TimelineDamaged(path, text)
    if conn is not None and ("JSON" in text or text.startswith("Could not decode to UTF-8")):
        found = _locate(conn, path) if "JSON" in text else _undecodable(conn, path, text)
        if found is not None:
            return found
        return TimelineDamaged(path, scrub(text.split(" with text ")[0]))
    return TimelineError(f"{path}: cannot read the timeline: {text}")


def _locate(conn: sqlite3.Connection, path: object) -> TimelineDamaged | None:
    try:
        found = find_damage(conn, path)
    except sqlite3.Error:
        return None
    return found[1] if found is not None else None


def _undecodable(conn: sqlite3.Connection, path: object, text: str) -> TimelineDamaged | None:
    """The event holding text that is not UTF-8 (SQLite stores whatever bytes it is given)."""
    column = re.match(r"Could not decode to UTF-8 column '(\w+)'", text)
    if column is None or column.group(1) not in EVENT_NAMES:
        return None
    saved = conn.text_factory
    conn.text_factory = bytes
    try:
        for event_id, value in conn.execute(f"SELECT id, {column.group(1)} FROM events"):
            if isinstance(value, bytes):
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    problem = f"{column.group(1)} is not valid UTF-8 text"
                    return TimelineDamaged(path, problem, event_name(event_id))
    except sqlite3.Error:
        return None
    finally:
        conn.text_factory = saved
    return None
