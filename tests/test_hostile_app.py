"""The running cockpit against a hostile metrics server: NaN, infinity, 100 MB, a trickle, a
rate limit and HTML, each feeding a metric the procedure watches, through the real pollers.
Before, a NaN killed the cockpit a second after it arrived, and again on every restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile_metrics import HostileServer
from pilot_wait import until

from cockpit.app import CockpitApp
from cockpit.core.clock import SystemClock
from cockpit.core.metrics import PaneState
from cockpit.core.procedure import Procedure
from cockpit.core.timeline import Timeline
from cockpit.session import Session
from providers.base import MetricSource
from providers.http_health import HealthProbe, HealthProbeOptions
from providers.json_endpoint import JsonOptions, JsonQuery, JsonSource
from providers.prometheus.api import PrometheusOptions, PrometheusSource, PromQuery
from providers.prometheus.scrape import MetricQuery, ScrapeOptions, ScrapeSource

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer(trickle_seconds=0.2, retry_after=30)
    yield server
    server.stop()


def sources(url: str) -> list[MetricSource]:
    def gauge(mode: str, metric: str) -> ScrapeSource:
        query = MetricQuery(name=metric, kind="gauge", family="temperature")
        return ScrapeSource(
            ScrapeOptions(url=f"{url}/{mode}/metrics", timeout_seconds=0.5, metrics=[query])
        )

    return [
        gauge("nan", "error_rate"),
        JsonSource(
            JsonOptions(
                url=f"{url}/inf/json",
                timeout_seconds=0.5,
                metrics=[JsonQuery(name="p95_latency_ms", path="value")],
            )
        ),
        gauge("huge_chunked", "db_connection_failures"),
        HealthProbe(HealthProbeOptions(url=f"{url}/trickle/health", timeout_seconds=0.5)),
        PrometheusSource(
            PrometheusOptions(
                url=f"{url}/rate_limited",
                timeout_seconds=0.5,
                metrics=[PromQuery(name="auth_check_failed", query="up")],
            )
        ),
        gauge("html", "critical_bug_reports_1h"),
    ]


async def test_the_cockpit_holds_against_every_hostile_answer(
    timeline: Timeline, pulse_procedure: Procedure, hostile: HostileServer
) -> None:
    clock = SystemClock()  # the pollers run in real time against a real server
    with Timeline(timeline.path, clock=clock) as own:
        incident = own.open_incident("hostile", "P1", pulse_procedure.name)
    session = Session(
        timeline=Timeline(timeline.path, clock=clock),
        incident=incident,
        procedure=pulse_procedure,
        sources=sources(hostile.url),
        clock=clock,
        poll_interval=0.3,
    )
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:

        def views() -> dict[str, object]:
            board = app.board
            return {v.metric: v for v in board.views(clock.now())} if board else {}

        watched = {
            "error_rate",
            "p95_latency_ms",
            "db_connection_failures",
            "auth_check_failed",
            "critical_bug_reports_1h",
        }
        await until(
            pilot,
            lambda: all(getattr(views().get(m), "detail", "") for m in watched),
            "every pane to say why",
        )
        for key in ("t", "d", "p", "d", "t", "d"):  # the screens answer throughout
            await pilot.press(key)
        await pilot.pause(1.0)  # several more polls of every hostile source
        shown = views()
        assert app.return_code is None, "still running"
        for metric in watched:
            view = shown[metric]
            assert view.state in (PaneState.NO_DATA, PaneState.STALE), (metric, view)  # type: ignore[attr-defined]
            assert view.value is None, (metric, view)  # type: ignore[attr-defined]
        details = {m: shown[m].detail for m in watched}  # type: ignore[attr-defined]
        assert "NaN" in details["error_rate"]
        assert "Infinity" in details["p95_latency_ms"] or "Inf" in details["p95_latency_ms"]
        assert "larger than" in details["db_connection_failures"]
        assert (
            "429" in details["auth_check_failed"] or "rate limited" in details["auth_check_failed"]
        )
        health = shown["health_check_failed"]
        assert health.value in (1.0, None)  # type: ignore[attr-defined]  # a failed check
        assert not any(
            v.status.value == "ok" for _, v in app.board.verdicts() if v and v.value is None
        )  # type: ignore[union-attr]
    kinds = [e.kind for e in session.timeline.events(incident.id)]
    assert "source.failed" in kinds
    assert "cockpit.error" not in kinds and "worker.failed" not in kinds
