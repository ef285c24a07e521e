"""`cockpit stats` over incidents with known durations, recorded through the Timeline."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.core.clock import FixedClock
from cockpit.core.stats import incident_times, stats, timeline_times
from cockpit.core.timeline import Timeline


def run_incident(
    timeline: Timeline,
    clock: FixedClock,
    *,
    fired: float,
    decided: float | None = None,
    action: tuple[float, float, str] | None = None,
    drill: bool = False,
) -> int:
    """An incident whose milestones land at the given minutes after its opening."""
    start = clock.now()
    incident = timeline.open_incident("x", "P1", "pulse-messages", drill=drill).id

    def at(minutes: float) -> None:
        target = (minutes * 60) - (clock.now() - start).total_seconds()
        clock.advance(target)

    at(fired)
    timeline.record(incident, "trigger.fired", "Error rate > 5%")
    if decided is not None:
        at(decided)
        timeline.record(incident, "wizard.decided", "Decided", {"options": ["feature-flags"]})
    if action is not None:
        begin, end, outcome = action
        at(begin)
        intent = timeline.begin_action(incident, "flags.disable", "Switch off", {}, command="x")
        at(end)
        timeline.finish_action(incident, str(intent.payload["action_id"]), outcome, "done")  # type: ignore[arg-type]
    clock.advance(60)
    timeline.close_incident(incident, "done")
    clock.advance(3600)
    return incident


def build(timeline: Timeline, clock: FixedClock) -> None:
    run_incident(timeline, clock, fired=2, decided=4, action=(5, 7, "succeeded"))
    run_incident(timeline, clock, fired=4)  # fired, nobody rolled back: a false positive
    run_incident(timeline, clock, fired=1, decided=2, action=(3, 6, "failed"))
    run_incident(timeline, clock, fired=3, action=(4, 10, "succeeded"), drill=True)


def test_the_metrics_match_the_known_durations(timeline: Timeline, clock: FixedClock) -> None:
    build(timeline, clock)
    times = [incident_times(timeline.events(i.id), i) for i in timeline.incidents()]
    result = stats(times)
    real, drills = result["real"], result["drills"]
    assert real["incidents"] == 3 and drills["incidents"] == 1
    assert real["mttd_seconds"] == (2 + 4 + 1) / 3 * 60  # no impact start: from the opening
    # The decision from the trigger, not from the opening: 2 and 1 minutes.
    assert real["mttdecide_seconds"] == (2 + 1) / 2 * 60
    detect = real["phases"]["detect"]
    assert detect["median"] == 120 and detect["p90"] == 216 and detect["mean"] == 140
    assert real["phases"]["decide"]["median"] == 90
    assert real["phases"]["rollback"]["median"] == (2 + 3) / 2 * 60
    assert real["quality"]["success_rate"] == {"value": 0.5, "target": 0.95, "met": False}
    false_positives = real["quality"]["false_positive_rate"]
    assert false_positives["value"] == 1 / 3 and false_positives["met"] is False
    assert drills["quality"]["success_rate"]["met"] is True
    assert real["mttr_seconds"] == 7 * 60  # only the rollback that succeeded recovered
    assert real["rollbacks_run"] == 2 and real["rollback_success_rate"] == 0.5
    assert real["false_positives"] == 1
    assert drills["mttr_seconds"] == 10 * 60 and drills["false_positives"] == 0


def test_reading_only_the_kinds_stats_needs_measures_the_same(
    timeline: Timeline, clock: FixedClock
) -> None:
    build(timeline, clock)
    busy = timeline.open_incident("busy", "P1", "pulse-messages").id
    clock.advance(30)
    timeline.acknowledge(busy)
    timeline.record(busy, "note", "looking")
    timeline.record(busy, "trigger.fired", "Error rate > 5%")
    timeline.record(busy, "trigger.cleared", "Error rate back under 5%")
    timeline.record(busy, "checklist.ticked", "Ticked", {"list": "quick", "item": "confirm"})
    timeline.record(busy, "outbox.queued", "Queued", {"id": "m1", "message": {}})
    timeline.record(busy, "postmortem.written", "Root cause", {"section": "root-cause"})
    intent = timeline.begin_action(busy, "flags.disable", "Switch off", {}, command="x")
    timeline.finish_action(busy, str(intent.payload["action_id"]), "succeeded", "done")
    everything = [incident_times(timeline.events(i.id), i) for i in timeline.incidents()]
    assert timeline_times(timeline) == everything


def test_the_command_prints_real_incidents_and_drills_apart(
    tmp_path: Path, clock: FixedClock
) -> None:
    db = tmp_path / "stats.db"
    with Timeline(db, clock=clock) as timeline:
        build(timeline, clock)
    runner = CliRunner()
    table = runner.invoke(cli, ["--db", str(db), "stats"])
    assert table.exit_code == 0, table.output
    assert "mean time to recover" in table.output and "7.0 min" in table.output
    assert "50%" in table.output
    assert "success rate > 95 %" in table.output and "50% missed" in table.output
    assert "Decide" in table.output and "1.5 / " in table.output  # the decide phase's median
    document = runner.invoke(cli, ["--db", str(db), "stats", "--format", "json"])
    assert json.loads(document.output)["drills"]["mttr_seconds"] == 600
    missing = runner.invoke(cli, ["--db", str(tmp_path / "absent.db"), "stats"])
    assert missing.exit_code == 2
