"""Tampered and damaged timeline files, through every command that reads one (issue 13, part 6).

Whoever holds the file can drop the append-only triggers and store anything. A corpus of
damaged copies of one small timeline is built here, with SQLite itself, and every command runs
on each as a real process (`python -m cockpit ...`): a damaged file is one line on stderr
naming the database, the event and what is wrong, and exit 2; a tampered one makes
`timeline verify` exit 1 and `cockpit export` refuse unless --unverified. Never a traceback.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.core.chain import GENESIS_HASH, chain_hash
from cockpit.core.clock import FixedClock
from cockpit.core.errors import ChainBroken, TimelineDamaged
from cockpit.core.metrics import Sample
from cockpit.core.timeline import SCHEMA_VERSION, Timeline

ROOT = Path(__file__).resolve().parent.parent

# --- the corpus -----------------------------------------------------------------------------


def seed(db: Path) -> None:
    """Incident 1 (open): opened (event 1), acknowledged, a trigger (event 3), notes, an
    action with its result, and metric samples."""
    clock = FixedClock()
    with Timeline(db, clock=clock, actor="alice") as timeline:
        timeline.open_incident("Checkout errors after deploy", "P1", "pulse-messages")
        clock.advance(30)
        timeline.acknowledge(1)
        clock.advance(30)
        payload = {"rule": "error-rate", "value": 7.5}
        timeline.record(1, "trigger.fired", "error-rate fired (7.5)", payload)
        for index in range(5):
            clock.advance(10)
            timeline.record(1, "note", f"checked dashboard {index}", {"index": index})
        intent = timeline.begin_action(1, "flags.off", "Turn off checkout-v2", command="x")
        timeline.finish_action(1, intent.payload["action_id"], "succeeded", "flag is off")
        start = clock.now() - timedelta(minutes=5)
        timeline.record_samples(
            1,
            [
                Sample("error_rate", 7.5, start + timedelta(seconds=15 * n), "prometheus", "")
                for n in range(20)
            ],
        )


def _edit(db: Path, sql: str) -> None:
    """Run SQL on the file as whoever holds it would: the append-only triggers dropped first."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.executescript(
            "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;"
            + sql
        )
    finally:
        conn.close()


