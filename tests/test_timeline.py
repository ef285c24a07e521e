"""The timeline as the system of record: chain, tamper evidence, append-only, privacy, crashes.

The behaviours marked `@both` run against SQLite and PostgreSQL (`PgTimeline`) through the one
`tl` fixture. SQLite-only here, with the reason: tampering through the sqlite3 shell, the
truncation hint, file modes, pragmas, one connection per thread, sqlite-utils, schema versions
and foreign or missing files (the file's own business; PostgreSQL's tampering, server rules,
versions and roles are tests/test_pg_event_log.py's); the one-query and kind-index checks (they
trace SQLite's statements); reopening (reads PRAGMA user_version).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.core import actor as actor_module
from cockpit.core.actor import current_actor, ssh_client
from cockpit.core.clock import FixedClock
from cockpit.core.errors import ChainBroken, IncidentError, TimelineError
from cockpit.core.redact import REDACTED, redact, scrub
from cockpit.core.timeline import GENESIS_HASH, SCHEMA_VERSION, Timeline, chain_hash

ROOT = Path(__file__).resolve().parent.parent
SQLITE3 = "/usr/bin/sqlite3"
ACTOR = "alice via ssh 203.0.113.7"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "timeline.db"


@pytest.fixture
def fixed() -> FixedClock:
    return FixedClock()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
both = pytest.mark.parametrize("tl", BACKENDS, indirect=True)
"""A test that holds on either backend: run against SQLite and against PostgreSQL (the
`PgTimeline`, on the test process's throwaway cluster: see tests/postgres_server.py)."""


@pytest.fixture
def tl(request: pytest.FixtureRequest, db: Path, fixed: FixedClock) -> Iterator[Any]:
    """The timeline under test: SQLite, unless a test is parametrised over `BACKENDS`."""
    if getattr(request, "param", "sqlite") == "sqlite":
        with Timeline(db, clock=fixed, actor=ACTOR) as opened:
            yield opened
        return
    yield from pg_timeline(fixed, ACTOR)


def pg_timeline(clock: FixedClock, actor: str) -> Iterator[Any]:
    """A `PgTimeline` on a fresh database of its own (dropped afterwards); skipped, with the
    reason, where the PostgreSQL server binaries are missing."""
    import postgres_server

    from cockpit.core.pg_timeline import PgTimeline

    server = postgres_server.shared()
    with (
        postgres_server.fresh_database(server, "tl_both_") as url,
        PgTimeline(
            url, password=server.password, clock=clock, actor=actor, retry_pause=0.0
        ) as opened,
    ):
        yield opened


def _sqlite_shell(db: Path, sql: str) -> None:
    """Tamper the way an attacker would: the real sqlite3 shell, no cockpit code involved."""
    if not Path(SQLITE3).exists():
        pytest.skip("the sqlite3 shell is not installed")
    subprocess.run([SQLITE3, str(db), sql], check=True, timeout=30, capture_output=True)


def _child(
    code: str, *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env or {**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _opened_by(tl: Any) -> tuple[str, dict[str, str]]:
    """What another process opens the same timeline with (`open_timeline`): its file or its
    URL, and an environment (the PostgreSQL password as PGPASSWORD, never in the URL)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if isinstance(tl, Timeline):
        return str(tl.path), env
    return tl._dsn, {**env, "PGPASSWORD": tl._session.target.password}


def _first_payload(tl: Any) -> str:
    """The first event's payload column as the backend stores it."""
    if isinstance(tl, Timeline):
        return str(sqlite3.connect(tl.path).execute("SELECT payload FROM events").fetchone()[0])
    import postgres_server

    dbname = tl._session.target.params["dbname"]
    return str(postgres_server.shared().scalar("SELECT payload FROM cockpit.events", dbname))


def _stored_bytes(tl: Any, db: Path) -> bytes:
    """Everything the backend holds, as bytes: the SQLite file and its WAL, or every column of
    every PostgreSQL event row as the server returns it."""
    if isinstance(tl, Timeline):
        files = [db, Path(f"{db}-wal")]
        return b"".join(path.read_bytes() for path in files if path.exists())
    import postgres_server

    rows = postgres_server.shared().query(
        "SELECT e::text FROM cockpit.events AS e", tl._session.target.params["dbname"]
    )
    return "\n".join(row[0] for row in rows).encode()


def _populate(tl: Timeline, fixed: FixedClock, count: int = 5) -> int:
    incident = tl.open_incident("checkout 5xx", "P1", "feature-flag").id
    for index in range(count):
        fixed.advance(1.5)
        tl.record(incident, "note", f"note {index}", {"index": index})
    return incident


# --- the chain ------------------------------------------------------------------------------


@both
def test_chain_verifies_and_reports_the_head(tl: Timeline, fixed: FixedClock) -> None:
    incident = _populate(tl, fixed)
    events = tl.events()
    report = tl.verify()
    assert report.count == len(events) == 6
    assert report.head_hash == events[-1].hash == tl.head()[1]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert [event.id for event in events] == list(range(1, 7))
    assert events[1].ts == "2026-01-15T03:12:01.500Z"
    assert events[1].incident == incident
    assert events[1].actor == ACTOR


@both
def test_empty_timeline_verifies(tl: Timeline) -> None:
    report = tl.verify()
    assert (report.count, report.head_hash) == (0, GENESIS_HASH)


@both
def test_hash_encoding_is_the_documented_one(tl: Timeline) -> None:
    """sha256(prev ‖ id "," incident "," then length-prefixed UTF-8 fields, "-" for NULL)."""
    event = tl.record(None, "session.started", "café ☕", {"b": 1, "a": "é"})
    payload = '{"a":"é","b":1}'
    raw = (
        GENESIS_HASH
        + "1,-,"
        + "24:2026-01-15T03:12:00.000Z"
        + "15:session.started"
        + f"{len(ACTOR)}:{ACTOR}"
        + f"{len('café ☕'.encode())}:café ☕"
        + f"{len(payload.encode())}:{payload}"
        + "-"
    )
    assert event.hash == hashlib.sha256(raw.encode()).hexdigest()
    assert event.hash == chain_hash(
        GENESIS_HASH, 1, None, event.ts, event.kind, ACTOR, event.summary, payload, None
    )
    assert _first_payload(tl) == payload  # canonical JSON: sorted, compact, not ASCII-escaped


def test_updates_and_deletes_are_refused_by_the_database(tl: Timeline, fixed: FixedClock) -> None:
    _populate(tl, fixed)
    raw = sqlite3.connect(tl.path, isolation_level=None)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE events SET summary = 'nothing happened' WHERE id = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM events WHERE id = 2")
    raw.close()
    assert tl.verify().count == 6


def test_altered_row_is_named(db: Path, tl: Timeline, fixed: FixedClock) -> None:
    _populate(tl, fixed)
    tl.close()
    _sqlite_shell(
        db,
        "DROP TRIGGER events_no_update; UPDATE events SET summary = 'all fine' WHERE id = 3;",
    )
    with Timeline(db) as reopened, pytest.raises(ChainBroken) as broken:
        reopened.verify()
    assert broken.value.event_id == 3
    assert "hash mismatch" in broken.value.reason


def test_deleted_middle_row_is_named(db: Path, tl: Timeline, fixed: FixedClock) -> None:
    _populate(tl, fixed)
    tl.close()
    _sqlite_shell(db, "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = 4;")
    with Timeline(db) as reopened, pytest.raises(ChainBroken) as broken:
        reopened.verify()
    assert broken.value.event_id == 4
    assert "missing" in broken.value.reason


def test_relinked_prev_hash_is_named(db: Path, tl: Timeline, fixed: FixedClock) -> None:
    _populate(tl, fixed)
    tl.close()
    _sqlite_shell(
        db, f"DROP TRIGGER events_no_update; UPDATE events SET prev_hash = '{'1' * 64}' WHERE id=5;"
    )
    with Timeline(db) as reopened, pytest.raises(ChainBroken) as broken:
        reopened.verify()
    assert broken.value.event_id == 5
    assert "prev_hash" in broken.value.reason


def test_truncation_hint_and_its_limit(db: Path, tl: Timeline, fixed: FixedClock) -> None:
    """Cutting the newest rows: caught by the AUTOINCREMENT counter unless that is edited too."""
    _populate(tl, fixed)
    head_before = tl.verify().head_hash
    tl.close()
    _sqlite_shell(db, "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id >= 5;")
    with Timeline(db) as reopened, pytest.raises(ChainBroken) as broken:
        reopened.verify()
    assert broken.value.event_id == 5
    _sqlite_shell(db, "UPDATE sqlite_sequence SET seq = 4 WHERE name = 'events';")
    with Timeline(db) as reopened:
        report = reopened.verify()
    # The chain alone cannot tell: only comparing the head hash with a copy kept elsewhere can.
    assert report.count == 4
    assert report.head_hash != head_before


# --- files and permissions ------------------------------------------------------------------


def test_files_are_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    db = tmp_path / "new" / "nested" / "timeline.db"
    previous = os.umask(0)
    try:
        with Timeline(db, clock=FixedClock(), actor=ACTOR) as opened:
            opened.record(None, "session.started", "hello")
            modes = {
                suffix: stat.S_IMODE(os.stat(f"{db}{suffix}").st_mode)
                for suffix in ("", "-wal", "-shm")
            }
    finally:
        os.umask(previous)
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_pragmas_wal_and_full_sync(tl: Timeline) -> None:
    conn = tl._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_one_timeline_per_thread(tl: Timeline) -> None:
    import threading

    errors: list[BaseException] = []

    def use() -> None:
        try:
            tl.events()
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=use)
    worker.start()
    worker.join(timeout=10)
    assert errors and isinstance(errors[0], sqlite3.ProgrammingError)


# --- concurrency and crashes ----------------------------------------------------------------

WRITER = """
import sys
from cockpit.core.timeline_open import open_timeline
path, name, incident = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open_timeline(path, actor=name) as tl:
    for index in range(1000):
        tl.record(incident, "note", f"{name} {index}", {"writer": name, "index": index})
print("done")
"""


@both
def test_two_processes_appending_at_once_never_fork_the_chain(tl: Timeline) -> None:
    incident = tl.open_incident("load", "P2", None).id
    target, env = _opened_by(tl)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, target, name, str(incident)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("alpha", "beta")
    ]
    try:
        outputs = [writer.communicate(timeout=90) for writer in writers]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert out.strip() == "done"
    assert tl.verify().count == 2001
    notes = tl.events(incident, kinds=["note"])
    for name in ("alpha", "beta"):
        indexes = [event.payload["index"] for event in notes if event.actor == name]
        assert indexes == list(range(1000))
    # Interleaved, not one after the other: the lock really was contended.
    actors = [event.actor for event in notes]
    switches = sum(1 for a, b in itertools.pairwise(actors) if a != b)
    assert switches >= 1


@both
def test_crash_between_intent_and_result_leaves_outcome_unknown(tl: Timeline) -> None:
    incident = tl.open_incident("crash", "P1", None).id
    done = tl.begin_action(incident, "flags.rollback", "finished one", command="cockpit x")
    tl.finish_action(incident, done.payload["action_id"], "succeeded", "ok")
    target, env = _opened_by(tl)
    child = _child(
        """
        import os, sys
        from cockpit.core.timeline_open import open_timeline
        tl = open_timeline(sys.argv[1], actor="bob")
        tl.begin_action(int(sys.argv[2]), "vercel.promote", "Promote previous deployment",
                        {"deployment": "dpl_41"}, command="vercel promote dpl_41")
        os._exit(17)  # killed before the action could report
        """,
        target,
        str(incident),
        env=env,
    )
    assert child.returncode == 17, child.stderr
    unresolved = tl.unresolved_actions(incident)
    assert [event.payload["action"] for event in unresolved] == ["vercel.promote"]
    assert unresolved[0].command == "vercel promote dpl_41"
    assert unresolved[0].actor == "bob"
    tl.finish_action(incident, unresolved[0].payload["action_id"], "failed", "checked: not done")
    assert tl.unresolved_actions(incident) == []
    assert tl.verify().count == 5


# --- incidents ------------------------------------------------------------------------------


@both
def test_incident_projection(tl: Timeline, fixed: FixedClock) -> None:
    first = tl.open_incident("checkout 5xx", "P2", "feature-flag")
    drill = tl.open_incident("game day", "P3", None, drill=True)
    assert (first.id, drill.id) == (1, 2)
    assert first.status == "open" and first.opened_at == "2026-01-15T03:12:00.000Z"
    assert drill.drill and not first.drill
    fixed.advance(60)
    acked = tl.acknowledge(first.id)
    assert acked.acknowledged_at == "2026-01-15T03:13:00.000Z"
    fixed.advance(60)
    assert tl.acknowledge(first.id).acknowledged_at == acked.acknowledged_at  # first one counts
    raised = tl.set_severity(first.id, "P1")
    assert raised.severity == "P1"
    before = len(tl.events())
    assert tl.set_severity(first.id, "P1").severity == "P1"
    assert len(tl.events()) == before  # unchanged severity records nothing
    assert tl.latest_open() == tl.incident(drill.id)
    fixed.advance(60)
    closed = tl.close_incident(first.id, "rolled back flag")
    assert closed.status == "closed"
    assert closed.closed_at == "2026-01-15T03:15:00.000Z"
    assert closed.resolution == "rolled back flag"
    assert tl.incident(first.id) == closed
    assert [item.id for item in tl.incidents()] == [2, 1]
    assert [item.id for item in tl.incidents(include_closed=False)] == [2]
    with pytest.raises(IncidentError, match="already closed"):
        tl.close_incident(first.id, "again")
    with pytest.raises(IncidentError, match="closed"):
        tl.set_severity(first.id, "P0")
    tl.close_incident(drill.id)
    assert tl.latest_open() is None
    kinds = [event.kind for event in tl.events(first.id)]
    assert kinds == [
        "incident.opened",
        "incident.acknowledged",
        "incident.acknowledged",
        "incident.severity_changed",
        "incident.closed",
    ]


@both
def test_unknown_incident_errors_name_the_id(tl: Timeline) -> None:
    with pytest.raises(IncidentError, match="42"):
        tl.incident(42)
    with pytest.raises(IncidentError, match="42"):
        tl.record(42, "note", "into the void")
    with pytest.raises(IncidentError, match="42"):
        tl.close_incident(42, "x")
    with pytest.raises(IncidentError, match="42"):
        tl.begin_action(42, "x", "y", command=None)
    assert tl.events() == []


@both
def test_reserved_kinds_only_through_their_methods(tl: Timeline) -> None:
    incident = tl.open_incident("t", "P1", None).id
    for kind in ("incident.closed", "action.result", "", " note"):
        with pytest.raises(ValueError):
            tl.record(incident, kind, "sneaky")


def test_incidents_is_one_query_for_a_thousand(tl: Timeline) -> None:
    tl._conn.execute("PRAGMA synchronous = OFF")  # setup speed only; the query is what's measured
    for index in range(1000):
        opened = tl.open_incident(f"incident {index}", "P2", "pulse-messages")
        if index % 2:
            tl.acknowledge(opened.id)
        if index % 3 == 0:
            tl.close_incident(opened.id, "done")
    statements: list[str] = []
    tl._conn.set_trace_callback(statements.append)
    everything = tl.incidents()
    tl._conn.set_trace_callback(None)
    assert len(statements) == 1
    assert len(everything) == 1000
    assert everything[0].id == 1000
    assert sum(item.status == "closed" for item in everything) == 334
    assert len(tl.incidents(include_closed=False)) == 666


# --- actions --------------------------------------------------------------------------------


@both
def test_actions_pair_intent_and_result(tl: Timeline) -> None:
    incident = tl.open_incident("t", "P1", None).id
    intent = tl.begin_action(
        incident, "k8s.rollout_undo", "Undo web rollout", {"target": "web"}, command="kubectl x"
    )
    assert intent.kind == "action.intent"
    assert intent.command == "kubectl x"
    action_id = intent.payload["action_id"]
    assert intent.payload["action"] == "k8s.rollout_undo" and len(action_id) >= 16
    other = tl.begin_action(incident, "flags.off", "Flag off", command=None)
    assert other.payload["action_id"] != action_id
    assert [e.id for e in tl.unresolved_actions(incident)] == [intent.id, other.id]
    result = tl.finish_action(incident, action_id, "succeeded", "web back on v41", {"took_s": 3})
    assert result.kind == "action.result"
    assert result.payload == {
        "action": "k8s.rollout_undo",
        "action_id": action_id,
        "outcome": "succeeded",
        "took_s": 3,
    }
    assert [e.id for e in tl.unresolved_actions(incident)] == [other.id]
    with pytest.raises(IncidentError, match="already has a result"):
        tl.finish_action(incident, action_id, "failed", "twice")
    with pytest.raises(IncidentError, match="no action"):
        tl.finish_action(incident, "nope", "failed", "never begun")
    with pytest.raises(ValueError, match="outcome"):
        tl.finish_action(incident, other.payload["action_id"], "maybe", "?")  # type: ignore[arg-type]


@both
def test_events_filters_and_tail(tl: Timeline) -> None:
    first = tl.open_incident("a", "P1", None).id
    second = tl.open_incident("b", "P1", None).id
    for index in range(4):
        tl.record(first, "note", f"a{index}")
        tl.record(second, "trigger.fired", f"b{index}")
    tl.record(None, "session.started", "attached")
    assert [e.summary for e in tl.events(first, kinds=["note"])] == ["a0", "a1", "a2", "a3"]
    assert len(tl.events(second)) == 5
    tail = tl.events(after_id=8)
    assert [e.id for e in tail] == [9, 10, 11]
    assert [e.id for e in tl.events(limit=2)] == [1, 2]
    assert tl.events(kinds=[]) == []
    assert tl.events(kinds=["session.started"])[0].incident is None


@both
def test_odd_payloads_are_stored_not_refused(tl: Timeline) -> None:
    from datetime import UTC, datetime

    odd: dict[Any, Any] = {
        "nan": float("nan"),
        "when": datetime(2026, 1, 1, tzinfo=UTC),
        "path": Path("/x"),
        3: {1},
    }
    event = tl.record(None, "note", "nul\x00byte", odd)
    assert event.summary == "nul\ufffdbyte"
    assert event.payload == {
        "nan": "nan",
        "when": "2026-01-01T00:00:00.000Z",
        "path": "/x",
        "3": [1],
    }
    assert tl.verify().count == 1


# --- secrets --------------------------------------------------------------------------------


@both
def test_secrets_never_reach_the_file(db: Path, tl: Timeline) -> None:
    secrets = {
        "payload_key": "s3cr3t-payload-value-0001",
        "nested": "s3cr3t-nested-pass-0002",
        "bearer": "s3cr3tBearerToken0003",
        "url": "s3cr3t-url-pass-0004",
        "flag": "s3cr3t-flag-token-0005",
        "header": "s3cr3t-header-0006",
        "env": "s3cr3t-env-0007",
    }
    incident = tl.open_incident(f"leak via title Bearer {secrets['bearer']}", "P1", None).id
    tl.record(
        incident,
        "note",
        f"called https://ops:{secrets['url']}@flags.internal/api with Bearer {secrets['bearer']}",
        {
            "api_token": secrets["payload_key"],
            "targets": [{"name": "db", "Password": secrets["nested"]}],
            "dsn": f"postgres://app:{secrets['url']}@db/app",
        },
        command=f"deploy --token={secrets['flag']} --password {secrets['flag']}",
    )
    tl.begin_action(
        incident,
        "http.call",
        "call the flag API",
        {"headers": {"Authorization": f"Bearer {secrets['header']}"}},
        command=(
            f"curl -H 'Authorization: Bearer {secrets['header']}' "
            f"-H 'X-Api-Key: {secrets['header']}' https://flags.internal && "
            f"VERCEL_TOKEN={secrets['env']} vercel rollback"
        ),
    )
    stored = tl.events()
    assert any(REDACTED in (event.command or "") for event in stored)
    assert tl.verify().count == 3
    raw = _stored_bytes(tl, db)
    assert raw  # the events are somewhere in these bytes
    assert b"call the flag API" in raw
    for secret in secrets.values():
        assert secret.encode() not in raw, secret
    tl.close()
    raw = _stored_bytes(tl, db)
    for secret in secrets.values():
        assert secret.encode() not in raw, secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-123", "Authorization: [redacted]"),
        ("token is Bearer abcdef123456", "token is Bearer [redacted]"),
        (
            "https://deploy:hunter22@git.example/x.git",
            "https://deploy:[redacted]@git.example/x.git",
        ),
        ("cli --api-key=k123 --verbose", "cli --api-key=[redacted] --verbose"),
        ("cli --token k123 --verbose", "cli --token [redacted] --verbose"),
        ('curl -H "X-Api-Key: k123" https://x', 'curl -H "X-Api-Key: [redacted]" https://x'),
        ("GITHUB_TOKEN=ghx123 gh api", "GITHUB_TOKEN=[redacted] gh api"),
        ("push ghp_abcdefghijklmnopqrstuvwxyz0123", "push [redacted]"),
        ("kubectl rollout undo deploy/web -n prod", "kubectl rollout undo deploy/web -n prod"),
        # a shell variable names where the secret is; CLI-equivalent lines keep it
        (
            "curl -H 'Authorization: Bearer $ADMIN_TOKEN' https://x",
            "curl -H 'Authorization: Bearer $ADMIN_TOKEN' https://x",
        ),
        ("Authorization: Bearer $TOKEN leaked-too", "Authorization: [redacted]"),
        (
            "Run basic checks; reset-password flow is fine",
            "Run basic checks; reset-password flow is fine",
        ),
    ],
)
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_redact_walks_structures_without_mutating() -> None:
    class FakeSecret:
        def get_secret_value(self) -> str:
            return "hidden"

    original = {
        "client_secret": "x",
        "Set-Cookie": "y",
        "webhook_url": "https://hooks.example/T0/B0/abc",
        "has_token": True,
        "token": None,
        "items": ("a", {"privateKey": "k"}),
        "opaque": FakeSecret(),
        "count": 3,
    }
    cleaned = redact(original)
    assert cleaned == {
        "client_secret": REDACTED,
        "Set-Cookie": REDACTED,
        "webhook_url": REDACTED,
        "has_token": True,
        "token": None,
        "items": ["a", {"privateKey": REDACTED}],
        "opaque": REDACTED,
        "count": 3,
    }
    assert original["client_secret"] == "x"


