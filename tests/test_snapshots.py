"""Snapshot tests with a fixed clock and injected samples: what the engineer sees at 80x24 and
at 120x40 (`make screenshots` regenerates them, with the README's pictures)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.messages import MetricsSampled
from cockpit.session import Session

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
"""The two sizes every snapshot is taken at: the smallest a jump host gives, and a common one."""

#: A bad deploy, sample by sample: error rate and p95 climb, health starts failing.
ERRORS = [0.4, 0.4, 0.5, 0.4, 3.2, 6.1, 7.4, 8.3, 8.9, 9.0]
HEALTH = [0, 0, 0, 0, 0, 1, 1, 0, 1, 1]


def dashboard_app(tmp_path: Path) -> tuple[CockpitApp, FixedClock]:
    clock = FixedClock()
    timeline = Timeline(tmp_path / "snap.db", clock=clock, actor="oncall")
    incident = timeline.open_incident("Checkout errors after deploy v1.2.4", "P1", "pulse-messages")
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=load_builtin("pulse-messages"),
        clock=clock,
        poll_interval=60,
    )
    return CockpitApp(session, start_pollers=False), clock


@SIZES
def test_dashboard_during_a_bad_deploy(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app, clock = dashboard_app(tmp_path)

    async def feed(pilot: Pilot[int]) -> None:
        for errors, health in zip(ERRORS, HEALTH, strict=True):
            clock.advance(60)
            at = clock.now()
            app.post_message(
                MetricsSampled(
                    "scrape",
                    [
                        Sample("error_rate", errors, at, "scrape"),
                        Sample("p95_latency_ms", 180 + errors * 50, at, "scrape"),
                        Sample("critical_bug_reports_1h", 2, at, "scrape"),
                    ],
                )
            )
            app.post_message(
                MetricsSampled("probe", [Sample("health_check_failed", health, at, "probe")])
            )
            await pilot.pause()
        app.tick()  # escalation steps due by now are recorded before the picture, always
        await pilot.pause(0.3)  # the dashboard's trailing paint (it repaints every 0.2 s at most)

    assert snap_compare(app, terminal_size=size, run_before=feed)


@SIZES
def test_procedure_decision_tab(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app, _ = dashboard_app(tmp_path)
    assert snap_compare(app, terminal_size=size, press=["p", "x"])


def route_keys() -> list[str]:
    """The keys of the first route through the pulse-messages tree (to its first leaf)."""
    from cockpit.core.wizard import walks

    return [key for _, key in next(iter(walks(load_builtin("pulse-messages"))))]


def feed_then(app: CockpitApp, clock: FixedClock, keys: list[str]):  # type: ignore[no-untyped-def]
    """The bad deploy fed sample by sample, then the keys pressed."""

    async def run(pilot: Pilot[int]) -> None:
        for errors, health in zip(ERRORS, HEALTH, strict=True):
            clock.advance(60)
            at = clock.now()
            app.post_message(
                MetricsSampled(
                    "scrape",
                    [
                        Sample("error_rate", errors, at, "scrape"),
                        Sample("p95_latency_ms", 180 + errors * 50, at, "scrape"),
                    ],
                )
            )
            app.post_message(
                MetricsSampled("probe", [Sample("health_check_failed", health, at, "probe")])
            )
            await pilot.pause()
        app.tick()  # what is due is recorded now, so a later tick has nothing new to announce
        await pilot.pause()
        app.clear_notifications()  # the escalation toasts are the dashboard's picture, not these
        await pilot.press(*keys)
        await pilot.pause(0.3)
        app.clear_notifications()

    return run


@SIZES
def test_wizard_step_with_its_evidence(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app, clock = dashboard_app(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=feed_then(app, clock, ["w"]))


@SIZES
def test_wizard_recommendation(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app, clock = dashboard_app(tmp_path)
    keys = ["w", *route_keys()]
    assert snap_compare(app, terminal_size=size, run_before=feed_then(app, clock, keys))


@SIZES
def test_checklist_after_the_decision(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app, clock = dashboard_app(tmp_path)
    keys = ["w", *route_keys(), "enter", "space", "down"]
    assert snap_compare(app, terminal_size=size, run_before=feed_then(app, clock, keys))
