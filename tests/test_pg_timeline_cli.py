"""The headless commands on a shared PostgreSQL timeline (`--db postgresql://…` or COCKPIT_DB)
say exactly what they say on a SQLite file holding the same events: `incident open/list/close`,
`timeline show/verify`, `export` (Markdown and JSON), `stats` and `backtest --incident`; only
the timeline's name differs (a path, or the URL without its password). The password, from the
URL, PGPASSWORD or COCKPIT_DB_PASSWORD_FILE, is never printed.

Against the test process's throwaway PostgreSQL (tests/postgres_server.py); skipped, with the
reason, where its server binaries are missing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import postgres_server
import pytest
from click.testing import CliRunner, Result

from cockpit.cli import cli
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.procedure_copy import read_copy
from cockpit.core.timeline import Timeline
from cockpit.core.timeline_open import open_timeline

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ACTOR = "alice via ssh 203.0.113.7"
START = datetime(2026, 1, 15, 3, 12, 0, tzinfo=UTC)


server = postgres_server.server


@pytest.fixture
def pg(server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database's URL, without the password (PGPASSWORD has it)."""
    monkeypatch.setenv("PGPASSWORD", server.password)
    with postgres_server.fresh_database(server, "tl_cli_") as made:
        yield made


def begin(store: Any, number: int, *args: Any, **options: Any) -> Any:
    """`begin_action` with the action id `number` (a fresh uuid4 would make each backend's
    chain, and so its head hash, differ)."""
    with mock.patch("uuid.uuid4", return_value=uuid.UUID(int=number)):
        return store.begin_action(*args, **options)


def seed(store: Any) -> None:
    """The same incident on either backend: a procedure copy, an acknowledgement, notes, an
    action that succeeded and one left without a result, samples, a closed drill."""
    clock: FixedClock = store._clock
    first = store.open_incident(
        "checkout 5xx", "P1", "pulse-messages", copy=read_copy("pulse-messages")
    ).id
    clock.advance(30)
    store.acknowledge(first)
    store.record(first, "note", "error rate 12 %", {"error_rate": 0.12})
    clock.advance(60)
    store.set_severity(first, "P0")
    intent = begin(
        store,
        1,
        first,
        "flags.rollback",
        "Turn checkout-v2 off",
        {"flag": "checkout-v2"},
        command="x off",
    )
    clock.advance(5)
    store.finish_action(first, intent.payload["action_id"], "succeeded", "checkout-v2 is off")
    begin(store, 2, first, "vercel.promote", "Promote dpl_41", command="vercel promote dpl_41")
    store.record_samples(
        first,
        [
            Sample("error_rate", 0.02 + 0.03 * i, START + timedelta(minutes=i), "prom")
            for i in range(8)
        ],
    )
    clock.advance(120)
    store.close_incident(first, "rolled back the flag")
    drill = store.open_incident("game day", "P3", None, drill=True).id
    store.record(drill, "note", "drill note")


@pytest.fixture
def both(pg: str, tmp_path: Path) -> tuple[str, str]:
    """The same events in a SQLite file and in the PostgreSQL database: (file, URL)."""
    path = tmp_path / "timeline.db"
    for target in (str(path), pg):
        with open_timeline(target, clock=FixedClock(START), actor=ACTOR) as store:
            seed(store)
    return str(path), pg


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def same(file: str, url: str, *args: str, code: int = 0) -> str:
    """Run `args` with --db FILE then --db URL: the same exit code and output (the names of
    the timelines aside); returns the output."""
    on_file, on_url = run("--db", file, *args), run("--db", url, *args)
    assert on_file.exit_code == code, on_file.output
    assert on_url.exit_code == code, on_url.output
    # The URL as given, or as messages name a server (user@host:port/database).
    named = on_url.output.replace(url, "<db>").replace(url.removeprefix("postgresql://"), "<db>")
    assert named == on_file.output.replace(file, "<db>")
    return on_url.output