def _rechain(db: Path, first: int) -> None:
    """Recompute the hashes from event `first` on, as someone who knows the encoding would:
    the chain holds again, so what is left is damage, not tampering."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        row = conn.execute("SELECT hash FROM events WHERE id = ?", (first - 1,)).fetchone()
        prev = row[0] if row else GENESIS_HASH
        rows = conn.execute(
            "SELECT id, incident, ts, kind, actor, summary, payload, command FROM events"
            " WHERE id >= ? ORDER BY id",
            (first,),
        ).fetchall()
        for values in rows:
            digest = chain_hash(prev, *values)
            conn.execute(
                "UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?", (prev, digest, values[0])
            )
            prev = digest
    finally:
        conn.close()


# The events table as whoever rebuilds it by hand would: no types, no NOT NULL.
_UNTYPED = """
CREATE TABLE loose (id, incident, ts, kind, actor, summary, payload, command, prev_hash, hash);
INSERT INTO loose SELECT * FROM events;
DROP TABLE events;
ALTER TABLE loose RENAME TO events;
CREATE INDEX events_incident_kind ON events (incident, kind);
"""


def blob_payload(event: int) -> Callable[[Path], None]:
    """The payload stored as a BLOB of the same bytes: its hash is unchanged."""
    return lambda db: _edit(
        db, f"UPDATE events SET payload = CAST(payload AS BLOB) WHERE id = {event};"
    )


def invalid_json(db: Path) -> None:
    _edit(db, """UPDATE events SET payload = '{"title": "Checkout' WHERE id = 1;""")
    _rechain(db, 1)


def null_payload(db: Path) -> None:
    _edit(db, _UNTYPED + "UPDATE events SET payload = NULL WHERE id = 1;")


def text_id(db: Path) -> None:
    _edit(db, _UNTYPED + "UPDATE events SET id = 'one' WHERE id = 1;")


def text_incident(db: Path) -> None:
    _edit(db, "UPDATE events SET incident = 'first' WHERE id = 1;")


def dropped_table(db: Path) -> None:
    _edit(db, "DROP TABLE events;")


def missing_column(db: Path) -> None:
    _edit(
        db,
        "CREATE TABLE narrow AS SELECT id, incident, ts, kind, actor, summary, payload,"
        " prev_hash, hash FROM events; DROP TABLE events; ALTER TABLE narrow RENAME TO events;",
    )


def truncated(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def zero_length(db: Path) -> None:
    db.write_bytes(b"")


def random_bytes(db: Path) -> None:
    db.write_bytes(random.Random(13).randbytes(16384))


def newer_schema(db: Path) -> None:
    _edit(db, f"PRAGMA user_version = {SCHEMA_VERSION + 1};")


def edited_summary(db: Path) -> None:
    _edit(db, "UPDATE events SET summary = 'nothing happened' WHERE id = 1;")


# --- the commands ---------------------------------------------------------------------------

COMMANDS: dict[str, list[str]] = {
    "timeline show": ["timeline", "show", "1"],
    "timeline verify": ["timeline", "verify"],
    "incident list": ["incident", "list"],
    "incident open": ["incident", "open", "--title", "Another one"],
    "incident close": ["incident", "close", "1"],
    "export": ["export", "1"],
    "export json": ["export", "1", "--format", "json"],
    "stats": ["stats"],
    "backtest": ["backtest", "--procedure", "pulse-messages", "--incident", "1"],
    "postmortem": ["postmortem", "1"],
    "cockpit": ["--procedure", "pulse-messages"],  # the bare start, up to the TUI
}
EVERY = frozenset(COMMANDS)
# Started on a readable incident these open the TUI: they run only where the read must fail.
TUI = frozenset({"postmortem", "cockpit"})
# What reads only the head and the highest incident: damage to an old event does not stop it
# recording (an incident must still be recordable).
WRITES_ONLY = frozenset({"incident open"})


@dataclass(frozen=True)
class Case:
    """One damaged file, what every command must say about it."""

    name: str
    damage: Callable[[Path], None]
    says: str  # in the one line, after the database's name
    failing: frozenset[str] = EVERY  # exit 2; the others exit 0
    exits: dict[str, int] = field(default_factory=dict)  # other codes, by command


CASES = [
    Case("zero-length file", zero_length, "damaged timeline: the file is empty (0 bytes)"),
    Case("random bytes", random_bytes, "damaged timeline: not a SQLite database"),
    Case("truncated file", truncated, "damaged timeline: database disk image is malformed"),
    Case("dropped events table", dropped_table, "damaged timeline: no such table: events"),
    Case("missing column", missing_column, "damaged timeline: no such column: command"),
    Case("newer schema", newer_schema, f"timeline schema version {SCHEMA_VERSION + 1} is newer"),
    Case(
        "blob payload of the opening",
        blob_payload(1),
        "damaged timeline: event 1: payload is a blob, not JSON text",
        EVERY - WRITES_ONLY,
    ),
    Case(
        "blob payload of a trigger",
        blob_payload(3),
        "damaged timeline: event 3: payload is a blob, not JSON text",
        frozenset({"timeline show", "timeline verify", "export", "export json", "stats"}),
    ),
    Case(
        "invalid JSON payload",
        invalid_json,
        "damaged timeline: event 1: payload is not valid JSON: Unterminated string",
        EVERY - WRITES_ONLY,
    ),
    Case(
        "NULL payload",
        null_payload,
        "damaged timeline: event 1: payload is NULL, not JSON text",
        EVERY - WRITES_ONLY,
    ),
    Case(
        "text in the id column",
        text_id,
        "damaged timeline: event 'one': id is text, not an integer",
    ),
    Case(
        "edited summary (tampered)",
        edited_summary,
        "incident 1 not exported: the hash chain fails at event 1: hash mismatch",
        frozenset({"export", "export json"}),
        {"timeline verify": 1},
    ),
]


def _run(argv: list[str], db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "--db", str(db), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("seed") / "timeline.db"
    seed(db)
    return db


def _copy(healthy: Path, folder: Path, name: str) -> Path:
    copy = folder / f"{name}.db"
    shutil.copyfile(healthy, copy)
    return copy


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_command_on_a_damaged_or_tampered_file(
    case: Case, healthy: Path, tmp_path: Path
) -> None:
    commands = {
        name: argv for name, argv in COMMANDS.items() if name in case.failing or name not in TUI
    }
    files = {}
    for name in commands:  # each its own copy: some write
        files[name] = _copy(healthy, tmp_path, name.replace(" ", "-"))
        case.damage(files[name])
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = dict(
            zip(
                commands,
                pool.map(lambda name: _run(commands[name], files[name]), commands),
                strict=True,
            )
        )
    for name, result in done.items():
        expected = case.exits.get(name, 2 if name in case.failing else 0)
        where = f"{case.name}: cockpit {name}: exit {result.returncode}\n{result.stderr}"
        assert result.returncode == expected, where
        assert "Traceback" not in result.stderr, where
        if expected != 2:
            continue
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, where
        assert lines[0].startswith(f"cockpit: {files[name]}: "), where
        assert case.says in lines[0], where
    if "timeline verify" in case.exits:
        assert done["timeline verify"].stderr.startswith("TAMPERED: event 1: hash mismatch")


def test_a_tampered_timeline_is_exported_only_when_asked_and_marked(
    healthy: Path, tmp_path: Path
) -> None:
    db = _copy(healthy, tmp_path, "tampered")
    edited_summary(db)
    refused = _run(["export", "1", "--out", str(tmp_path / "pm.md")], db)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"cockpit: {db}: incident 1 not exported: the hash chain fails at event 1: hash "
        "mismatch: the row was altered (`cockpit timeline verify` says more; --unverified "
        "exports it anyway, marked as unverified)"
    )
    assert not (tmp_path / "pm.md").exists()

    flagged = _run(["export", "1", "--unverified"], db)
    assert flagged.returncode == 0, flagged.stderr
    lines = flagged.stdout.splitlines()
    assert lines[0] == (
        "> **WARNING: this timeline does not verify: the hash chain fails at event 1: hash "
        "mismatch: the row was altered. This report may not match what happened.**"
    )
    assert lines[2].startswith("# Incident Report: ")
    assert lines[-2] == (
        "Timeline NOT verified: the hash chain fails at event 1: hash mismatch: the row was "
        "altered."
    )
    assert "Timeline chain head" not in flagged.stdout
    assert "warning: exported unverified: the hash chain fails at event 1" in flagged.stderr

    as_json = _run(["export", "1", "--unverified", "--format", "json"], db)
    assert as_json.returncode == 0, as_json.stderr
    chain = json.loads(as_json.stdout)["chain"]
    assert chain["verified"] is False
    assert chain["failure"].startswith("the hash chain fails at event 1: hash mismatch")


def test_an_export_refuses_damage_elsewhere_in_the_timeline(healthy: Path, tmp_path: Path) -> None:
    """A note's payload is no part of the report, but the timeline does not verify."""
    db = _copy(healthy, tmp_path, "note")
    _edit(db, "UPDATE events SET payload = '[1, 2]' WHERE id = 5;")
    _rechain(db, 5)
    refused = _run(["export", "1"], db)
    assert refused.returncode == 2
    assert "not exported: the timeline is damaged at event 5: payload is JSON list" in (
        refused.stderr
    )
    flagged = _run(["export", "1", "--unverified"], db)
    assert flagged.returncode == 0, flagged.stderr
    assert flagged.stdout.startswith(
        "> **WARNING: this timeline does not verify: the timeline is damaged at event 5: "
        "payload is JSON list, not an object."
    )


