"""Samples are kept per incident for replay, scrubbed, pruned by retention; v1 timelines migrate."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from cockpit.app import CockpitApp
from cockpit.cli import cli
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.timeline import Timeline
from cockpit.core.timeline_schema import MIGRATIONS
from cockpit.messages import MetricsSampled, SourceFailed
from cockpit.session import Session


def test_samples_round_trip_in_time_order(timeline: Timeline, clock: FixedClock) -> None:
    incident = timeline.open_incident("x", "P1", "pulse-messages").id
    later, earlier = clock.now() + timedelta(minutes=1), clock.now()
    timeline.record_samples(
        incident,
        [
            Sample("error_rate", 6.5, later, "scrape"),
            Sample("error_rate", 0.4, earlier, "scrape"),
            Sample("p95_latency_ms", None, earlier, "scrape", "first scrape: a rate needs two"),
        ],
    )
    rows = timeline.samples(incident, metric="error_rate")
    assert [(r.at, r.value) for r in rows] == [
        ("2026-01-15T03:12:00.000Z", 0.4),
        ("2026-01-15T03:13:00.000Z", 6.5),
    ]
    (missing,) = timeline.samples(incident, metric="p95_latency_ms")
    assert missing.value is None and missing.error == "first scrape: a rate needs two"
    assert timeline.verify().count == 1  # samples are not events: the chain is untouched


def test_secrets_in_sample_errors_are_scrubbed(timeline: Timeline, clock: FixedClock) -> None:
    incident = timeline.open_incident("x", "P1", "pulse-messages").id
    timeline.record_samples(
        incident,
        [
            Sample(
                "error_rate",
                None,
                clock.now(),
                "scrape",
                "GET https://ops:hunter2@metrics.example/x: 401",
            ),
        ],
    )
    assert "hunter2" not in timeline.samples(incident)[0].error


def test_retention_prunes_old_samples_only(timeline: Timeline, clock: FixedClock) -> None:
    incident = timeline.open_incident("x", "P1", "pulse-messages").id
    old = clock.now() - timedelta(days=40)
    timeline.record_samples(
        incident, [Sample("error_rate", 1, old, "s"), Sample("error_rate", 2, clock.now(), "s")]
    )
    assert timeline.prune_samples(clock.now() - timedelta(days=30)) == 1
    assert [r.value for r in timeline.samples(incident)] == [2]


def test_a_version_1_timeline_migrates_and_keeps_its_chain(
    tmp_path: Path, clock: FixedClock
) -> None:
    path = tmp_path / "old.db"
    with Timeline(path, clock=clock) as timeline:
        timeline.open_incident("before the upgrade", "P1", "pulse-messages")
    with sqlite3.connect(path) as conn:  # make it what version 1 wrote
        conn.execute("DROP TABLE samples")
        conn.execute("DROP INDEX events_incident_id")  # version 3
        conn.execute("PRAGMA user_version = 1")
    with Timeline(path, clock=clock) as timeline:
        assert timeline.verify().count == 1
        assert timeline.incident(1).title == "before the upgrade"
        timeline.record_samples(1, [Sample("error_rate", 3.0, clock.now(), "s")])
        assert len(timeline.samples(1)) == 1
        plan = timeline._conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM events WHERE incident = 1 ORDER BY id"
        ).fetchall()
        assert "events_incident_id" in str(plan)  # read in id order, without a sort
    assert MIGRATIONS[-1][0] == 3


async def test_the_app_keeps_what_it_samples_and_backtest_replays_it(
    tmp_path: Path, clock: FixedClock
) -> None:
    from cockpit.core.procedure_loader import load_builtin

    db = tmp_path / "timeline.db"
    timeline = Timeline(db, clock=clock)
    incident = timeline.open_incident("Checkout errors", "P1", "pulse-messages")
    app = CockpitApp(
        Session(
            timeline=timeline,
            incident=incident,
            procedure=load_builtin("pulse-messages"),
            clock=clock,
        ),
        start_pollers=False,
    )
    async with app.run_test() as pilot:
        for value in [0.4, 6.1, 7.3, 8.0, 8.8, 9.1]:
            clock.advance(60)
            app.post_message(
                MetricsSampled("scrape", [Sample("error_rate", value, clock.now(), "scrape")])
            )
            await pilot.pause()
        clock.advance(60)
        app.post_message(SourceFailed("scrape", ["error_rate"], "connection refused"))
        await pilot.pause()
    stored = timeline.samples(incident.id, metric="error_rate")
    assert [s.value for s in stored] == [0.4, 6.1, 7.3, 8.0, 8.8, 9.1, None]
    assert stored[-1].error == "connection refused"
    timeline.close()

    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(db),
            "backtest",
            "--procedure",
            "pulse-messages",
            "--incident",
            str(incident.id),
        ],
    )
    assert result.exit_code == 0, result.output
    live = [e for e in Timeline(db).events(incident.id) if e.kind == "trigger.fired"]
    fired = [line for line in result.output.splitlines() if "FIRED" in line]
    # the replay fires at the same sample, for the same reason, as the live cockpit did
    assert len(live) == 1 and len(fired) == 1
    assert fired[0].startswith("2026-01-15T03:18:00.000Z")
    assert live[0].summary.endswith(fired[0].split("error-rate: ", 1)[1])


def test_backtest_of_an_incident_without_samples_says_so(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with Timeline(db) as timeline:
        timeline.open_incident("quiet", "P3", "pulse-messages")
    result = CliRunner().invoke(
        cli, ["--db", str(db), "backtest", "--procedure", "pulse-messages", "--incident", "1"]
    )
    assert result.exit_code != 0
    assert "incident 1 has no recorded samples" in result.output
