"""An incident keeps the exact text of its procedure: export, post-mortem and resume read that
copy, not the file as edited since, and say so when the file on disk differs.

Real SQLite files, the real CLI (CliRunner), and the cockpit a resume builds, run under Pilot.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.app import CockpitApp
from cockpit.cli import cli
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.procedure_copy import (
    BUILTIN,
    RECORDED,
    ProcedureCopy,
    note,
    read_copy,
    recorded_copy,
    sha256_of,
)
from cockpit.core.procedure_file import read_builtin
from cockpit.core.timeline import Timeline
from cockpit.messages import MetricsSampled
from cockpit.session import Session
from tests.pilot_wait import until

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "tests" / "procedures" / "minimal.yaml"
OLD_THRESHOLD = "    threshold: 5\n    mode: consecutive"
NEW_THRESHOLD = "    threshold: 50\n    mode: consecutive"


@pytest.fixture
def procedure_file(tmp_path: Path) -> Path:
    """The minimal procedure in a file of the test's own, with a comment and CRLF endings
    (a re-serialised copy would lose both)."""
    path = tmp_path / "ours.yaml"
    text = "# our runbook, kept as written  \n" + MINIMAL.read_text(encoding="utf-8")
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    return path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    assert old in text
    path.write_bytes(text.replace(old, new).replace("\n", "\r\n").encode("utf-8"))


def cli_ok(*argv: str) -> tuple[str, str]:
    result = CliRunner().invoke(cli, list(argv))
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def open_with_cli(db: Path, procedure: str) -> int:
    argv = ("incident", "open", "--title", "Checkout errors", "--procedure", procedure)
    out, _ = cli_ok(*argv, "--db", str(db))
    return int(out)


# --- the copy itself --------------------------------------------------------------------------


def test_incident_open_records_the_exact_bytes_their_hash_and_where_they_came_from(
    tmp_path: Path, procedure_file: Path
) -> None:
    db = tmp_path / "t.db"
    incident = open_with_cli(db, str(procedure_file))
    with Timeline(db) as timeline:
        events = timeline.events(incident)
        assert [e.kind for e in events] == ["incident.opened", RECORDED]
        copy = recorded_copy(timeline, incident)
    raw = procedure_file.read_bytes()
    assert copy is not None
    assert copy.text.encode("utf-8") == raw  # CRLF, the comment, its trailing spaces
    assert copy.sha256 == hashlib.sha256(raw).hexdigest()
    assert copy.source == str(procedure_file) and copy.name == str(procedure_file)
    # The timeline's line is short: the text stays in the payload.
    assert events[1].summary == f"Procedure {procedure_file} recorded (sha256 {copy.sha256[:8]}…)"


def test_a_builtin_copy_names_its_source_and_only_the_timeline_writes_it(
    timeline: Timeline,
) -> None:
    copy = read_copy("pulse-messages")
    assert copy.source == BUILTIN and copy.text == read_builtin("pulse-messages")
    assert copy.shown == "checklists/pulse-messages.yaml"
    incident = timeline.open_incident("t", "P1", "pulse-messages", copy=copy).id
    with pytest.raises(ValueError, match="Timeline's own methods"):
        timeline.record(incident, RECORDED, "a second copy", copy.payload())
    with pytest.raises(ValueError, match="reserved"):
        timeline.append_bulk([(incident, RECORDED, "a second copy", copy.payload())])
    # Recording again (a second resuming cockpit) keeps the first copy.
    other = ProcedureCopy("pulse-messages", BUILTIN, "name: other\n", sha256_of("name: other\n"))
    kept = timeline.record_procedure(incident, other)
    assert kept.payload["sha256"] == copy.sha256
    assert [e.kind for e in timeline.events(incident)].count(RECORDED) == 1
    assert note(copy) is None  # the installed built-in is the copy


def test_a_secret_in_the_file_is_redacted_from_the_copy_which_still_matches_the_file(
    tmp_path: Path, procedure_file: Path
) -> None:
    token = "Bearer abcdefghijklmnopqrstuvwxyz0123456789"
    text = procedure_file.read_text(encoding="utf-8") + f"# curl -H 'Authorization: {token}'\n"
    procedure_file.write_text(text, encoding="utf-8")
    db = tmp_path / "t.db"
    incident = open_with_cli(db, str(procedure_file))
    with Timeline(db) as timeline:
        copy = recorded_copy(timeline, incident)
    assert copy is not None and token not in copy.text and "[redacted]" in copy.text
    assert copy.sha256 == hashlib.sha256(procedure_file.read_bytes()).hexdigest()
    assert note(copy) is None  # the file has not changed
    stdout, stderr = cli_ok("export", str(incident), "--db", str(db))
    assert "Note:" not in stdout and stderr == ""


# --- export -----------------------------------------------------------------------------------


def test_the_export_is_the_same_bytes_after_the_file_is_edited_plus_one_note(
    tmp_path: Path, procedure_file: Path
) -> None:
    db = tmp_path / "t.db"
    incident = open_with_cli(db, str(procedure_file))
    cli_ok("incident", "close", str(incident), "--resolution", "rolled back", "--db", str(db))
    argv = ("export", str(incident), "--db", str(db))
    before_md, quiet = cli_ok(*argv)
    before_json, _ = cli_ok(*argv, "--format", "json")
    assert quiet == "" and "Note:" not in before_md and "procedure_note" not in before_json
    assert "Minimal procedure" in before_md

    edit(procedure_file, OLD_THRESHOLD, NEW_THRESHOLD)
    edit(procedure_file, "title: Minimal procedure", "title: Minimal procedure, revised")
    after_md, warned = cli_ok(*argv)
    after_json, _ = cli_ok(*argv, "--format", "json")

    notes = [line for line in after_md.splitlines() if line.startswith("> Note:")]
    assert len(notes) == 1
    line = notes[0]
    assert str(procedure_file) in line and "has changed since the incident recorded" in line
    assert after_md.index(line) < after_md.index("## Summary")  # near the top
    assert after_md.replace(line + "\n\n", "", 1) == before_md  # byte for byte otherwise
    assert "revised" not in after_md
    assert "has changed since" in warned and str(procedure_file) in warned
    document = json.loads(after_json)
    assert "has changed since" in document.pop("procedure_note")
    assert document == json.loads(before_json)

    procedure_file.unlink()  # gone: still the recorded copy, and said
    gone_md, gone_warned = cli_ok(*argv)
    assert "cannot be read now" in gone_md and "cannot be read now" in gone_warned
    assert "Minimal procedure" in gone_md and "Quick checklist" in gone_md


def test_an_incident_on_a_builtin_exports_its_copy_when_the_builtin_changed(
    tmp_path: Path,
) -> None:
    """As after an upgrade that edited the built-in: the incident's copy is the older text."""
    text = read_builtin("pulse-messages").replace(
        "title: Pulse Messages rollback procedures", "title: Pulse Messages procedures (2025)"
    )
    old = ProcedureCopy("pulse-messages", BUILTIN, text, sha256_of(text))
    db = tmp_path / "t.db"
    with Timeline(db) as timeline:
        timeline.open_incident("Checkout errors", "P1", "pulse-messages", copy=old)
    stdout, stderr = cli_ok("export", "1", "--db", str(db))
    assert "pulse-messages (Pulse Messages procedures (2025))" in stdout
    assert "> Note: procedure pulse-messages (checklists/pulse-messages.yaml) has changed" in stdout
    assert f"sha256 {old.sha256[:8]}… then" in stdout and "has changed" in stderr