# --- in the process: what each reader says --------------------------------------------------


def test_a_blob_payload_with_the_same_bytes_does_not_verify(healthy: Path, tmp_path: Path) -> None:
    db = _copy(healthy, tmp_path, "blob")
    blob_payload(3)(db)
    with Timeline(db, create=False) as timeline:
        with pytest.raises(TimelineDamaged) as damaged:
            timeline.verify()
        assert str(damaged.value) == (
            f"{db}: damaged timeline: event 3: payload is a blob, not JSON text"
        )
        assert (damaged.value.where, damaged.value.problem) == (
            "event 3",
            "payload is a blob, not JSON text",
        )
        with pytest.raises(TimelineDamaged, match="event 3: payload is a blob"):
            timeline.events(1)
        assert timeline.incident(1).title == "Checkout errors after deploy"  # its events read
        assert len(timeline.rows(1)) == 10  # no payloads there


def test_at_one_event_a_broken_chain_is_reported_before_the_damage(
    healthy: Path, tmp_path: Path
) -> None:
    """An edit that leaves invalid JSON also breaks the hash: tampered, exit 1."""
    db = _copy(healthy, tmp_path, "edited")
    _edit(db, "UPDATE events SET payload = '{oops' WHERE id = 4;")
    with Timeline(db, create=False) as timeline:
        with pytest.raises(ChainBroken) as broken:
            timeline.verify()
        assert broken.value.event_id == 4
        with pytest.raises(TimelineDamaged, match="event 4: payload is not valid JSON"):
            timeline.events(1)


