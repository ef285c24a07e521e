"""The dashboard of an ai-saas drill (`cockpit demo --procedure ai-saas`), read over real HTTP
from the simulated production: every metric the procedure names has a reading on its pane, and
a failing health check, which no ai-saas trigger watches, is never shown as OK."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.pilot import Pilot

from cockpit.app import CockpitApp
from cockpit.commands.demo import start_demo
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import PaneState
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.messages import MetricsSampled
from cockpit.session import Session, StartedSources
from widgets.metric_pane import MetricPane

pytestmark = pytest.mark.timeout(60)

DEPLOY_AT = 5.0
PAINT = 0.3
"""Longer than the dashboard's repaint interval (PAINT_EVERY)."""


@pytest.fixture
def drill(clock: FixedClock) -> Iterator[StartedSources]:
    started = start_demo(clock, DEPLOY_AT, load_builtin("ai-saas"))  # its platforms not started
    yield started
    assert started.stop is not None
    started.stop()


async def poll(pilot: Pilot[None], app: CockpitApp, drill: StartedSources, seconds: float) -> None:
    """Read every source each half second of drill time, as the pollers do."""
    clock = app.session.clock
    assert isinstance(clock, FixedClock)
    for _ in range(int(seconds / 0.5)):
        clock.advance(0.5)
        for source in drill.sources:
            app.post_message(MetricsSampled(source.name, source.sample()))
        await pilot.pause()
    await pilot.pause(PAINT)


def panes(app: CockpitApp) -> dict[str, MetricPane]:
    return {pane.metric: pane for pane in app.screen.query(MetricPane)}


async def test_every_pane_reads_and_a_failing_health_check_is_not_ok(
    timeline: Timeline, clock: FixedClock, drill: StartedSources
) -> None:
    procedure = load_builtin("ai-saas")
    incident = timeline.open_incident("Drill", "P1", procedure.name, drill=True)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=procedure,
        sources=drill.sources,
        clock=clock,
        poll_interval=1.0,
    )
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await poll(pilot, app, drill, 3.0)  # healthy
        shown = panes(app)
        assert set(shown) == set(procedure.metrics)
        for metric, pane in shown.items():
            assert pane.view is not None and pane.view.value is not None, metric
            assert pane.view.state is PaneState.OK, (metric, pane.reading())

        await poll(pilot, app, drill, DEPLOY_AT + 8.0)  # the bad deploy, fully bad
        for metric in ("memory_pct", "db_pool_exhausted"):
            view = shown[metric].view
            assert (
                view is not None and view.value is not None and view.state is not PaneState.NO_DATA
            )
        failing = [0.0, 0.0]
        for _ in range(10):  # four probes in five fail: catch one failing
            await poll(pilot, app, drill, 0.5)
            health = shown["health_check_failed"]
            assert health.view is not None and health.view.value is not None
            failing[int(health.view.value)] += 1
            if health.view.value == 1.0:
                assert health.reading() == "1  WARNING"
                assert "no trigger" in health.view.detail
            else:
                assert health.reading() == "0  OK"
        assert failing[1] > 0