def test_a_copy_that_no_longer_validates_falls_back_to_the_file_and_says_so(
    tmp_path: Path, procedure_file: Path
) -> None:
    """The copy names a provider that is not installed (any more): the file is used."""
    text = procedure_file.read_text(encoding="utf-8").replace(
        "provider: git", "provider: retired_git"
    )
    stale = ProcedureCopy(str(procedure_file), str(procedure_file), text, sha256_of(text))
    db = tmp_path / "t.db"
    with Timeline(db) as timeline:
        timeline.open_incident("Checkout errors", "P1", str(procedure_file), copy=stale)
    stdout, stderr = cli_ok("export", "1", "--db", str(db))
    [line] = [line for line in stdout.splitlines() if line.startswith("> Note:")]
    assert "no longer validates" in line and "retired_git" in line
    assert "the file on disk is used instead" in line
    assert "Quick checklist" in stdout  # the procedure is there: the file's
    assert "no longer validates" in stderr

    procedure_file.unlink()  # neither: exported without, with a warning, never a crash
    stdout, stderr = cli_ok("export", "1", "--db", str(db))
    assert "not loaded" in stderr and "no longer validates" in stderr
    assert "No procedure was available, so no checklists." in stdout
    assert "> Note:" in stdout and "cannot be read now" in stdout


