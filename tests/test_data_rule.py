"""One rule for where incidents live and how each command finds them (issue 16, finding 1).

Drills and real incidents share one timeline (timeline.db in the data directory, or --db), so
`cockpit timeline verify`, `stats`, `incident list` and the export's footer all speak of the
incident the demo wrote. `cockpit demo` resumes the open drill rather than piling up new ones
(--new opens another); `cockpit` with nothing configured resumes it as a drill, with its
simulated production; a real incident is never fed by a simulated one, and a real open
incident is what `cockpit` resumes whenever there is one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.commands import demo as demo_command
from cockpit.commands.demo import open_drill, rehearse, resume_note, rolled_back
from cockpit.commands.run import drill_to_resume
from cockpit.core.errors import IncidentError
from cockpit.core.timeline import Timeline


def test_cockpit_resumes_a_drill_only_when_nothing_real_is_open_or_configured(
    tmp_path: Path,
) -> None:
    with Timeline(tmp_path / "t.db") as timeline:
        assert drill_to_resume(timeline, None, None) is None, "nothing open: nothing to resume"
        drill = timeline.open_incident("demo", "P1", "pulse-messages", drill=True)
        assert drill_to_resume(timeline, None, None) == drill.id
        assert drill_to_resume(timeline, None, "huntaze") is None, "a procedure is configured"
        real = timeline.open_incident("real", "P1", "huntaze")
        assert drill_to_resume(timeline, None, None) is None, "the real incident comes first"
        assert drill_to_resume(timeline, drill.id, None) == drill.id, "named: resumed as a drill"
        assert drill_to_resume(timeline, real.id, None) is None
        assert timeline.latest_open(drill=False) == timeline.incident(real.id)
        assert timeline.latest_open(drill=True) == timeline.incident(drill.id)


def test_the_open_drill_is_found_per_procedure_and_its_rollback_is_known(
    tmp_path: Path,
) -> None:
    with Timeline(tmp_path / "t.db") as timeline:
        first = timeline.open_incident("demo", "P1", "pulse-messages", drill=True)
        other = timeline.open_incident("drill", "P1", "ai-saas", drill=True)
        timeline.open_incident("real", "P1", "pulse-messages")
        assert open_drill(timeline, None) == timeline.incident(other.id), "the latest drill"
        assert open_drill(timeline, "pulse-messages") == timeline.incident(first.id)
        assert open_drill(timeline, "huntaze") is None
        assert not rolled_back(timeline, first.id)
        check = timeline.begin_action(
            first.id, "verification.health_check", "check", {"checklist": True}, command=None
        )
        timeline.finish_action(
            first.id, check.payload["action_id"], "succeeded", "ok", {"checklist": True}
        )
        assert not rolled_back(timeline, first.id), "a checklist's check is not a rollback"
        action = timeline.begin_action(
            first.id, "vercel.instant_rollback", "roll back", {"option": "blue-green"}, command=None
        )
        timeline.finish_action(
            first.id, action.payload["action_id"], "succeeded", "verified", {"verified": True}
        )
        assert rolled_back(timeline, first.id)
        note = resume_note(timeline.incident(first.id), True)
        assert f"Drill incident {first.id} (pulse-messages" in note
        assert "`cockpit demo --new`" in note and "production stays on the good version" in note


def test_a_simulated_production_never_feeds_a_real_incident(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with Timeline(db) as timeline:
        real = timeline.open_incident("real", "P1", "pulse-messages")
    with pytest.raises(IncidentError, match="a real incident, not a drill"):
        rehearse(db, incident_id=real.id)


def test_demo_and_every_other_command_share_one_timeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cockpit demo` with no --db writes where `cockpit incident list` reads; a second
    `cockpit demo` resumes the open drill, `--new` opens another."""
    monkeypatch.setenv("COCKPIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COCKPIT_DB", raising=False)
    ran: list[tuple[Path, int]] = []

    def launch(session):  # type: ignore[no-untyped-def]
        ran.append((session.timeline.path, session.incident.id))
        return 0

    monkeypatch.setattr("cockpit.commands.run.launch", launch)
    runner = CliRunner()
    for args in (["demo"], ["demo"], ["drill", "--new"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    timeline_db = tmp_path / "data" / "timeline.db"
    assert ran == [(timeline_db, 1), (timeline_db, 1), (timeline_db, 2)]
    listed = runner.invoke(cli, ["incident", "list"])
    assert listed.exit_code == 0 and "open (drill)" in listed.output, listed.output
    assert demo_command.DEMO_PROCEDURE in listed.output


def test_cockpit_paths_names_where_everything_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COCKPIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COCKPIT_DB", raising=False)
    shown = CliRunner().invoke(cli, ["paths"])
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert f"timeline:       {tmp_path / 'data' / 'timeline.db'} (not created yet)" in lines
    assert f"exports:        {tmp_path / 'data' / 'exports'} (not created yet)" in lines
    chosen = CliRunner().invoke(cli, ["--db", str(tmp_path / "other.db"), "paths"])
    assert f"exports:        {tmp_path / 'exports'} (not created yet)" in chosen.output


def test_the_exports_footer_names_the_command_that_checks_that_timeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COCKPIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COCKPIT_DB", raising=False)
    other = tmp_path / "elsewhere" / "team timeline.db"
    other.parent.mkdir()
    with Timeline(other) as timeline:
        timeline.open_incident("errors", "P1", "pulse-messages")
    runner = CliRunner()
    exported = runner.invoke(cli, ["--db", str(other), "export", "1"])
    assert exported.exit_code == 0, exported.output
    command = f"cockpit timeline verify --db '{other}'"
    assert f"Check it with `{command}`" in exported.output
    checked = runner.invoke(cli, ["timeline", "verify", "--db", str(other)])
    assert (
        checked.exit_code == 0 and "1 events verified" in checked.output
    ) or "verified" in checked.output
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)  # the procedure cache may have made it
    with Timeline(data / "timeline.db") as timeline:
        timeline.open_incident("errors", "P1", "pulse-messages")
    default = runner.invoke(cli, ["export", "1"])
    assert "Check it with `cockpit timeline verify`:" in default.output
