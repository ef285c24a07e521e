"""The PostgreSQL event log against a real PostgreSQL 15 (tests/postgres_server.py).

Each test gets its own database on the test process's throwaway cluster, owned by the `cockpit`
role, which connects over TCP with its password, as a deployment's owner would. Tampering is
done as the superuser over the unix socket, with the triggers disabled, as an attacker with the
keys would. Skipped, with the reason, where the PostgreSQL server binaries are missing.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import postgres_server
import psycopg
import pytest
from postgres_server import unique
from psycopg import errors, sql

from cockpit.core.chain import GENESIS_HASH
from cockpit.core.clock import FixedClock
from cockpit.core.errors import (
    ChainBroken,
    IncidentError,
    SchemaTooNew,
    TimelineBusy,
    TimelineDamaged,
    TimelineError,
    TimelineUnavailable,
)
from cockpit.core.pg_connect import Timeouts
from cockpit.core.pg_event_log import PgEventLog
from cockpit.core.pg_schema import APPEND_LOCK, APPEND_ONLY, SCHEMA_VERSION, responder_role_sql
from cockpit.core.timeline import Timeline
from cockpit.demo.pg_cluster import PostgresServer, free_port

postgres = postgres_server.postgres
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
ACTOR = "alice via ssh 203.0.113.7"
START = datetime(2026, 1, 15, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(postgres: PostgresServer) -> Iterator[str]:
    """A fresh, empty database owned by the `cockpit` role, dropped afterwards."""
    name = unique("tl_")
    postgres.create_database(name)
    yield name
    postgres.drop_database(name)


def open_log(
    server: PostgresServer,
    dbname: str,
    *,
    user: str = "cockpit",
    password: str | None = None,
    **options: Any,
) -> PgEventLog:
    """A log over TCP, the password kept out of the URL."""
    options.setdefault("clock", FixedClock(START))
    options.setdefault("actor", ACTOR)
    options.setdefault("retry_pause", 0.0)
    dsn = f"postgresql://{user}@127.0.0.1:{server.port}/{dbname}"
    return PgEventLog(dsn, password=password or server.password, **options)


def opened(log: PgEventLog, title: str = "checkout 5xx") -> int:
    """Open incident 1 the way the Timeline will: its incident.opened event."""
    payload = {"title": title, "severity": "P1", "procedure": "feature-flag", "drill": False}
    return log.append(1, "incident.opened", f"Incident opened: {title}", payload).incident or 0


def admin_execute(server: PostgresServer, dbname: str, *statements: Any) -> None:
    with server.admin(dbname) as conn:
        for statement in statements:
            conn.execute(statement)


# --- append and read back -------------------------------------------------------------------


def test_append_and_read_back(postgres: PostgresServer, db: str) -> None:
    with open_log(postgres, db) as log:
        assert log.head() == (0, GENESIS_HASH)
        assert log.verify().count == 0
        incident = opened(log)
        note = log.record(incident, "note", "error rate 7.2%", {"rate": 7.2, "tags": ("a", "b")})
        step = log.record(
            incident, "comms.sent", "status page", {"b": [1, None]}, command="cockpit comms send"
        )
        outside = log.record(None, "session.started", "session started")
        assert [note.id, step.id, outside.id] == [2, 3, 4]
        assert note.payload == {"rate": 7.2, "tags": ["a", "b"]}
        assert note.ts == "2026-01-15T03:12:00.000Z" and note.actor == ACTOR
        assert note.prev_hash == log.events()[0].hash

        with log.sibling() as other:
            everything = other.events()
            assert [e.id for e in everything] == [1, 2, 3, 4]
            assert everything[1:] == [note, step, outside]
            assert [e.id for e in other.events(incident)] == [1, 2, 3]
            assert [e.id for e in other.events(incident, kinds=["note"])] == [2]
            assert other.events(incident, kinds=[]) == []
            assert [e.id for e in other.events(after_id=2, limit=1)] == [3]
            assert other.rows(incident, up_to=2) == [
                (1, note.ts, "incident.opened", ACTOR, "Incident opened: checkout 5xx", None),
                (2, note.ts, "note", ACTOR, "error rate 7.2%", None),
            ]
            assert other.head() == (4, outside.hash)
            report = other.verify()
            assert (report.count, report.head_hash) == (4, outside.hash)
            assert other.verify(up_to=2).head_hash == note.hash


def test_record_keeps_the_sqlite_rules(postgres: PostgresServer, db: str) -> None:
    with open_log(postgres, db) as log:
        with pytest.raises(IncidentError, match="no incident 1"):
            log.record(1, "note", "before any incident")
        incident = opened(log)
        for kind in ("incident.closed", "action.intent", "procedure.recorded", "", " note"):
            with pytest.raises(ValueError):
                log.record(incident, kind, "refused")
        assert log.head()[0] == 1


def test_a_database_without_a_timeline_is_created_only_when_asked(
    postgres: PostgresServer, db: str
) -> None:
    with pytest.raises(TimelineError, match="no cockpit timeline in this database"):
        open_log(postgres, db, create=False)
    admin_execute(postgres, db, "CREATE SCHEMA cockpit", "CREATE TABLE cockpit.other (x int)")
    with pytest.raises(TimelineError, match="holds no timeline"):
        open_log(postgres, db)


def test_every_statement_and_lock_wait_is_bounded(postgres: PostgresServer, db: str) -> None:
    timeouts = Timeouts(connect=3, statement=2.5, lock=0.2)
    with open_log(postgres, db, timeouts=timeouts) as log:
        conn = log._session._conn  # the session's own settings, as the server sees them
        shown = conn.execute("SELECT current_setting('statement_timeout')").fetchone()
        assert shown is not None and shown[0] == "2500ms"
        opened(log)
        with postgres.admin(db) as holder:
            holder.execute("SELECT pg_advisory_lock(%s, %s)", APPEND_LOCK)
            with pytest.raises(TimelineBusy, match="lock_timeout"):
                log.record(1, "note", "waits for the append lock")
        assert log.record(1, "note", "the lock is free again").id == 2


def test_each_append_notifies_the_change_feed(postgres: PostgresServer, db: str) -> None:
    with open_log(postgres, db) as log, postgres.admin(db) as listener:
        listener.execute("LISTEN cockpit_events")
        opened(log)
        log.record(None, "session.started", "session started")
        got = [n.payload for n in listener.notifies(timeout=10, stop_after=2)]
    assert got == ["1 1", "2 -"]


# --- one encoding, both backends ------------------------------------------------------------


def test_identical_inputs_give_the_sqlite_timelines_hashes(
    postgres: PostgresServer, db: str, tmp_path: Path
) -> None:
    inputs: list[tuple[int | None, str, str, dict[str, Any], str | None]] = [
        (
            1,
            "note",
            "error rate 7.2% > 5% — rolling back",
            {"rate": 7.2, "nan": float("nan")},
            None,
        ),
        (None, "session.started", "session started", {}, None),
        (
            1,
            "trigger.fired",
            "p95 ↑ 🚦",
            {"when": START, "set": {3, 1}, "z": {"b": 1, "a": []}},
            None,
        ),
        (
            1,
            "comms.sent",
            "token=abcd1234abcd sent",
            {"api_key": "k-123456", "text": "naïve ünïcode"},
            "curl -H 'Authorization: Bearer abcdef123456' https://status.example",
        ),
        (1, "note", "NUL \x00 and lone \ud800", {"k\x00": "v\ud800", "big": 2**70}, None),
    ]
    with Timeline(tmp_path / "timeline.db", clock=FixedClock(START), actor=ACTOR) as tl:
        tl.open_incident("checkout 5xx", "P1", "feature-flag")
        for index, (incident, kind, summary, payload, command) in enumerate(inputs):
            at = START + timedelta(seconds=index, milliseconds=7)
            tl.record(incident, kind, summary, payload, command=command, at=at)
        expected = tl.events()
        expected_head = tl.verify().head_hash
    with open_log(postgres, db) as log:
        first = expected[0]  # the Timeline's own method wrote it: the same event, appended
        log.append(first.incident, first.kind, first.summary, first.payload, at=first.at)
        for index, (incident, kind, summary, payload, command) in enumerate(inputs):
            at = START + timedelta(seconds=index, milliseconds=7)
            log.record(incident, kind, summary, payload, command=command, at=at)
        assert log.events() == expected
        assert log.verify().head_hash == expected_head
        # The server's PL/pgSQL encoding accepted every one of them: it agrees with Python's.
        assert log.head() == (len(expected), expected_head)


# --- many writers ---------------------------------------------------------------------------

_CHILD = """
    import os, sys
    from cockpit.core.pg_event_log import PgEventLog
    name, count = sys.argv[1], int(sys.argv[2])
    log = PgEventLog(os.environ["TL_DSN"], password=os.environ["TL_PASSWORD"], actor=name,
                     create=False)
    print("ready", flush=True)
    sys.stdin.readline()
    for index in range(count):
        log.record(1, "note", f"{name} {index}", {"index": index})
    log.close()
    print("done", flush=True)