# --- resume -----------------------------------------------------------------------------------


def resume(monkeypatch: pytest.MonkeyPatch, *argv: str) -> Session:
    """`cockpit ARGV` up to the App it would run: the Session it builds."""
    import cockpit.commands.run as run

    launched: list[Session] = []

    def launch(session: Session, *, postmortem: bool = False) -> int:
        launched.append(session)
        return 0

    monkeypatch.setattr(run, "launch", launch)
    result = CliRunner().invoke(cli, list(argv))
    assert result.exit_code == 0, result.output
    [session] = launched
    return session


async def breach(app: CockpitApp, clock: FixedClock, value: float, times: int = 6) -> None:
    for _ in range(times):
        clock.advance(60)
        app.post_message(MetricsSampled("s", [Sample("error_rate", value, clock.now(), "s")]))


def warnings(app: CockpitApp) -> str:
    return " ".join(str(n.message) for n in app._notifications if n.severity == "warning")


async def test_resuming_runs_the_recorded_threshold_and_says_the_file_changed(
    tmp_path: Path, procedure_file: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "t.db"
    incident = open_with_cli(db, str(procedure_file))
    edit(procedure_file, OLD_THRESHOLD, NEW_THRESHOLD)  # 10 % would no longer breach

    session = resume(monkeypatch, "--db", str(db), "--incident", str(incident))
    assert session.procedure is not None
    assert session.procedure.triggers[0].threshold == 5
    assert not session.record_copy  # it has its copy
    session.clock = clock
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "has changed since" in warnings(app), "the notification")
        assert str(procedure_file) in warnings(app)
        await breach(app, clock, 10.0)
        await until(pilot, lambda: app.board is not None and app.board.firing(), "firing")
        await pilot.press("q")
    session.timeline.close()
    with Timeline(db) as timeline:
        kinds = [e.kind for e in timeline.events(incident)]
    assert kinds.count(RECORDED) == 1 and "trigger.fired" in kinds


async def test_resuming_a_builtin_runs_its_copy_after_the_first_paint_and_says_so(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed built-in has a threshold of 5; the incident's copy said 50."""
    text = read_builtin("pulse-messages").replace(
        "    threshold: 5\n    mode: consecutive", "    threshold: 50\n    mode: consecutive", 1
    )
    db = tmp_path / "t.db"
    with Timeline(db) as timeline:
        copy = ProcedureCopy("pulse-messages", BUILTIN, text, sha256_of(text))
        timeline.open_incident("Checkout errors", "P1", "pulse-messages", copy=copy)
    session = resume(monkeypatch, "--db", str(db), "--incident", "1")
    assert session.procedure is None and session.outline is not None  # validated after paint
    assert session.procedure_copy == copy
    session.clock = clock
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.board is not None, "the procedure")
        assert session.procedure is not None
        assert session.procedure.triggers[0].threshold == 50
        changed = "(checklists/pulse-messages.yaml) has changed"
        await until(pilot, lambda: changed in warnings(app), "the notification")
        await breach(app, clock, 10.0)
        await pilot.pause(0.2)
        assert app.board is not None and not app.board.firing()  # 10 % is under the copy's 50
        await pilot.press("q")
    session.timeline.close()