def test_the_first_bad_event_decides(healthy: Path, tmp_path: Path) -> None:
    db = _copy(healthy, tmp_path, "both")
    _edit(db, "UPDATE events SET summary = 'edited' WHERE id = 6;")
    blob_payload(4)(db)
    with Timeline(db, create=False) as timeline, pytest.raises(TimelineDamaged, match="event 4"):
        timeline.verify()
    _edit(db, "UPDATE events SET payload = CAST(payload AS TEXT) WHERE id = 4;")
    with Timeline(db, create=False) as timeline, pytest.raises(ChainBroken, match="event 6"):
        timeline.verify()


def test_damaged_samples_and_times_are_named(healthy: Path, tmp_path: Path) -> None:
    db = _copy(healthy, tmp_path, "samples")
    _edit(db, "UPDATE samples SET value = 'high' WHERE id = 7;")
    with (
        Timeline(db, create=False) as timeline,
        pytest.raises(TimelineDamaged, match=r"sample 7: value is text, not an integer"),
    ):
        timeline.samples(1)
    _edit(
        db, "UPDATE samples SET value = 1.0 WHERE id = 7; UPDATE samples SET at = 'x' WHERE id = 2;"
    )
    with (
        Timeline(db, create=False) as timeline,
        pytest.raises(TimelineDamaged, match=r"sample 2: at is not a UTC time"),
    ):
        timeline.samples(1)
    _edit(db, "UPDATE events SET ts = '2026-02-30T03:12:00.000Z' WHERE id = 6;")
    with Timeline(db, create=False) as timeline:
        with pytest.raises(TimelineDamaged, match=r"event 6: ts is not a valid time"):
            timeline.events(1)
        assert timeline.rows(1)[5][1] == "2026-02-30T03:12:00.000Z"  # only shown: not parsed


def test_an_unreadable_intent_is_named_when_an_action_finishes(
    healthy: Path, tmp_path: Path
) -> None:
    db = _copy(healthy, tmp_path, "intent")
    with Timeline(db) as timeline:
        intent = timeline.begin_action(1, "flags.on", "Turn it back on", command="y")
    _edit(db, f"UPDATE events SET payload = '{{' || payload WHERE id = {intent.id};")
    with Timeline(db) as timeline:
        with pytest.raises(TimelineDamaged, match=f"event {intent.id}: payload is not valid"):
            timeline.unresolved_actions(1)
        with pytest.raises(TimelineDamaged, match=f"event {intent.id}: payload is not valid"):
            timeline.finish_action(1, intent.payload["action_id"], "succeeded", "on")


def test_text_in_the_incident_column_is_named(healthy: Path, tmp_path: Path) -> None:
    """Event 1 then belongs to no incident 1: what lists incidents or opens one names it."""
    db = _copy(healthy, tmp_path, "incident")
    text_incident(db)
    with Timeline(db, create=False) as timeline:
        for read in (timeline.incidents, timeline.verify):
            with pytest.raises(TimelineDamaged, match="event 1: incident is text, not an integer"):
                read()
        with pytest.raises(TimelineDamaged, match="event 1: incident is text"):
            timeline.open_incident("next", "P2", None)


def test_text_that_is_not_utf8_is_named(healthy: Path, tmp_path: Path) -> None:
    """SQLite stores whatever bytes it is given as text; reading them back fails in sqlite3."""
    db = _copy(healthy, tmp_path, "utf8")
    _edit(db, "UPDATE events SET summary = CAST(X'41FF42' AS TEXT) WHERE id = 4;")
    with Timeline(db, create=False) as timeline:
        for read in (lambda: timeline.events(1), lambda: timeline.rows(1)):
            with pytest.raises(TimelineDamaged) as damaged:
                read()
            assert str(damaged.value) == (
                f"{db}: damaged timeline: event 4: summary is not valid UTF-8 text"
            )
