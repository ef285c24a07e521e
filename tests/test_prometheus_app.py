"""The cockpit on a real Prometheus: panes and triggers follow a target the test controls.

A small target serves one gauge in the Prometheus text format; a private Prometheus scrapes it
every second; the App polls Prometheus through the PrometheusSource, with real pollers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import prometheus_server
import pytest
from local_http import Canned
from prometheus_server import PrometheusServer

from cockpit.app import CockpitApp
from cockpit.core.clock import SystemClock
from cockpit.core.metrics import PaneState
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.session import Session
from providers.prometheus.api import PrometheusOptions, PrometheusSource, PromQuery
from widgets.metric_pane import MetricPane

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(120),
    pytest.mark.skipif(prometheus_server.prometheus_missing(), reason=prometheus_server.MISSING),
]


def gauge(value: float) -> bytes:
    """The target's /metrics: one gauge the test sets."""
    return (
        f"# TYPE checkout_error_rate_percent gauge\ncheckout_error_rate_percent {value}\n"
    ).encode()


@pytest.fixture
def target() -> Iterator[Canned]:
    served = Canned(gauge(0.4), kind="text/plain; version=0.0.4")
    yield served
    served.stop()


async def until(pilot: Any, condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"within {seconds} s: {what}")
        await pilot.pause(0.1)


async def test_panes_and_triggers_follow_prometheus(tmp_path: Path, target: Canned) -> None:
    server = PrometheusServer(tmp_path / "prometheus", {"target": target.address})
    (tmp_path / "prometheus").mkdir()
    with server:
        server.wait_for('up{job="target"} == 1')
        source = PrometheusSource(
            PrometheusOptions(
                url=server.base_url,
                timeout_seconds=2.0,
                metrics=[
                    PromQuery(
                        name="error_rate", query='max(checkout_error_rate_percent{job="target"})'
                    )
                ],
            )
        )
        timeline = Timeline(tmp_path / "timeline.db")
        incident = timeline.open_incident("Checkout errors", "P1", "pulse-messages")
        app = CockpitApp(
            Session(
                timeline=timeline,
                incident=incident,
                procedure=load_builtin("pulse-messages"),
                sources=[source],
                clock=SystemClock(),
                poll_interval=1.0,
            )
        )
        async with app.run_test(size=(100, 30)) as pilot:
            pane = app.screen.query_one("#pane-error-rate", MetricPane)

            def shows(value: float, state: PaneState) -> Callable[[], bool]:
                return lambda: (
                    pane.view is not None and pane.view.value == value and pane.view.state is state
                )

            await until(pilot, shows(0.4, PaneState.OK), 15, "the pane shows the target's 0.4 %")

            target.body = gauge(9.0)  # the bad deploy, as the target reports it
            await until(
                pilot,
                lambda: pane.view is not None and pane.view.value == 9.0,
                15,
                "9 % reaches the pane",
            )
            assert "consecutive" in pane.view.counter
            await until(
                pilot,
                lambda: app.board is not None and bool(app.board.firing()),
                15,
                "the rule fires",
            )
            # a busy machine may show the reading stale for a moment (older than 2 intervals)
            await until(pilot, lambda: pane.has_class("-breach"), 5, "the pane says BREACH")

            target.stop()  # the target dies: Prometheus marks the series stale
            await until(
                pilot,
                lambda: pane.view is not None and pane.view.state is PaneState.NO_DATA,
                20,
                "a dead target is never shown as a value",
            )
            assert "no series" in pane.view.detail

            server.stop()  # and then Prometheus itself
            await until(
                pilot,
                lambda: "connection refused" in (pane.view.detail if pane.view else ""),
                10,
                "reason shown",
            )
            assert pane.view.state is PaneState.NO_DATA

    events = timeline.events(incident.id)
    fired = [e for e in events if e.kind == "trigger.fired"]
    assert fired and fired[0].payload["rule"] == "error-rate" and fired[0].payload["value"] == 9.0
    assert any(e.kind == "source.failed" and "connection refused" in e.summary for e in events)