async def test_an_old_incident_gets_its_copy_at_resume_and_keeps_it(
    tmp_path: Path, procedure_file: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "t.db"
    with Timeline(db) as timeline:  # as before copies existed: the name only
        incident = timeline.open_incident("Checkout errors", "P1", str(procedure_file)).id
        assert recorded_copy(timeline, incident) is None

    watcher = resume(monkeypatch, "--db", str(db), "--incident", str(incident), "--watch")
    assert not watcher.record_copy  # a watcher writes nothing
    watcher.timeline.close()

    session = resume(monkeypatch, "--db", str(db), "--incident", str(incident))
    assert session.record_copy
    session.clock = clock
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: RECORDED in [e.kind for e in app.events], "the copy recorded")
        await pilot.press("q")
    session.timeline.close()
    with Timeline(db) as timeline:
        [event] = timeline.events(incident, kinds=[RECORDED])
        assert "recorded at resume" in event.summary and "opened without a copy" in event.summary
        copy = recorded_copy(timeline, incident)
    assert copy is not None and copy.text.encode("utf-8") == procedure_file.read_bytes()

    edit(procedure_file, OLD_THRESHOLD, NEW_THRESHOLD)  # stable from then on
    again = resume(monkeypatch, "--db", str(db), "--incident", str(incident))
    assert not again.record_copy and again.procedure_copy == copy
    assert again.procedure is not None and again.procedure.triggers[0].threshold == 5
    again.timeline.close()


async def test_resuming_a_copy_that_no_longer_validates_falls_back_with_a_message(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A built-in's copy names a provider since removed: the installed built-in is used."""
    text = read_builtin("pulse-messages").replace("provider: vercel", "provider: zeit", 1)
    db = tmp_path / "t.db"
    with Timeline(db) as timeline:
        copy = ProcedureCopy("pulse-messages", BUILTIN, text, sha256_of(text))
        timeline.open_incident("Checkout errors", "P1", "pulse-messages", copy=copy)
    session = resume(monkeypatch, "--db", str(db), "--incident", "1")
    session.clock = clock
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "no longer validates" in warnings(app), "the fallback")
        assert "zeit" in warnings(app) and "the file on disk is used instead" in warnings(app)
        assert app.board is not None and session.procedure is not None
        assert session.procedure_fallback is not None
        assert all(option.provider != "zeit" for option in session.procedure.options)
        await pilot.press("q")
    session.timeline.close()
    with Timeline(db) as timeline:  # the incident keeps its copy
        assert recorded_copy(timeline, 1) == copy


async def test_postmortem_writes_against_the_recorded_copy_and_warns(
    tmp_path: Path, procedure_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cockpit.commands.run as run
    from cockpit.postmortem_app import PostmortemApp
    from cockpit.screens.postmortem import PostmortemScreen

    db = tmp_path / "t.db"
    incident = open_with_cli(db, str(procedure_file))
    cli_ok("incident", "close", str(incident), "--db", str(db))
    edit(procedure_file, "title: Minimal procedure", "title: Minimal procedure, revised")
    launched: list[Session] = []

    def launch(session: Session, *, postmortem: bool = False) -> int:
        launched.append(session)
        return 0

    monkeypatch.setattr(run, "launch", launch)
    result = CliRunner().invoke(cli, ["postmortem", str(incident), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "has changed since the incident recorded its copy" in result.stderr
    [session] = launched
    assert session.procedure is not None and session.procedure.title == "Minimal procedure"
    app = PostmortemApp(session, start_pollers=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: "has changed since" in warnings(app), "the notification")
        screen = app.screen
        assert isinstance(screen, PostmortemScreen)
        await until(pilot, lambda: screen.preview.startswith("# "), "the preview")
        exported, _ = cli_ok("export", str(incident), "--db", str(db))
        assert screen.preview == exported  # `cockpit export`'s bytes, its note included
        assert "> Note: procedure" in screen.preview
        await pilot.press("escape")
    session.timeline.close()