"""


def test_two_processes_appending_at_once_keep_one_chain(postgres: PostgresServer, db: str) -> None:
    count = 150
    with open_log(postgres, db) as log:
        opened(log)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TL_DSN": f"postgresql://cockpit@127.0.0.1:{postgres.port}/{db}",
            "TL_PASSWORD": postgres.password,
        }
        children = [
            subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(_CHILD), name, str(count)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env=env,
            )
            for name in ("host-a", "host-b")
        ]
        try:
            for child in children:  # both connected before either appends
                assert child.stdout is not None and child.stdout.readline() == "ready\n"
            for child in children:
                assert child.stdin is not None
                child.stdin.write("go\n")
                child.stdin.flush()
            for child in children:
                out, err = child.communicate(timeout=180)
                assert child.returncode == 0, err
                assert out == "done\n"
        finally:
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
        events = log.events()
        assert [e.id for e in events] == list(range(1, 2 * count + 2))
        for name in ("host-a", "host-b"):
            mine = [e.summary for e in events if e.actor == name]
            assert mine == [f"{name} {index}" for index in range(count)]
        assert log.verify().count == 2 * count + 1


# --- the server's rules ---------------------------------------------------------------------


def test_the_server_refuses_update_delete_and_truncate(postgres: PostgresServer, db: str) -> None:
    with open_log(postgres, db) as log:
        opened(log)
    # As the schema's owner: the privilege is there, the triggers refuse.
    with postgres.app(db) as owner:
        for statement in (
            "UPDATE cockpit.events SET summary = 'rewritten'",
            "DELETE FROM cockpit.events WHERE id = 1",
            "TRUNCATE cockpit.events",
            "UPDATE cockpit.schema_version SET version = 0",
            "DELETE FROM cockpit.schema_version",
        ):
            with pytest.raises(psycopg.Error, match="the timeline is append-only") as caught:
                owner.execute(statement)
            assert caught.value.sqlstate == APPEND_ONLY
    assert postgres.scalar("SELECT count(*) FROM cockpit.events", db) == 1


def test_the_server_refuses_an_event_that_does_not_extend_the_chain(
    postgres: PostgresServer, db: str
) -> None:
    with open_log(postgres, db) as log:
        first = log.append(None, "note", "first")
    insert = (
        "INSERT INTO cockpit.events (id, incident, ts, kind, actor, summary, payload, command,"
        " prev_hash, hash, idem_key) VALUES (%s, NULL, %s, 'note', 'mallory', 'forged', '{}',"
        " NULL, %s, %s, %s)"
    )
    with postgres.app(db) as owner:
        cases = [
            ((1, first.ts, GENESIS_HASH, "0" * 64, "k1"), "does not extend the chain"),  # a fork
            ((3, first.ts, first.hash, "0" * 64, "k2"), "does not extend the chain"),  # a gap
            ((2, first.ts, GENESIS_HASH, "0" * 64, "k3"), "does not extend the chain"),
            ((2, first.ts, first.hash, "f" * 64, "k4"), "not the hash of its columns"),
        ]
        for params, message in cases:
            with pytest.raises(psycopg.Error, match=message):
                owner.execute(insert, params)
    assert postgres.scalar("SELECT count(*) FROM cockpit.events", db) == 1


@pytest.fixture
def responder(postgres: PostgresServer, db: str) -> Iterator[tuple[str, str]]:
    """A login role in the responders' group role, made with `responder_role_sql`."""
    with open_log(postgres, db) as log:  # the owner creates the schema first
        opened(log)
    group, member, secret = unique("responders_"), unique("bob_"), "pw-bob-" + unique("x")
    admin_execute(postgres, db, *responder_role_sql(group))
    admin_execute(
        postgres,
        db,
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
            sql.Identifier(member), sql.Literal(secret), sql.Identifier(group)
        ),
    )
    yield member, secret
    postgres.drop_database(db)
    for role in (member, group):
        postgres.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_the_responder_role_may_insert_and_select_only(
    postgres: PostgresServer, db: str, responder: tuple[str, str]
) -> None:
    member, secret = responder
    with open_log(postgres, db, user=member, password=secret, create=False) as log:
        event = log.record(1, "note", "bob takes the rollback", actor="bob")
        assert event.id == 2 and log.verify().count == 2
    conninfo = f"host=127.0.0.1 port={postgres.port} dbname={db} user={member}"
    with psycopg.connect(conninfo, password=secret, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM cockpit.events").fetchone() == (2,)
        for statement in (
            "UPDATE cockpit.events SET summary = 'rewritten'",
            "DELETE FROM cockpit.events",
            "TRUNCATE cockpit.events",
            "UPDATE cockpit.chain_head SET id = 0",
            "INSERT INTO cockpit.schema_version (version) VALUES (99)",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
        with pytest.raises(errors.InsufficientPrivilege, match="must be owner"):
            conn.execute("ALTER TABLE cockpit.events DISABLE TRIGGER USER")
    assert postgres.scalar("SELECT count(*) FROM cockpit.events", db) == 2


def test_a_responder_cannot_create_the_timeline(
    postgres: PostgresServer, responder: tuple[str, str]
) -> None:
    member, secret = responder
    empty = unique("tl_empty_")
    postgres.create_database(empty)
    try:
        with pytest.raises(TimelineError, match="lacks the privilege"):
            open_log(postgres, empty, user=member, password=secret)
    finally:
        postgres.drop_database(empty)


# --- idempotency ----------------------------------------------------------------------------


def test_an_append_retried_with_its_key_is_committed_once(
    postgres: PostgresServer, db: str
) -> None:
    with open_log(postgres, db) as log:
        incident = opened(log)
        first = log.record(incident, "note", "paged the DBA", {"to": "dba"}, key="outbox-7")
    # Another process, after a failover, a minute later, retries what it could not confirm.
    later = FixedClock(START + timedelta(minutes=1))
    with open_log(postgres, db, clock=later, create=False) as log:
        again = log.record(incident, "note", "paged the DBA", {"to": "dba"}, key="outbox-7")
        assert again == first  # the stored event, its first time kept
        with pytest.raises(TimelineError, match="idempotency key 'outbox-7' is event 2's"):
            log.record(incident, "note", "paged someone else", {"to": "sre"}, key="outbox-7")
        assert [e.id for e in log.events()] == [1, 2]


def test_a_commit_whose_answer_is_lost_is_not_committed_twice(
    postgres: PostgresServer, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_log(postgres, db) as log:
        incident = opened(log)
        conn = log._session._conn
        real = conn.transaction
        lost: list[int] = []

        @contextlib.contextmanager
        def answer_lost(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with real(*args, **kwargs) as transaction:
                yield transaction
            # Committed on the server; the connection dies before the client hears it.
            lost.append(1)
            conn.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(conn, "transaction", answer_lost)
        event = log.record(incident, "flag.flipped", "flag flipped back", {"flag": "checkout"})
        assert lost == [1]
        assert log._session._conn is not conn  # reconnected
        assert [e.id for e in log.events()] == [1, 2]
        assert log.events()[1] == event
        assert log.verify().count == 2


def test_an_append_after_the_connection_was_cut_reconnects(
    postgres: PostgresServer, db: str
) -> None:
    with open_log(postgres, db) as log:
        incident = opened(log)
        pid = log._session._conn.info.backend_pid
        postgres.execute("SELECT pg_terminate_backend(%s)", params=(pid,))
        assert log.record(incident, "note", "after the cut").id == 2
        assert log._session._conn.info.backend_pid != pid
        pid = log._session._conn.info.backend_pid
        postgres.execute("SELECT pg_terminate_backend(%s)", params=(pid,))
        assert [e.id for e in log.events()] == [1, 2]  # reads reconnect too


# --- versions and connections ---------------------------------------------------------------


def test_a_newer_schema_is_refused(postgres: PostgresServer, db: str) -> None:
    with open_log(postgres, db):
        pass
    newer = SCHEMA_VERSION + 1
    postgres.execute(f"INSERT INTO cockpit.schema_version (version) VALUES ({newer})", db)
    with pytest.raises(SchemaTooNew) as caught:
        open_log(postgres, db)
    assert f"timeline schema version {newer} is newer than this cockpit understands" in str(
        caught.value
    )
    assert "upgrade rollback-cockpit" in str(caught.value)


def test_a_wrong_password_is_a_clear_error_without_the_password(
    postgres: PostgresServer, db: str
) -> None:
    wrong = "pw-wrong-" + unique("s3cr3t")
    with pytest.raises(TimelineUnavailable) as caught:
        open_log(postgres, db, password=wrong, timeouts=Timeouts(connect=5))
    message = str(caught.value)
    assert f"cockpit@127.0.0.1:{postgres.port}/{db}" in message
    assert "password authentication failed" in message
    assert wrong not in message and postgres.password not in message
    # In the URL itself, too.
    url = f"postgresql://cockpit:{wrong}@127.0.0.1:{postgres.port}/{db}"
    with pytest.raises(TimelineUnavailable) as caught:
        PgEventLog(url, timeouts=Timeouts(connect=5))
    assert wrong not in str(caught.value) and f"127.0.0.1:{postgres.port}" in str(caught.value)


def test_a_refused_connection_names_the_host_and_port() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(TimelineUnavailable) as caught:
        PgEventLog(
            f"postgresql://cockpit@127.0.0.1:{port}/tl",
            password="pw-never-shown",
            timeouts=Timeouts(connect=2),
            attempts=1,
        )
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "refused" in message.lower()
    assert "pw-never-shown" not in message


# --- tampering ------------------------------------------------------------------------------


def _populated(server: PostgresServer, dbname: str, notes: int = 4) -> None:
    with open_log(server, dbname) as log:
        incident = opened(log)
        for index in range(notes):
            log.record(incident, "note", f"note {index}", {"index": index})


def _tamper(server: PostgresServer, dbname: str, *statements: str) -> None:
    """As the superuser, with every user trigger of events off, then on again."""
    admin_execute(
        server,
        dbname,
        "ALTER TABLE cockpit.events DISABLE TRIGGER USER",
        *statements,
        "ALTER TABLE cockpit.events ENABLE TRIGGER USER",
    )


def test_verify_names_an_altered_event(postgres: PostgresServer, db: str) -> None:
    _populated(postgres, db)
    _tamper(postgres, db, "UPDATE cockpit.events SET summary = 'nothing happened' WHERE id = 3")
    with open_log(postgres, db) as log, pytest.raises(ChainBroken) as caught:
        log.verify()
    assert caught.value.event_id == 3 and "hash mismatch" in caught.value.reason


def test_verify_names_a_removed_event(postgres: PostgresServer, db: str) -> None:
    _populated(postgres, db)
    _tamper(postgres, db, "DELETE FROM cockpit.events WHERE id = 2")
    with open_log(postgres, db) as log, pytest.raises(ChainBroken) as caught:
        log.verify()
    assert caught.value.event_id == 2 and "a row was removed" in caught.value.reason


def test_verify_sees_the_newest_events_removed(postgres: PostgresServer, db: str) -> None:
    _populated(postgres, db)
    _tamper(postgres, db, "DELETE FROM cockpit.events WHERE id >= 4")
    with open_log(postgres, db) as log:
        with pytest.raises(ChainBroken) as caught:
            log.verify()
        assert caught.value.event_id == 4 and "newest rows removed" in caught.value.reason
        assert log.verify(up_to=3).count == 3


def test_verify_names_an_event_rehashed_into_an_unreadable_one(
    postgres: PostgresServer, db: str
) -> None:
    _populated(postgres, db)
    rehash = (
        "cockpit.chain_hash(prev_hash, id, incident, ts, kind, actor, summary, payload, command)"
    )
    _tamper(
        postgres,
        db,
        "UPDATE cockpit.events SET payload = '[1, 2]' WHERE id = 5",
        f"UPDATE cockpit.events SET hash = {rehash} WHERE id = 5",
        "UPDATE cockpit.chain_head SET hash = (SELECT hash FROM cockpit.events WHERE id = 5)",
    )
    with open_log(postgres, db) as log, pytest.raises(TimelineDamaged) as caught:
        log.verify()
    assert caught.value.where == "event 5" and "not an object" in caught.value.problem
