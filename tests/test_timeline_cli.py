"""`cockpit incident` and `cockpit timeline`: output, exit codes, no Textual on the path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from cockpit.commands.timeline import incident, timeline
from cockpit.core.clock import FixedClock
from cockpit.core.timeline import Timeline

ROOT = Path(__file__).resolve().parent.parent
SQLITE3 = "/usr/bin/sqlite3"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "timeline.db"


def run(group: click.Group, *args: str) -> Result:
    return CliRunner().invoke(group, list(args), catch_exceptions=False)


def _seed(db: Path) -> int:
    """One incident with a note, a finished action and an action whose outcome is unknown."""
    clock = FixedClock()
    with Timeline(db, clock=clock, actor="alice via ssh 203.0.113.7") as tl:
        opened = tl.open_incident("Checkout 5xx after deploy", "P1", "feature-flag")
        clock.advance(30)
        tl.record(opened.id, "note", "errors started at 03:10")
        clock.advance(30)
        done = tl.begin_action(
            opened.id, "flags.off", "Turn off checkout-v2", command="cockpit flags off checkout-v2"
        )
        tl.finish_action(opened.id, done.payload["action_id"], "succeeded", "flag is off")
        clock.advance(30)
        tl.begin_action(
            opened.id, "vercel.promote", "Promote dpl_41", command="vercel promote dpl_41"
        )
        return opened.id


def test_incident_open_list_close(db: Path) -> None:
    opened = run(incident, "open", "--title", "Checkout 5xx", "--db", str(db))
    assert opened.exit_code == 0
    assert opened.stdout.strip() == "1"
    drill = run(
        incident,
        "open",
        "--title",
        "Game day",
        "--severity",
        "P3",
        "--procedure",
        "pulse-messages",
        "--drill",
        "--db",
        str(db),
    )
    assert drill.stdout.strip() == "2"

    listed = run(incident, "list", "--db", str(db))
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "SEVERITY", "OPENED", "PROCEDURE", "TITLE"]
    assert lines[1].split()[:3] == ["2", "open", "(drill)"]
    assert "pulse-messages" in lines[1] and lines[1].endswith("Game day")
    assert lines[2].split()[:3] == ["1", "open", "P1"]
    assert lines[2].endswith("Checkout 5xx")

    closed = run(incident, "close", "1", "--resolution", "rolled back", "--db", str(db))
    assert closed.exit_code == 0
    assert "closed incident 1" in closed.stdout
    only_open = run(incident, "list", "--open", "--db", str(db))
    assert [line.split()[0] for line in only_open.stdout.splitlines()[1:]] == ["2"]

    again = run(incident, "close", "1", "--db", str(db))
    assert again.exit_code == 2
    assert again.stderr.strip() == "cockpit: incident 1 is already closed"
    unknown = run(incident, "close", "9", "--db", str(db))
    assert unknown.exit_code == 2
    assert "no incident 9" in unknown.stderr


def test_incident_list_empty(db: Path) -> None:
    assert run(incident, "list", "--db", str(db)).stdout.strip() == "no incidents"


def test_db_from_the_root_context(db: Path) -> None:
    """Without its own --db a subcommand uses the root group's (cockpit --db F incident ...)."""

    @click.group()
    @click.option("--db")
    @click.pass_context
    def root(ctx: click.Context, db: str | None) -> None:
        ctx.ensure_object(dict)
        ctx.obj["db"] = db

    root.add_command(incident)
    result = CliRunner().invoke(root, ["--db", str(db), "incident", "open", "--title", "x"])
    assert result.exit_code == 0, result.output
    assert db.exists()


def test_timeline_show_text(db: Path) -> None:
    incident_id = _seed(db)
    shown = run(timeline, "show", str(incident_id), "--db", str(db))
    assert shown.exit_code == 0
    out = shown.stdout
    assert out.splitlines()[0] == "Incident 1: Checkout 5xx after deploy [P1, open]"
    assert "2026-01-15T03:12:30.000Z  note" in out
    assert "alice via ssh 203.0.113.7" in out
    assert "$ cockpit flags off checkout-v2" in out
    assert "[succeeded] flag is off" in out
    unknown = [line for line in out.splitlines() if "OUTCOME UNKNOWN" in line]
    assert len(unknown) == 1 and "Promote dpl_41" in unknown[0]
    assert "$ vercel promote dpl_41" in out


