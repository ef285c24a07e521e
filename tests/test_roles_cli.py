"""`cockpit incident roles N` and `cockpit incident assign N ROLE PERSON`, on a SQLite file and
on a team's PostgreSQL: the caller is who runs the command (LOGNAME here), refused with exit 1
naming the lead when not the lead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cockpit.cli import cli
from cockpit.core.timeline_open import open_timeline


def run(db: str, *args: str, who: str, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.setenv("LOGNAME", who)  # getpass reads it first: the actor's user name
    return CliRunner().invoke(cli, ["incident", *args, "--db", db])


def opened_by(db: str, who: str) -> int:
    with open_timeline(db, actor=f"{who} via ssh 203.0.113.7") as timeline:
        return timeline.open_incident("checkout 5xx", "P1", None).id


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return str(tmp_path / "timeline.db")


@pytest.fixture
def pg_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import postgres_server

    server = postgres_server.shared()
    monkeypatch.setenv("PGPASSWORD", server.password)
    with postgres_server.fresh_database(server, "tl_roles_cli_") as made:
        yield made


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_db")


def test_the_lead_assigns_and_roles_lists_who_holds_what(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = str(opened_by(db, "alice"))
    done = run(db, "assign", incident, "responder", "bob", who="alice", monkeypatch=monkeypatch)
    assert done.exit_code == 0, done.output
    assert done.output == f"incident {incident}: bob is now responder, assigned by alice\n"
    again = run(db, "assign", incident, "responder", "bob", who="alice", monkeypatch=monkeypatch)
    assert again.exit_code == 0 and "already: nothing recorded" in again.output
    handed = run(db, "assign", incident, "lead", "carol", who="alice", monkeypatch=monkeypatch)
    assert "Lead handed over: alice → carol" in handed.output
    shown = run(db, "roles", incident, who="bob", monkeypatch=monkeypatch)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == f"Incident {incident}: checkout 5xx"
    assert lines[1].split() == ["ROLE", "PERSON", "SINCE"]
    assert [line.split()[:2] for line in lines[2:4]] == [["lead", "carol"], ["responder", "bob"]]
    assert "Changes:" in lines
    assert any("alice opened the incident: lead" in line for line in lines)
    assert any("lead handed over by alice to carol" in line for line in lines)


def test_someone_not_the_lead_is_refused_with_exit_1_naming_the_lead(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = str(opened_by(db, "alice"))
    refused = run(db, "assign", incident, "lead", "bob", who="bob", monkeypatch=monkeypatch)
    assert refused.exit_code == 1
    assert "refused" in refused.output and "lead: alice" in refused.output
    shown = run(db, "roles", incident, who="bob", monkeypatch=monkeypatch)
    assert "Changes:" not in shown.output and "bob" not in shown.output


def test_a_wrong_role_or_incident_is_a_clear_error(
    sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = str(opened_by(sqlite_db, "alice"))
    wrong = run(sqlite_db, "assign", incident, "boss", "bob", who="alice", monkeypatch=monkeypatch)
    assert wrong.exit_code == 2
    assert "'boss' is not one of 'lead', 'responder', 'communications', 'observer'" in (
        wrong.output
    )
    missing = run(
        sqlite_db, "assign", "42", "observer", "bob", who="alice", monkeypatch=monkeypatch
    )
    assert missing.exit_code == 2 and "no incident 42" in missing.output
    bad = run(
        sqlite_db, "assign", incident, "observer", "b\x1b[2Jx", who="alice", monkeypatch=monkeypatch
    )
    assert bad.exit_code == 2 and "\x1b" not in bad.output and "printable" in bad.output


def test_a_name_with_markup_is_stored_and_printed_as_it_is(
    sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = str(opened_by(sqlite_db, "alice"))
    done = run(
        sqlite_db, "assign", incident, "observer", "[bold]x", who="alice", monkeypatch=monkeypatch
    )
    assert done.exit_code == 0
    shown = run(sqlite_db, "roles", incident, who="alice", monkeypatch=monkeypatch)
    assert "[bold]x" in shown.output
