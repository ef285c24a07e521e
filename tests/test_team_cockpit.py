"""A team on one PostgreSQL timeline (`cockpit --db postgresql://…`), against a real
PostgreSQL 15: three real cockpits, each in its own terminal (tmux) as three responders on
three jump hosts would be, see one another's events live; one action at a time per target
across them (the advisory lock names who holds it); a lost lock stops an action before it
changes anything; a write retried by the writer after a failover is stored once.

Skipped, with the reason, where the PostgreSQL server binaries or tmux are missing.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import postgres_server
import psycopg
import pytest

from cockpit import action_runner
from cockpit.action_runner import TargetBusy
from cockpit.core.actions import Report
from cockpit.core.locks import PgLocks
from cockpit.core.pg_timeline import PgTimeline
from cockpit.core.procedure_copy import read_copy
from cockpit.core.writer import TimelineWriter
from tests.test_action_runner import ListRecorder, Scripted
from tests.tmux_terminals import Terminals

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parent.parent
COCKPIT = ROOT / ".venv" / "bin" / "cockpit"


server = postgres_server.server


@pytest.fixture
def url(server: Any) -> Iterator[str]:
    """A fresh team database holding a timeline, its URL without the password."""
    with postgres_server.fresh_database(server, "team_", timeline=True) as made:
        yield made


def opened(url: str, server: Any) -> int:
    with PgTimeline(url, password=server.password, actor="alice") as timeline:
        copy = read_copy("pulse-messages")
        return timeline.open_incident("checkout 5xx", "P1", "pulse-messages", copy=copy).id


# --- the writer: a retry after a failover is stored once ------------------------------------


def losing_the_first_answer(
    url: str, server: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[PgTimeline, list[int]]:
    """A timeline whose first commit is made on the server and its answer lost (the
    connection dies before the client hears it), with one try per call: the connection's own
    retry is spent, the writer's takes over. The list counts the answers lost."""
    timeline = PgTimeline(url, password=server.password, attempts=1, retry_pause=0.0)
    conn = timeline._session._conn
    real = conn.transaction
    lost: list[int] = []

    @contextlib.contextmanager
    def answer_lost(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with real(*args, **kwargs) as transaction:
            yield transaction
        if not lost:
            lost.append(1)
            conn.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(conn, "transaction", answer_lost)
    return timeline, lost


def test_a_write_whose_commit_answer_was_lost_is_retried_by_the_writer_and_stored_once(
    url: str, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = opened(url, server)
    timeline, lost = losing_the_first_answer(url, server, monkeypatch)
    writer = TimelineWriter(lambda: timeline)
    done: Future[Any] = writer.submit(
        lambda t: t.begin_action(incident, "vercel.rollback", "roll back", {}, command=None),
        "action.intent",
    )
    event = done.result(timeout=30)
    writer.stop(10)
    assert lost == [1]
    with PgTimeline(url, password=server.password, create=False) as check:
        intents = [e for e in check.events(incident) if e.kind == "action.intent"]
        assert intents == [event], "the retry found the lost commit instead of a second intent"
        assert check.verify().count == len(check.events())


def test_readings_whose_commit_answer_was_lost_are_retried_and_kept_once(
    url: str, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from cockpit.core.metrics import Sample

    incident = opened(url, server)
    timeline, lost = losing_the_first_answer(url, server, monkeypatch)
    writer = TimelineWriter(lambda: timeline)
    at = datetime(2026, 12, 3, 3, 12, tzinfo=UTC)
    writer.samples(incident, [Sample("error_rate", 0.12, at, "prometheus")] * 3)
    writer.flush().result(timeout=30)
    writer.stop(10)
    assert lost == [1]
    with PgTimeline(url, password=server.password, create=False) as check:
        assert len(check.samples(incident)) == 3, "the retry found the batch stored"


# --- one action per target across cockpits ----------------------------------------------------


def test_a_second_responder_is_refused_the_target_and_told_who_holds_it(
    url: str, server: Any
) -> None:
    locks = PgLocks(PgTimeline(url, password=server.password).target)
    first = locks.target("scripted:web", "web")  # another cockpit's, on another host
    first.acquire()
    ran: list[str] = []
    provider = Scripted(during_execute=lambda report: ran.append("execute"))
    plan = provider.preflight("go", {})
    try:
        with pytest.raises(
            TargetBusy, match=r"another action is running on web: held by .* \(pid \d+\) since"
        ):
            action_runner.run(provider, plan, "web", ListRecorder(), Report(), locks=locks)
        assert ran == [], "nothing ran on the target"
    finally:
        first.release()
    done = action_runner.run(provider, plan, "web", ListRecorder(), Report(), locks=locks)
    assert done.outcome == "succeeded" and ran == ["execute"]


def test_a_lock_lost_before_the_change_stops_the_action_unrun(url: str, server: Any) -> None:
    locks = PgLocks(PgTimeline(url, password=server.password).target)
    ran: list[str] = []
    provider = Scripted(during_execute=lambda report: ran.append("execute"))
    plan = provider.preflight("go", {})
    recorder = ListRecorder()

    def begin_then_cut(*args: Any) -> str:
        # Between the intent and the change, the lock's session ends (a failover, an admin).
        server.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
            " AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = %s)",
            params=(url.rsplit("/", 1)[1],),
        )
        return "id"

    recorder.begin = begin_then_cut  # type: ignore[method-assign]
    result = action_runner.run(provider, plan, "web", recorder, Report(), locks=locks)
    assert result.outcome == "failed" and recorder.outcomes == ["failed"]
    assert "the action lock on web was lost" in result.summary
    assert "while executing" in result.summary
    assert ran == [], "nothing changed once the lock was lost"


# --- three cockpits, three terminals, one incident -------------------------------------------


@pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux (make test installs it)")
def test_three_cockpits_on_one_incident_see_one_another_live(
    url: str, server: Any, tmp_path: Path
) -> None:
    incident = opened(url, server)
    env = {
        "PGPASSWORD": server.password,
        "COCKPIT_CONFIG": str(tmp_path / "none.toml"),
        "TERM": "xterm-256color",
    }
    people = ("alice", "bob", "carol")
    terminals = Terminals(tmp_path, env)
    try:
        # carol's jump host names the team database in cockpit.toml, with a password file.
        secret = tmp_path / "carol-db-password"
        secret.write_text(server.password + "\n")
        carol_toml = tmp_path / "carol.toml"
        carol_toml.write_text(f'[timeline]\nurl = "{url}"\npassword = {{ file = "{secret}" }}\n')
        for person in people:
            data = tmp_path / person  # each on a jump host of their own
            own = {"COCKPIT_CONFIG": str(carol_toml), "PGPASSWORD": ""} if person == "carol" else {}
            db = "" if person == "carol" else f"--db {url} "
            terminals.start(
                person,
                f"{COCKPIT} {db}--incident {incident}",
                USER=person,
                LOGNAME=person,
                COCKPIT_DATA_DIR=str(data),
                **own,
            )
        for person in people:
            terminals.wait_for(person, "checkout 5xx")
        for person in people:
            terminals.keys(person, "n")
            terminals.wait_for(person, "Note for the timeline")
            terminals.keys(person, "-l", f"seen by {person}")
            terminals.keys(person, "Enter")
        for person in people:
            # The timeline screen: its rows start at the top, where no notification covers them.
            terminals.keys(person, "t")
            for other in people:
                terminals.wait_for(person, f"seen by {other}", seconds=60)
        for person in people:
            assert terminals.quit(person) == 0
    finally:
        terminals.close()
    with PgTimeline(url, password=server.password, create=False) as timeline:
        notes = {e.summary: e.actor for e in timeline.events(incident) if e.kind == "note"}
        assert {summary: actor.split()[0] for summary, actor in notes.items()} == {
            f"seen by {person}": person for person in people
        }
        started = [e for e in timeline.events(incident) if e.kind == "session.started"]
        assert len(started) == 3
        # One drives (records readings and triggers, pages); the other two respond.
        assert sorted(e.payload["driving"] for e in started) == [False, False, True], [
            (e.actor, e.summary) for e in timeline.events(incident)
        ]
        assert timeline.verify().count == len(timeline.events())


# --- cockpit.toml's [timeline] ------------------------------------------------------------------


def test_the_team_timeline_comes_from_cockpit_toml_with_its_password_from_a_file(
    url: str, server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from cockpit.cli import cli

    incident = opened(url, server)
    secret = tmp_path / "db-password"
    secret.write_text(server.password + "\n")
    config = tmp_path / "cockpit.toml"
    config.write_text(f'[timeline]\nurl = "{url}"\npassword = {{ file = "{secret}" }}\n')
    for name in ("COCKPIT_DB", "PGPASSWORD", "COCKPIT_DB_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COCKPIT_CONFIG", str(config))
    monkeypatch.setenv("COCKPIT_DATA_DIR", str(tmp_path / "data"))
    listed = CliRunner().invoke(cli, ["incident", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"{incident}" in listed.output and "checkout 5xx" in listed.output
    verified = CliRunner().invoke(cli, ["timeline", "verify"])
    assert verified.exit_code == 0 and server.password not in verified.output
    assert not (tmp_path / "data" / "timeline.db").exists(), "no local file was used"

    config.write_text(f'[timeline]\nurl = "{url}"\npasword = "typo"\n')
    typo = CliRunner().invoke(cli, ["incident", "list"])
    assert typo.exit_code == 2
    assert f"{config}: timeline.pasword: unknown key (url, password)" in typo.output
    config.write_text('[timeline]\nurl = "mysql://h/db"\n')
    wrong = CliRunner().invoke(cli, ["incident", "list"])
    assert wrong.exit_code == 2 and "timeline.url: a postgresql://" in wrong.output


# --- the team database lost mid-incident ------------------------------------------------------


@pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux (make test installs it)")
def test_a_cockpit_keeps_working_on_its_journal_and_catches_up_when_the_server_is_back(
    server: Any, tmp_path: Path
) -> None:
    """The server killed under a running cockpit: it says OFFLINE on its screen, what the
    responder records shows at once, and once the server is back it is appended there, with
    its own time and actor, marked delayed, the chain whole."""
    import postgres_server

    from cockpit.demo.pg_cluster import PostgresServer

    del server  # skips where PostgreSQL cannot run; this test kills its own
    with PostgresServer() as own:
        own.create_database("team")
        # Every acknowledged commit survives the kill (the cluster runs without by default).
        own.execute("ALTER DATABASE team SET synchronous_commit = on")
        url = f"postgresql://{postgres_server.APP_USER}@127.0.0.1:{own.port}/team"
        incident = opened(url, own)
        env = {
            "PGPASSWORD": own.password,
            "COCKPIT_CONFIG": str(tmp_path / "none.toml"),
            "COCKPIT_DATA_DIR": str(tmp_path / "data"),
            "TERM": "xterm-256color",
            "USER": "alice",
            "LOGNAME": "alice",
        }
        terminals = Terminals(tmp_path, env)
        try:
            terminals.start("alice", f"{COCKPIT} --db {url} --incident {incident}")
            terminals.wait_for("alice", "checkout 5xx")
            terminals.wait_for("alice", "cockpit attached")  # its start is recorded and shown
            own.halt()
            terminals.keys("alice", "n")
            terminals.wait_for("alice", "Note for the timeline")
            terminals.keys("alice", "-l", "flag off")
            terminals.keys("alice", "Enter")
            terminals.wait_for("alice", "OFFLINE: journal", seconds=60)
            terminals.keys("alice", "t")  # the timeline screen: the note is there at once
            terminals.wait_for("alice", "flag off", seconds=30)
            terminals.wait_for("alice", "OFFLINE: journal")  # on every screen
            own.resume()
            terminals.wait_for("alice", "Back online", seconds=60)
            screen = terminals.screen("alice")
            assert "OFFLINE: journal" not in screen
            assert terminals.quit("alice") == 0
        finally:
            terminals.close()
        with PgTimeline(url, password=own.password, create=False) as timeline:
            events = timeline.events(incident)
            note = next(e for e in events if e.summary == "flag off")
            assert note.actor.startswith("alice")
            assert "delayed" in note.payload, "marked as written while apart"
            assert [e.kind for e in events].count("journal.replayed") == 1
            assert timeline.verify().count == len(timeline.events())
        journals = list((tmp_path / "data" / "journals").glob("*.db"))
        assert len(journals) == 1
        from cockpit.core.timeline import Timeline

        with Timeline(journals[0], create=False) as journal:
            assert journal.verify().count == len(journal.events()), "the journal's chain holds"


def test_the_responders_role_is_made_once_by_the_owner_with_select_and_insert_only(
    url: str, server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import postgres_server
    from click.testing import CliRunner

    from cockpit.cli import cli

    monkeypatch.setenv("PGPASSWORD", server.password)
    group = postgres_server.unique("responders_")
    refused = CliRunner().invoke(cli, ["timeline", "responder-role", group, "--db", url])
    assert refused.exit_code == 2  # the app's role may not create roles
    assert "permission denied to create role" in refused.output
    name = url.rsplit("/", 1)[1]
    superuser = f"postgresql://postgres@/{name}?host={server.dir}&port={server.port}"
    made = CliRunner().invoke(cli, ["timeline", "responder-role", group, "--db", superuser])
    assert made.exit_code == 0, made.output
    assert f"role '{group}' created" in made.output
    again = CliRunner().invoke(cli, ["timeline", "responder-role", group, "--db", superuser])
    assert again.exit_code == 2 and "exists already" in again.output
    rights = {
        right: server.scalar(
            "SELECT has_table_privilege(%s, 'cockpit.events', %s)", name, (group, right)
        )
        for right in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
    }
    assert rights == {
        "SELECT": True,
        "INSERT": True,
        "UPDATE": False,
        "DELETE": False,
        "TRUNCATE": False,
    }
    # A member appends events and a writer's keyed batch of readings; it may not delete.
    from datetime import UTC, datetime

    from psycopg import sql

    from cockpit.core.errors import TimelineError
    from cockpit.core.metrics import Sample

    member = f"{group}_dana"
    server.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'dana-pw' IN ROLE {}").format(
            sql.Identifier(member), sql.Identifier(group)
        )
    )
    as_member = url.replace("cockpit@", f"{member}@", 1)
    incident = opened(url, server)
    with PgTimeline(as_member, password="dana-pw", create=False) as responder:
        assert responder.record(incident, "note", "by a responder").actor
        responder.keyed("writer-job-1")
        at = datetime(2026, 12, 3, 3, 12, tzinfo=UTC)
        assert responder.record_samples(incident, [Sample("error_rate", 0.1, at, "p")]) == 1
        responder.keyed(None)
        with pytest.raises(TimelineError, match="permission denied"):
            responder.prune_samples(at)
    on_file = CliRunner().invoke(
        cli, ["timeline", "responder-role", group, "--db", str(tmp_path / "t.db")]
    )
    assert on_file.exit_code == 2 and "postgresql:// timeline only" in on_file.output