def test_timeline_show_json(db: Path) -> None:
    incident_id = _seed(db)
    shown = run(timeline, "show", str(incident_id), "--json", "--db", str(db))
    document = json.loads(shown.stdout)
    assert document["incident"]["title"] == "Checkout 5xx after deploy"
    kinds = [event["kind"] for event in document["events"]]
    assert kinds == ["incident.opened", "note", "action.intent", "action.result", "action.intent"]
    assert [event["outcome_unknown"] for event in document["events"]] == [
        False,
        False,
        False,
        False,
        True,
    ]
    assert document["events"][2]["command"] == "cockpit flags off checkout-v2"


def test_timeline_show_unknown_incident(db: Path) -> None:
    _seed(db)
    shown = run(timeline, "show", "7", "--db", str(db))
    assert shown.exit_code == 2
    assert "no incident 7" in shown.stderr


def test_verify_ok_then_tampered(db: Path) -> None:
    _seed(db)
    ok = run(timeline, "verify", "--db", str(db))
    assert ok.exit_code == 0
    with Timeline(db) as tl:
        head = tl.head()[1]
    assert ok.stdout.strip() == f"ok: 5 events verified, head {head}"

    if not Path(SQLITE3).exists():
        pytest.skip("the sqlite3 shell is not installed")
    subprocess.run(
        [SQLITE3, str(db), "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = 3;"],
        check=True,
        timeout=30,
    )
    bad = run(timeline, "verify", "--db", str(db))
    assert bad.exit_code == 1
    assert bad.stdout == ""
    assert bad.stderr.startswith("TAMPERED: event 3: missing")


def test_verify_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    missing = run(timeline, "verify", "--db", str(tmp_path / "absent.db"))
    assert missing.exit_code == 2
    assert "no timeline database" in missing.stderr
    assert not (tmp_path / "absent.db").exists()

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"definitely not sqlite " * 100)
    bad = run(timeline, "verify", "--db", str(junk))
    assert bad.exit_code == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert str(junk) in bad.stderr
    assert "Traceback" not in bad.output


VERIFY_IN_A_FRESH_PROCESS = """
import atexit, sys
heavy = ("textual", "rich", "sqlite_utils")
atexit.register(lambda: print("LOADED", [m for m in heavy if m in sys.modules], file=sys.stderr))
from cockpit.commands.timeline import timeline
timeline(["verify", "--db", sys.argv[1]], prog_name="cockpit timeline")
"""


def _fresh(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_verify_subprocess_exit_codes_and_lean_imports(db: Path, tmp_path: Path) -> None:
    _seed(db)
    ok = _fresh(VERIFY_IN_A_FRESH_PROCESS, str(db))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: 5 events verified, head ")
    # Neither the TUI nor sqlite-utils (0.2 s of imports) is loaded to verify an existing file.
    assert "LOADED []" in ok.stderr

    subprocess.run(
        [SQLITE3, str(db), "DROP TRIGGER events_no_update; UPDATE events SET actor='x' WHERE id=2"],
        check=True,
        timeout=30,
    )
    tampered = _fresh(VERIFY_IN_A_FRESH_PROCESS, str(db))
    assert tampered.returncode == 1
    assert "TAMPERED: event 2: hash mismatch" in tampered.stderr
    assert "Traceback" not in tampered.stderr

    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n" * 50)
    broken = _fresh(VERIFY_IN_A_FRESH_PROCESS, str(junk))
    assert broken.returncode == 2
    assert "Traceback" not in broken.stderr


def test_cockpit_entry_point_verify(db: Path) -> None:
    """The real console entry (`python -m cockpit timeline verify`) once the whole CLI imports."""
    _seed(db)
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "timeline", "verify", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if "ModuleNotFoundError" in result.stderr:
        pytest.skip(f"cockpit.cli does not import yet: {result.stderr.strip().splitlines()[-1]}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: 5 events verified")


def test_the_bare_cockpit_without_a_procedure_refuses_with_exit_2(tmp_path: Path) -> None:
    """Exit 1 means a tampered timeline; every other refusal is one line and exit 2."""
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "--db", str(tmp_path / "t.db")],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("cockpit: no procedure") and len(done.stderr.splitlines()) == 1