def test_reading_commands_say_the_same_on_both_backends(both: tuple[str, str]) -> None:
    file, url = both
    listed = same(file, url, "incident", "list")
    assert "1   closed        P0" in listed and "open (drill)" in listed
    verified = same(file, url, "timeline", "verify")
    assert verified.startswith("ok: 11 events verified, head ")
    shown = same(file, url, "timeline", "show", "1")
    assert "OUTCOME UNKNOWN: Promote dpl_41" in shown
    same(file, url, "timeline", "show", "1", "--json")
    report = same(file, url, "export", "1")
    assert f"cockpit timeline verify --db {url}" in report
    assert "## Timeline" in report
    same(file, url, "export", "1", "--format", "json")
    same(file, url, "stats")
    same(file, url, "stats", "--format", "json")
    same(file, url, "stats", "--drills")
    replay = same(file, url, "backtest", "--procedure", "pulse-messages", "--incident", "1")
    assert replay.strip()
    same(file, url, "export", "42", code=2)
    missing = same(
        file, url, "backtest", "--procedure", "pulse-messages", "--incident", "2", code=2
    )
    assert "incident 2 has no recorded samples" in missing


def _timeless(text: str) -> str:
    """The output with every time of today (not the seeded ones) masked."""
    return re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z", _mask, text)


def _mask(match: re.Match[str]) -> str:
    return match.group(0) if match.group(0).startswith("2026-01-15") else "<now>"


def test_writing_commands_do_the_same_on_both_backends(both: tuple[str, str]) -> None:
    file, url = both
    for db in (file, url):
        opened = run("--db", db, "incident", "open", "--title", "db latency", "--severity", "P2")
        assert (opened.exit_code, opened.output) == (0, "3\n"), opened.output
        closed = run("incident", "close", "3", "--resolution", "failed over", "--db", db)
        assert closed.exit_code == 0, closed.output
        assert closed.output.startswith("closed incident 3 at ")
        again = run("incident", "close", "3", "--db", db)
        assert again.exit_code == 2 and "incident 3 is already closed" in again.output
    on_file = _timeless(run("--db", file, "incident", "list").output)
    assert _timeless(run("--db", url, "incident", "list").output) == on_file
    assert "3   closed" in on_file
    events = [
        _timeless(run("--db", db, "timeline", "show", "3").output).replace(db, "<db>")
        for db in (file, url)
    ]
    assert events[0] == events[1]
    with Timeline(Path(file), create=False) as sqlite, open_timeline(url, create=False) as shared:
        for store in (sqlite, shared):
            kinds = [event.kind for event in store.events(3)]
            assert kinds == ["incident.opened", "incident.closed"]
        assert [e.payload for e in sqlite.events(3)] == [e.payload for e in shared.events(3)]
        assert sqlite.verify().count == shared.verify().count == 13


def test_the_password_is_taken_from_the_url_a_file_or_pgpassword_and_never_printed(
    pg: str, server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = server.password
    with open_timeline(pg, clock=FixedClock(START), actor=ACTOR) as store:
        seed(store)
    monkeypatch.delenv("PGPASSWORD")
    with_password = pg.replace("cockpit@", f"cockpit:{secret}@", 1)
    password_file = tmp_path / "pw"
    password_file.write_text(secret + "\n")
    for db, env in (
        (with_password, {}),
        (pg, {"PGPASSWORD": secret}),
        (pg, {"COCKPIT_DB_PASSWORD_FILE": str(password_file), "PGPASSWORD": "wrong"}),
    ):
        for args in (("timeline", "verify"), ("export", "1"), ("incident", "list")):
            done = run("--db", db, *args, env=env)
            assert done.exit_code == 0, done.output
            assert secret not in done.output
        footer = run("export", "1", "--db", db, env=env).output
        assert f"cockpit timeline verify --db {pg}" in footer  # the URL without the password
    refused = run("--db", pg, "incident", "list", env={"PGPASSWORD": "wrong-pw"})
    assert refused.exit_code == 2
    assert "cannot connect to the timeline at cockpit@127.0.0.1" in refused.output
    assert "wrong-pw" not in refused.output and secret not in refused.output
    # The cockpit itself opens the team timeline too (every incident there is closed: it asks
    # for a procedure to open one), never showing the password.
    tui = run("--db", with_password)
    assert tui.exit_code == 2 and "no procedure" in tui.output and secret not in tui.output