# --- actor ----------------------------------------------------------------------------------


def test_actor_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "alice")
    assert current_actor({}) == "alice"
    ssh = {"SSH_CONNECTION": "203.0.113.7 51234 10.0.0.5 22"}
    assert current_actor(ssh) == "alice via ssh 203.0.113.7"
    assert current_actor({"SSH_CLIENT": "2001:db8::1 5000 22"}) == "alice via ssh 2001:db8::1"
    assert ssh_client({"SSH_CONNECTION": "not-an-ip; rm -rf / 1 2"}) is None

    def broken() -> str:
        raise OSError("no user")

    monkeypatch.setattr("getpass.getuser", broken)
    assert current_actor({}) == f"uid {os.getuid()}"
    assert actor_module.current_actor(ssh).endswith("via ssh 203.0.113.7")


def test_default_actor_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "carol")
    monkeypatch.setenv("SSH_CONNECTION", "198.51.100.9 40000 10.0.0.1 22")
    with Timeline(tmp_path / "t.db", clock=FixedClock()) as opened:
        assert opened.record(None, "note", "hi").actor == "carol via ssh 198.51.100.9"


# --- opening and migrations -----------------------------------------------------------------


def test_reopening_keeps_schema_and_chain(db: Path, tl: Timeline, fixed: FixedClock) -> None:
    _populate(tl, fixed)
    tl.close()
    with Timeline(db, clock=fixed) as again:
        assert again._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        again.record(1, "note", "after reopen")
        assert again.verify().count == 7


