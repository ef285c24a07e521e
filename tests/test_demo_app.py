"""The demo end to end: real pollers read the simulated service over HTTP into the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import PaneState
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.demo.scenario import Scenario
from cockpit.demo.service import DemoService
from cockpit.demo.sources import demo_sources
from cockpit.session import Session
from widgets.metric_pane import MetricPane

pytestmark = pytest.mark.timeout(60)


async def wait_until(pilot, condition, clock: FixedClock, rounds: int = 200) -> None:  # type: ignore[no-untyped-def]
    """Advance the demo clock between pauses until the condition holds (bounded)."""
    for _ in range(rounds):
        if condition():
            return
        clock.advance(0.5)
        await pilot.pause(0.05)
    raise AssertionError("condition never held")


async def test_dashboard_shows_values_read_from_the_simulated_service(timeline: Timeline) -> None:
    clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
    scenario = Scenario(clock, bad_deploy_at=5.0, ramp_seconds=2.0)
    with DemoService(scenario) as service:
        incident = timeline.open_incident("demo", "P1", "pulse-messages", drill=True)
        session = Session(
            timeline=timeline,
            incident=incident,
            procedure=load_builtin("pulse-messages"),
            sources=demo_sources(service.base_url, clock),
            clock=clock,
            poll_interval=0.05,
        )
        app = CockpitApp(session)
        async with app.run_test(size=(100, 30)) as pilot:
            errors = app.screen.query_one("#pane-error-rate", MetricPane)
            clock.advance(10)  # past the bad deploy and its ramp
            expected = scenario.error_ratio() * 100  # what the service's counters advance by

            def shows_service_value() -> bool:
                # the first rate may straddle the ramp; the next ones are the service's 9 %
                value = errors.view.value if errors.view is not None else None
                return value is not None and abs(value - expected) < 0.01

            await wait_until(pilot, shows_service_value, clock)
            assert errors.view is not None and errors.view.value is not None
            assert f"{errors.view.value:.2f}%" in errors.reading()

            await wait_until(
                pilot,
                lambda: errors.view is not None and errors.view.state is PaneState.BREACH,
                clock,
            )
            service.stop()  # production's metrics endpoint goes away
            await wait_until(
                pilot,
                lambda: errors.view is not None and "connection refused" in errors.view.detail,
                clock,
            )
            # NO DATA, or STALE when the clock moved on since: never a value, and it says why.
            assert errors.view.state in (PaneState.NO_DATA, PaneState.STALE)
            assert errors.view.value is None
    kinds = [event.kind for event in timeline.events(incident.id)]
    assert "trigger.fired" in kinds
    assert "source.failed" in kinds
