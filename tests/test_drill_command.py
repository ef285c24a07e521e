"""`cockpit drill` (issue 19, item 3): it runs a new drill and scores it when the cockpit exits;
`--score ID` scores one already run and ticks the practice-drill item it did; the cockpit counts
a drill's keys and records them as its session ends (Pilot)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.app import CockpitApp
from cockpit.cli import cli
from cockpit.core.clock import FixedClock
from cockpit.core.procedure import Procedure
from cockpit.core.timeline import Timeline
from cockpit.session import Session


def drill_with_rollback(db: Path, clock: FixedClock, procedure: str, outcome: str) -> int:
    """A drill whose trigger fired and whose rollback ended with `outcome` (verified if it
    succeeded)."""
    with Timeline(db, clock=clock) as timeline:
        incident = timeline.open_incident("Drill", "P1", procedure, drill=True).id
        clock.advance(60)
        timeline.record(incident, "trigger.fired", "Error rate > 5%", {"rule": "error-rate"})
        clock.advance(60)
        timeline.record(incident, "wizard.decided", "Decided", {"options": ["x"]})
        intent = timeline.begin_action(incident, "flags.disable", "Switch off", {}, command="x")
        clock.advance(120)
        verified = {"verified": outcome == "succeeded"}
        timeline.finish_action(
            incident, str(intent.payload["action_id"]), outcome, "done", verified
        )  # type: ignore[arg-type]
        return incident


def ticks(db: Path, incident: int) -> list[tuple[str, str]]:
    with Timeline(db) as timeline:
        return [
            (str(e.payload["list"]), str(e.payload["item"]))
            for e in timeline.events(incident, kinds=["checklist.auto_ticked"])
        ]


def test_scoring_a_drill_ticks_its_practice_item_once(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "drills.db"
    incident = drill_with_rollback(db, clock, "pulse-messages", "succeeded")
    runner = CliRunner()
    scored = runner.invoke(cli, ["--db", str(db), "drill", "--score", str(incident)])
    assert scored.exit_code == 0, scored.output
    assert f"Drill {incident} (pulse-messages" in scored.output and "/100" in scored.output
    assert "phases" in scored.output and "keystrokes" in scored.output
    assert "Execute rollback procedure" in scored.output
    assert "still open" in scored.output
    assert ticks(db, incident) == [("drill", "execute")]
    again = runner.invoke(
        cli, ["--db", str(db), "drill", "--score", str(incident), "--format", "json"]
    )
    document = json.loads(again.output)
    assert document["ticked"] == [] and document["reached"] == "full"
    assert {part["key"] for part in document["parts"]} == {
        "phases",
        "checklists",
        "wrong_turns",
        "updates",
        "keys",
    }
    assert ticks(db, incident) == [("drill", "execute")], "ticked once"


@pytest.mark.parametrize(
    ("procedure", "outcome", "ticked"),
    [
        ("five-levels", "succeeded", [("drill", "full-sim")]),  # drill: full, verified
        ("five-levels", "failed", []),
        ("huntaze", "succeeded", [("drill", "execute")]),  # drill: rollback
        ("pitchey", "succeeded", []),  # no practice-drill list
    ],
)
def test_the_practice_item_matches_how_far_the_drill_went(
    tmp_path: Path, clock: FixedClock, procedure: str, outcome: str, ticked: list[tuple[str, str]]
) -> None:
    db = tmp_path / "drills.db"
    incident = drill_with_rollback(db, clock, procedure, outcome)
    result = CliRunner().invoke(cli, ["--db", str(db), "drill", "--score", str(incident)])
    assert result.exit_code == 0, result.output
    assert ticks(db, incident) == ticked


def test_only_a_drill_is_scored(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "t.db"
    with Timeline(db, clock=clock) as timeline:
        real = timeline.open_incident("Real", "P1", "pulse-messages").id
    runner = CliRunner()
    refused = runner.invoke(cli, ["--db", str(db), "drill", "--score", str(real)])
    assert refused.exit_code == 2 and "not a drill" in refused.output
    missing = runner.invoke(cli, ["--db", str(db), "drill", "--score", "99"])
    assert missing.exit_code == 2 and "no incident 99" in missing.output
    both = runner.invoke(cli, ["--db", str(db), "drill", "huntaze", "--procedure", "ai-saas"])
    assert both.exit_code == 2 and "two procedures" in both.output


def test_cockpit_drill_runs_a_new_drill_then_prints_its_score(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[tuple[int, str | None, bool]] = []
    polls: list[float] = []

    def launch(session):  # type: ignore[no-untyped-def]
        incident = session.incident
        ran.append((incident.id, incident.procedure, incident.drill))
        polls.append(session.poll_interval)
        return 0

    monkeypatch.setattr("cockpit.commands.run.launch", launch)
    db = tmp_path / "t.db"
    runner = CliRunner()
    for args in (["drill", "huntaze"], ["drill", "--procedure", "huntaze"]):
        result = runner.invoke(cli, ["--db", str(db), *args])
        assert result.exit_code == 0, result.output
        assert f"Drill {len(ran)} (huntaze" in result.output and "/100" in result.output
    assert ran == [(1, "huntaze", True), (2, "huntaze", True)], "a new drill each time"
    assert polls == [6.0, 6.0], "a scored drill runs at ×10: a one-minute sample every 6 s"
    runner.invoke(cli, ["--db", str(db), "drill", "huntaze", "--scale", "60"])
    assert polls[-1] == 1.0


async def test_the_cockpit_records_a_drills_keys_as_its_session_ends(
    tmp_path: Path, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    with Timeline(tmp_path / "t.db", clock=clock) as timeline:
        drill = timeline.open_incident("Drill", "P1", pulse_procedure.name, drill=True)
        real = timeline.open_incident("Real", "P1", pulse_procedure.name)
        for incident, pressed in ((drill, ("t", "d", "t", "d", "q")), (real, ("t", "q"))):
            session = Session(
                timeline=timeline,
                incident=incident,
                procedure=pulse_procedure,
                clock=clock,
                poll_interval=0.5,
            )
            app = CockpitApp(session, start_pollers=False)
            async with app.run_test(size=(100, 30)) as pilot:
                await pilot.pause()
                await pilot.press(*pressed)
                await pilot.pause()
        keys = [e.payload for e in timeline.events(drill.id, kinds=["drill.keys"])]
        assert keys == [{"count": 5}], "every key once, q included, though some bubbled back"
        assert timeline.events(real.id, kinds=["drill.keys"]) == [], "a real incident: none"


@pytest.mark.parametrize("argv", [["drill", "--score", "1"], ["stats", "--drills"]])
def test_scoring_and_the_history_never_import_textual(
    argv: list[str], tmp_path: Path, clock: FixedClock
) -> None:
    import subprocess
    import sys

    db = tmp_path / "t.db"
    drill_with_rollback(db, clock, "pulse-messages", "succeeded")
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('LOADED' if 'textual' in sys.modules else 'CLEAN'))\n"
        f"sys.argv = ['cockpit', '--db', {str(db)!r}] + {argv!r}\n"
        "from cockpit.cli import main\nmain()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("CLEAN")