def test_schema_is_built_with_sqlite_utils(tl: Timeline) -> None:
    from sqlite_utils import Database

    schema = Database(tl._conn)
    assert set(schema.table_names()) == {"events", "sqlite_sequence", "samples"}
    assert set(schema.table("events").columns_dict) == {
        "id",
        "incident",
        "ts",
        "kind",
        "actor",
        "summary",
        "payload",
        "command",
        "prev_hash",
        "hash",
    }
    assert {t.name for t in schema.table("events").triggers} == {
        "events_no_update",
        "events_no_delete",
    }
    assert {tuple(i.columns) for i in schema.table("events").indexes} >= {
        ("incident", "kind"),
        ("kind",),
    }
    assert "AUTOINCREMENT" in schema.table("events").schema


def test_newer_schema_is_refused(db: Path, tl: Timeline) -> None:
    tl.close()
    raw = sqlite3.connect(db)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(TimelineError, match="newer than this cockpit") as error:
        Timeline(db)
    assert str(db) in str(error.value)


def test_not_a_sqlite_file(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a database, just a long enough text file " * 20)
    with pytest.raises(TimelineError) as error:
        Timeline(bogus)
    assert str(bogus) in str(error.value)
    assert bogus.read_text().startswith("this is not a database")


def test_foreign_sqlite_database_is_not_adopted(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE customers (id INTEGER)")
    raw.commit()
    raw.close()
    with pytest.raises(TimelineError, match="not a cockpit timeline"):
        Timeline(other)


def test_missing_file_when_not_creating(tmp_path: Path) -> None:
    with pytest.raises(TimelineError, match="no timeline database"):
        Timeline(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()


def test_default_path_is_in_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCKPIT_DATA_DIR", str(tmp_path / "xdg" / "cockpit"))
    with Timeline() as opened:
        assert opened.path == tmp_path / "xdg" / "cockpit" / "timeline.db"
    assert stat.S_IMODE((tmp_path / "xdg" / "cockpit").stat().st_mode) == 0o700


@both
def test_append_bulk_is_one_transaction(tl: Timeline) -> None:
    incident = tl.open_incident("bulk", "P1", None).id
    assert tl.append_bulk((incident, "note", f"n{i}", {"i": i}) for i in range(50)) == 50
    with pytest.raises(IncidentError):
        tl.append_bulk([(incident, "note", "ok", None), (99, "note", "bad", None)])
    assert len(tl.events()) == 51
    assert tl.verify().count == 51


def test_an_incidents_state_and_a_few_kinds_are_read_through_the_kind_index(
    timeline: Timeline,
) -> None:
    """With the (incident, id) index SQLite may walk every event of the incident for its
    order; a 100,000-event incident then takes 70 ms to say whether it is open."""
    incident = timeline.open_incident("big", "P1", "pulse-messages").id
    statements: list[str] = []
    timeline._conn.set_trace_callback(statements.append)
    timeline.incident(incident)
    timeline.events(incident, kinds=["action.intent", "action.result"])
    timeline._conn.set_trace_callback(None)
    selects = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2
    for sql in selects:
        plan = timeline._conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        assert "events_incident_kind" in str(plan), (sql, plan)
