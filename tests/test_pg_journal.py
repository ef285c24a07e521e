"""Losing the team's PostgreSQL mid-incident (issue 20, item 4): the writes go to a local journal,
and are replayed once the server answers, each with its original time and actor and marked
``delayed``, both chains verified, nothing lost or duplicated; an interrupted replay run again
appends nothing twice; the same target acted on from both sides is a recorded conflict; a
tampered journal is refused; `cockpit timeline replay` does it from the shell.

A cluster of this module's own (tests/postgres_server.py), since these tests kill it
(`pg_ctl stop -m immediate`) and start it again on the same data dir and port. Clocks are
injected; every wait is bounded. Skipped, with the reason, where PostgreSQL cannot run.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.core.clock import FixedClock
from cockpit.core.errors import TimelineUnavailable
from cockpit.core.event_log import Event
from cockpit.core.incidents import Incident
from cockpit.core.journal import JournaledTimeline
from cockpit.core.journal_replay import CONFLICT, REPLAYED, JournalRefused, replay_journal
from cockpit.core.journal_split import Split, from_marker, splits_of
from cockpit.core.pg_connect import Timeouts
from cockpit.core.pg_timeline import PgTimeline
from cockpit.core.roles import COMMUNICATIONS
from cockpit.core.timeline import Timeline
from cockpit.demo.pg_cluster import PostgresServer, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ALICE = "alice via ssh 203.0.113.7"
BOB = "bob via ssh 198.51.100.4"
START = datetime(2026, 1, 15, 3, 12, 0, tzinfo=UTC)
TARGET = {"provider": "flags", "target": "checkout-v2"}


# --- translating ids (no server) ------------------------------------------------------------


def _event(event_id: int, incident: int, kind: str = "note") -> Event:
    return Event(event_id, incident, "2026-01-15T03:12:00.000Z", kind, ALICE, "s", {}, None, "", "")


def test_ids_translate_to_the_primary_incident() -> None:
    split = Split("ab" * 16, "pg", 7, 3, base=40, split_id=500, copied={38: 480, 39: 497})
    assert split.primary_id(41) == 501 and split.primary_id(45) == 505  # provisional
    assert split.primary_id(39) == 497  # a copy: its original's id
    with pytest.raises(ValueError):
        split.primary_id(12)  # another incident's event of the journal
    translated = split.to_primary(_event(42, 3))
    assert (translated.id, translated.incident) == (502, 7)
    # A feed's "after": what it has, in provisional ids, back to journal ids.
    assert split.local_after(0) == 40 and split.local_after(500) == 40
    assert split.local_after(503) == 43
    assert split.event_key(41) == f"journal:{'ab' * 16}:41"
    opened = Incident(3, "checkout 5xx", "P0", "open", None, "2026-01-15T03:12:00.000Z")
    assert split.translate(opened) == Incident(
        7, "checkout 5xx", "P0", "open", None, "2026-01-15T03:12:00.000Z"
    )
    assert split.translate(12) == 12  # a count of samples, as it is


def test_a_marker_reads_back_as_its_split() -> None:
    plan = Split("cd" * 16, "cockpit@db:5432/team", 7, 0, 0, 500, head_id=497, host="jump-1")
    payload = plan.marker_payload([[480, 1], [497, 2]], "f" * 64)
    marker = Event(3, 2, "2026-01-15T03:12:00.000Z", "incident.imported", ALICE, "s", payload,
                   None, "", "")  # fmt: skip
    split = from_marker(marker, "journal.db")
    assert (split.local_incident, split.base, split.split_id, split.head_id) == (2, 3, 500, 497)
    assert split.copied == {1: 480, 2: 497} and split.head_hash == "f" * 64
    assert splits_of([_event(1, 2), marker], "journal.db") == [split]


# --- the cluster ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    import postgres_server

    missing = postgres_server.ensure()
    if missing:
        pytest.skip(f"PostgreSQL cannot run here: {missing}")
    with PostgresServer() as made:
        yield made


@pytest.fixture
def db(server: Any) -> Iterator[str]:
    import postgres_server

    name = postgres_server.unique("tl_journal_")
    server.create_database(name)
    # The cluster runs synchronous_commit=off (speed); a production server keeps what it
    # acknowledged across a crash, and so must this database for these tests.
    server.execute(f"ALTER DATABASE {name} SET synchronous_commit = on")
    yield name
    if not server.running:
        server.resume()
    server.drop_database(name)


class Team:
    """One test's database on the module's cluster, and a way to open it."""

    def __init__(self, server: Any, dbname: str, clock: FixedClock) -> None:
        self.server = server
        self.url = f"postgresql://cockpit@127.0.0.1:{server.port}/{dbname}"
        self.clock = clock

    def open(self, actor: str = ALICE) -> PgTimeline:
        """Two quick tries, short timeouts: an outage is noticed at once."""
        return PgTimeline(
            self.url,
            password=self.server.password,
            clock=self.clock,
            actor=actor,
            attempts=2,
            retry_pause=0.0,
            timeouts=Timeouts(connect=3.0, statement=5.0, lock=5.0),
        )


@pytest.fixture
def team(server: Any, db: str) -> Team:
    return Team(server, db, FixedClock(START))


def journaled(team: Team, path: Path, incident: int, **options: Any) -> JournaledTimeline:
    options.setdefault("clock", team.clock)
    options.setdefault("retry_seconds", 5.0)
    return JournaledTimeline(team.open, incident, path, actor=ALICE, **options)


def replayed_of(events: list[Event]) -> list[Event]:
    return [e for e in events if "delayed" in e.payload]


# --- a server killed and restarted mid-incident -----------------------------------------------


def test_writes_while_the_server_is_down_are_journaled_then_replayed(
    team: Team, tmp_path: Path
) -> None:
    clock, server = team.clock, team.server
    with team.open() as pg:
        incident = pg.open_incident("checkout 5xx", "P1", None).id
    offline: list[str] = []
    online: list[Any] = []
    path = tmp_path / "journal.db"
    jt = journaled(team, path, incident, on_offline=offline.append, on_online=online.append)
    before = jt.record(incident, "note", "error rate 7%", {"rate": 7})
    intent = jt.begin_action(
        incident, "flags.rollback", "Roll back checkout-v2", TARGET, command="cockpit flags off"
    )
    action_id = intent.payload["action_id"]
    assert not jt.offline

    server.halt()
    clock.advance(30)
    step = jt.step_action(incident, action_id, "flag turned off by hand", actor=BOB)
    assert jt.offline and len(offline) == 1 and str(path) in offline[0]
    # In the PostgreSQL incident's terms, with provisional ids after the last one known.
    assert step.incident == incident and step.id == intent.id + 1
    clock.advance(1)
    result = jt.finish_action(incident, action_id, "succeeded", "checkout-v2 rolled back")
    severity = jt.set_severity(incident, "P0")
    assert severity.id == incident and severity.severity == "P0"
    clock.advance(1)
    note = jt.record(incident, "note", "still down", {"n": 1}, actor=BOB)
    role = jt.assign_role(incident, COMMUNICATIONS, "carol")
    assert role is not None and role.id == note.id + 1 and role.incident == incident
    assert [e.id for e in jt.offline_events(0)] == [intent.id + n for n in range(1, 6)]
    assert [e.summary for e in jt.offline_events(result.id)][-2:] == [
        "still down",
        "carol is now communications, assigned by alice",
    ]
    from_feed: list[list[Event]] = []  # the App's feed reads it on a thread of its own
    reader = threading.Thread(target=lambda: from_feed.append(jt.offline_events(step.id)))
    reader.start()
    reader.join(10)
    assert [e.id for e in from_feed[0]] == [step.id + n for n in range(1, 5)]
    assert note.incident == incident

    clock.advance(10)  # a retry while it is still down: stays in the journal, no wait
    jt.record(incident, "note", "down again", {"n": 2})
    assert jt.offline and not online

    server.resume()
    clock.advance(2)  # not yet due: the next try is 5 s after the last
    jt.record(incident, "note", "before the retry", {"n": 3})
    assert jt.offline
    clock.advance(5)
    after = jt.record(incident, "note", "back", {"n": 4})
    assert not jt.offline and len(online) == 1
    report = online[0]
    assert (report.count, report.appended, report.already, report.conflicts) == (7, 7, 0, [])
    assert jt.offline_events(0) == []
    jt.close()

    with team.open() as pg:
        events = pg.events(incident)
        pg.verify()
    assert events[-2].kind == REPLAYED and events[-2].hash == report.primary_head
    delayed = replayed_of(events)
    assert [e.summary for e in delayed] == [
        "flag turned off by hand",
        "checkout-v2 rolled back",
        "Severity P1 → P0",
        "still down",
        role.summary,
        "down again",
        "before the retry",
    ]
    assert [e.actor for e in delayed] == [BOB, ALICE, ALICE, BOB, ALICE, ALICE, ALICE]
    assert delayed[0].ts == "2026-01-15T03:12:30.000Z"  # the original time, not the replay's
    assert delayed[0].payload["delayed"]["journal"] == str(path)
    assert delayed[0].payload["delayed"]["written_at"] == delayed[0].ts
    assert {e.payload["delayed"]["local_id"] for e in delayed} == {
        e.id for e in report_local(path, incident)
    }
    assert [e.id for e in delayed] == list(range(report.first_id, report.last_id + 1))
    assert delayed[1].payload["action_id"] == action_id  # finished the action begun there
    marker = [e for e in events if e.kind == REPLAYED]
    assert len(marker) == 1 and marker[0].payload["count"] == 7
    assert marker[0].payload["first_id"] == report.first_id
    # Nothing lost or duplicated: every write once, in order, the last after the replay.
    summaries = [e.summary for e in events]
    assert len(summaries) == len(set(summaries))
    assert events[1] == before and events[2].id == intent.id and events[-1] == after
    with Timeline(path, create=False) as local:
        assert local.verify().head_hash == report.journal_head
        assert local.events(kinds=[REPLAYED])[0].payload["last_id"] == report.last_id


def report_local(path: Path, incident: int) -> list[Event]:
    """The journal's own events (after its split's marker)."""
    with Timeline(path, create=False) as local:
        split = splits_of(local.events(kinds=["incident.imported"]), path)[0]
        return [
            e for e in local.events(split.local_incident, after_id=split.base) if e.kind != REPLAYED
        ]


def _offline_journal(team: Team, path: Path, count: int, **writes: Any) -> tuple[int, int]:
    """An incident on the team's database, then `count` notes written while it is down;
    the server is running again on return. Returns the incident and the split id."""
    with team.open() as pg:
        incident = pg.open_incident("checkout 5xx", "P1", None).id
    jt = journaled(team, path, incident)
    split_at = jt.record(incident, "note", "last one live").id
    team.server.halt()
    try:
        for n in range(count):
            team.clock.advance(0.5)
            jt.record(incident, "note", f"apart {n}", {"n": n})
        if writes.get("intent"):
            jt.begin_action(
                incident, "flags.rollback", "Roll back checkout-v2", TARGET, command="cockpit"
            )
        assert jt.offline
    finally:
        jt.close()
        team.server.resume()
    return incident, split_at


def test_an_interrupted_replay_run_again_appends_nothing_twice(team: Team, tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    incident, _ = _offline_journal(team, path, 9)
    with team.open() as pg, Timeline(path, create=False) as local:
        real = pg._locked
        calls = {"n": 0}

        def cut_after_two(what: str, job: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 3:  # the third batch: the server is gone again
                raise TimelineUnavailable("the connection failed: server closed the connection")
            return real(what, job)

        pg._locked = cut_after_two  # type: ignore[method-assign]
        with pytest.raises(TimelineUnavailable):
            replay_journal(local, pg, incident, batch=4)
        del pg._locked
        assert len(replayed_of(pg.events(incident))) == 8  # two batches committed
        report = replay_journal(local, pg, incident, batch=4)
        assert (report.count, report.appended, report.already) == (9, 1, 8)
        again = replay_journal(local, pg, incident, batch=4)
        assert (again.appended, again.already) == (0, 9)
        events = pg.events(incident)
        assert [e.payload["n"] for e in replayed_of(events)] == list(range(9))
        assert len([e for e in events if e.kind == REPLAYED]) == 1
        assert len(local.events(kinds=[REPLAYED])) == 1
        pg.verify()
        local.verify()


def test_the_same_target_acted_on_from_both_sides_is_a_recorded_conflict(
    team: Team, tmp_path: Path
) -> None:
    path = tmp_path / "journal.db"
    incident, split_at = _offline_journal(team, path, 1, intent=True)
    with team.open(BOB) as bob:  # meanwhile, on the team's database, Bob acts on it too
        team.clock.advance(3)
        theirs = bob.begin_action(
            incident, "flags.rollback", "Roll back checkout-v2", dict(TARGET), command="x"
        )
        assert theirs.id > split_at
        with Timeline(path, create=False) as local:
            report = replay_journal(local, bob, incident)
        events = bob.events(incident)
    assert len(report.conflicts) == 1
    conflict = report.conflicts[0]
    mine = [e for e in events if e.kind == "action.intent" and "delayed" in e.payload]
    assert len(mine) == 1
    assert (conflict.target, conflict.primary_id, conflict.primary_actor) == (
        "checkout-v2",
        theirs.id,
        BOB,
    )
    assert (conflict.journal_id, conflict.journal_actor) == (mine[0].id, ALICE)
    recorded = [e for e in events if e.kind == CONFLICT]
    assert len(recorded) == 1 and recorded[0].id == mine[0].id + 1
    assert recorded[0].payload["primary"] == {"id": theirs.id, "actor": BOB, "at": theirs.ts}
    assert recorded[0].payload["journal"]["id"] == mine[0].id
    assert recorded[0].payload["target"] == "checkout-v2"
    # Both actions stay as recorded: two intents, nothing merged.
    assert len([e for e in events if e.kind == "action.intent"]) == 2


def test_a_tampered_journal_is_refused_naming_the_file(team: Team, tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    incident, _ = _offline_journal(team, path, 3)
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "DROP TRIGGER events_no_update; UPDATE events SET summary = 'nothing happened'"
            " WHERE id = (SELECT max(id) FROM events);"
        )
    with team.open() as pg, Timeline(path, create=False) as local:
        before = pg.head()
        with pytest.raises(JournalRefused, match=str(path)):
            replay_journal(local, pg, incident)
        assert pg.head() == before


def test_the_write_whose_answer_was_lost_is_not_appended_twice(team: Team, tmp_path: Path) -> None:
    """A commit that reached the server, its answer lost: the journal has it too, and replay
    finds it there by its content."""
    with team.open() as pg:
        incident = pg.open_incident("checkout 5xx", "P1", None).id
    jt = journaled(team, tmp_path / "journal.db", incident)
    jt.record(incident, "note", "live")
    primary = jt._primary
    assert primary is not None
    real = primary.record

    def committed_then_lost(*args: Any, **kwargs: Any) -> Event:
        real(*args, **kwargs)
        raise TimelineUnavailable("the connection failed: server closed the connection")

    primary.record = committed_then_lost  # type: ignore[method-assign]
    jt.record(incident, "note", "answer lost", {"n": 1})
    assert jt.offline
    jt.record(incident, "note", "apart", {"n": 2})
    team.clock.advance(5)
    jt.record(incident, "note", "back")
    assert not jt.offline and jt.last_report is not None
    assert (jt.last_report.appended, jt.last_report.already) == (1, 1)
    jt.close()
    with team.open() as pg:
        summaries = [e.summary for e in pg.events(incident)]
        pg.verify()
    assert summaries.count("answer lost") == 1 and summaries.count("apart") == 1


# --- a failover during a stream of appends ----------------------------------------------------


def test_a_restart_during_a_stream_of_appends_loses_and_duplicates_nothing(
    team: Team, tmp_path: Path
) -> None:
    with team.open() as pg:
        incident = pg.open_incident("checkout 5xx", "P1", None).id
    clock = FixedClock(START)
    offline: list[str] = []
    jt = JournaledTimeline(
        team.open,
        incident,
        tmp_path / "journal.db",
        clock=clock,
        actor=ALICE,
        retry_seconds=2,
        on_offline=offline.append,
    )
    reached = threading.Event()
    failures: list[BaseException] = []

    def stream() -> None:
        try:
            for n in range(200):
                clock.advance(0.1)  # the retry is due every 20 appends while offline
                jt.record(incident, "note", f"append {n}", {"n": n})
                if n == 40:
                    reached.set()
            # The stream may end before its next try: the cockpit's next write would replay;
            # here, tries until the server is back (bounded).
            for _ in range(100):
                if jt.try_primary(now=True):
                    break
                restarted.wait(0.1)
        except BaseException as error:
            failures.append(error)
            reached.set()

    restarted = threading.Event()

    appender = threading.Thread(target=stream, name="appender")
    appender.start()
    try:
        assert reached.wait(60)
        team.server.halt()
        team.server.resume()  # about a second and a half: the stream goes on meanwhile
        restarted.set()
    finally:
        appender.join(120)
    assert not appender.is_alive() and not failures
    assert not jt.offline and offline  # it did go to the journal, and came back
    jt.close()
    with team.open() as pg:
        events = pg.events(incident)
        pg.verify()
    notes = [e.payload["n"] for e in events if e.kind == "note"]
    assert notes == list(range(200))


# --- a cockpit that stopped while offline -----------------------------------------------------


def test_a_cockpit_started_again_while_offline_goes_on_with_its_journal(
    team: Team, tmp_path: Path
) -> None:
    path = tmp_path / "journal.db"
    incident, _ = _offline_journal(team, path, 2)
    team.server.halt()
    try:
        again = journaled(team, path, incident)  # nothing known: the journal's split is
        assert again.offline and again.split is not None
        note = again.record(incident, "note", "after the restart")
        assert note.id == again.split.split_id + 3
        again.close()
    finally:
        team.server.resume()
    reports: list[Any] = []
    online = journaled(team, path, incident, on_online=reports.append)  # replays it at start
    assert not online.offline and len(reports) == 1
    assert (reports[0].count, reports[0].appended) == (3, 3)
    last = online.record(incident, "note", "online again")
    online.close()
    assert last.id == reports[0].last_id + 2  # after the replayed events and the marker


def test_cockpit_timeline_replay_from_the_shell(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.db"
    incident, _ = _offline_journal(team, path, 3)
    monkeypatch.setenv("PGPASSWORD", team.server.password)
    runner = CliRunner()
    done = runner.invoke(cli, ["timeline", "replay", str(path), "--to", team.url])
    assert done.exit_code == 0, done.output
    assert f"{path}: 3 journaled event(s) on {team.url} as events" in done.output
    assert "3 appended now, 0 already there; 0 conflict(s)" in done.output
    again = runner.invoke(cli, ["timeline", "replay", str(path), "--to", team.url])
    assert again.exit_code == 0 and "0 appended now, 3 already there" in again.output
    with team.open() as pg:
        assert len(replayed_of(pg.events(incident))) == 3

    with_password = team.url.replace("cockpit@", f"cockpit:{team.server.password}@")
    nowhere = f"postgresql://cockpit@127.0.0.1:{free_port()}/x"
    for args, reason in (
        ([str(path), "--to", nowhere], "cannot connect"),
        ([str(tmp_path / "none.db"), "--to", team.url], "no such file"),
        ([str(path), "--to", str(tmp_path / "a.db")], "postgresql:// URL"),
        ([str(path), "--to", with_password, "--incident", "99"], "no journaled writes"),
    ):
        refused = runner.invoke(cli, ["timeline", "replay", *args])
        assert refused.exit_code == 1, refused.output
        assert "cannot replay" in refused.output and reason in refused.output
        assert team.server.password not in refused.output
