"""Metric sources: the scrape source and the health probe against the real demo service and
real misbehaving local servers; the rate / ratio / quantile math on canned scrapes; discovery."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from cockpit.core.clock import FixedClock
from cockpit.core.errors import ConfigError, ProviderTimeout, ProviderUnavailable
from cockpit.core.metrics import Sample
from cockpit.demo.scenario import Scenario
from cockpit.demo.service import DemoService
from cockpit.demo.sources import demo_sources
from providers.base import MetricSource
from providers.http_health import HealthProbe, HealthProbeOptions
from providers.prometheus.scrape import (
    MetricQuery,
    ScrapeOptions,
    ScrapeSource,
    histogram_quantile,
)
from providers.registry import load_provider, provider_names

DEMO_METRICS = {
    "error_rate",
    "p95_latency_ms",
    "db_connection_failures",
    "auth_check_failed",
    "critical_bug_reports_1h",
    "health_check_failed",
    "health_latency_ms",
}


def read(sources: list[MetricSource]) -> dict[str, Sample]:
    return {s.metric: s for source in sources for s in source.sample()}


def value(samples: dict[str, Sample], metric: str) -> float:
    found = samples[metric].value
    assert found is not None, samples[metric].error
    return found


# -- against the demo service --------------------------------------------------------------------


@pytest.fixture
def sources(service: DemoService, clock: FixedClock) -> Iterator[list[MetricSource]]:
    made = demo_sources(service.base_url, clock)
    yield made
    for source in made:
        source.close()


def test_demo_sources_feed_the_demo_vocabulary(sources: list[MetricSource]) -> None:
    assert {name for source in sources for name in source.metric_names} == DEMO_METRICS
    first = read(sources)
    assert set(first) == DEMO_METRICS
    assert first["error_rate"].value is None
    assert first["error_rate"].error == "first scrape: a rate needs two"
    assert first["p95_latency_ms"].error == "first scrape: a rate needs two"
    assert first["auth_check_failed"].value == 0
    assert first["health_check_failed"].value == 0


def test_healthy_then_bad_deploy_then_rollback(
    sources: list[MetricSource], clock: FixedClock, service: DemoService
) -> None:
    read(sources)
    clock.advance(1)
    healthy = read(sources)
    assert value(healthy, "error_rate") < 1
    assert value(healthy, "p95_latency_ms") == pytest.approx(180, abs=30)
    assert value(healthy, "db_connection_failures") == 0
    assert value(healthy, "health_check_failed") == 0
    assert value(healthy, "critical_bug_reports_1h") == 0

    clock.advance(25)  # past the deploy (15 s) and its ramp (10 s)
    read(sources)
    clock.advance(1)
    bad = read(sources)
    assert value(bad, "error_rate") > 5
    assert value(bad, "p95_latency_ms") > 500
    assert 0 < value(bad, "db_connection_failures") < 10
    assert value(bad, "auth_check_failed") == 0
    assert 0 < value(bad, "critical_bug_reports_1h") < 10

    probe = sources[1]
    failed = [
        s.value for _ in range(5) for s in probe.sample() if s.metric == "health_check_failed"
    ]
    assert failed.count(1.0) >= 4

    assert (
        httpx.post(f"{service.base_url}/admin/rollback", timeout=2.0).json()["version"] == "1.2.3"
    )
    clock.advance(6)
    read(sources)
    clock.advance(1)
    recovered = read(sources)
    assert value(recovered, "error_rate") < 1
    assert value(recovered, "p95_latency_ms") < 250
    assert value(recovered, "db_connection_failures") == 0
    failed = [
        s.value for _ in range(5) for s in probe.sample() if s.metric == "health_check_failed"
    ]
    assert failed == [0.0] * 5


def test_failed_health_probe_is_data(sources: list[MetricSource], clock: FixedClock) -> None:
    clock.advance(30)
    probe = sources[1]
    samples = [probe.sample() for _ in range(5)]
    failing = next(batch for batch in samples if batch[0].value == 1.0)
    assert failing[0].error == "status 503, expected 200"
    assert failing[1].metric == "health_latency_ms"
    assert failing[1].value is None


def test_absent_series_is_a_sample_error(service: DemoService, clock: FixedClock) -> None:
    source = ScrapeSource(
        ScrapeOptions(
            url=f"{service.base_url}/metrics",
            metrics=[
                MetricQuery(
                    name="teapots",
                    kind="rate",
                    family="http_requests_total",
                    labels={"status": "418"},
                ),
                MetricQuery(name="ghost", kind="gauge", family="no_such_family"),
            ],
        ),
        clock=clock,
    )
    try:
        samples = {s.metric: s for s in source.sample()}
    finally:
        source.close()
    assert samples["teapots"].value is None
    assert samples["teapots"].error == 'no series http_requests_total{status="418"}'
    assert samples["ghost"].error == "no series no_such_family"


def test_stopped_service_is_unavailable_naming_the_url(
    scenario: Scenario, clock: FixedClock
) -> None:
    service = DemoService(scenario)
    base_url = service.start()
    service.stop()
    scrape, probe = demo_sources(base_url, clock)
    with pytest.raises(ProviderUnavailable) as raised:
        scrape.sample()
    assert str(raised.value) == f"GET {base_url}/metrics: connection refused"
    failed = probe.sample()
    scrape.close()
    probe.close()
    assert failed[0].value == 1.0
    assert failed[0].error == "connection refused"


# -- misbehaving local servers -------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that completes the handshake (the kernel's backlog) and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/metrics"
    finally:
        listener.close()


@pytest.mark.timeout(10)
def test_silent_server_times_out_within_the_timeout(silent_server: str) -> None:
    source = ScrapeSource(ScrapeOptions(url=silent_server, timeout_seconds=0.3))
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as raised:
        source.sample()
    assert time.monotonic() - started < 2.0
    assert str(raised.value) == f"GET {silent_server}: no complete answer within 0.3 s"


@pytest.mark.timeout(10)
def test_silent_server_fails_the_health_probe(silent_server: str) -> None:
    probe = HealthProbe(HealthProbeOptions(url=silent_server, timeout_seconds=0.3))
    failed, latency = probe.sample()
    assert failed.value == 1.0
    assert failed.error == "no complete answer within 0.3 s"
    assert latency.value is None


class _Canned(BaseHTTPRequestHandler):
    status = 500
    body = b"oops"

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def _serve(status: int, body: bytes) -> Iterator[str]:
    handler = type("Handler", (_Canned,), {"status": status, "body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


@pytest.fixture
def failing_server() -> Iterator[str]:
    yield from _serve(500, b"internal error")


@pytest.fixture
def garbage_server() -> Iterator[str]:
    yield from _serve(200, b"<html><body>login required</body></html>")


def test_http_500_is_unavailable_with_the_status(failing_server: str) -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        ScrapeSource(ScrapeOptions(url=failing_server)).sample()
    assert str(raised.value) == f"GET {failing_server}: HTTP 500 Internal Server Error"
    failed = HealthProbe(HealthProbeOptions(url=failing_server)).sample()[0]
    assert (failed.value, failed.error) == (1.0, "status 500, expected 200")


def test_unparsable_body_is_unavailable(garbage_server: str) -> None:
    with pytest.raises(ProviderUnavailable, match="not the Prometheus text format: invalid"):
        ScrapeSource(ScrapeOptions(url=garbage_server)).sample()
    probe = HealthProbe(HealthProbeOptions(url=garbage_server, body_contains="ok"))
    assert probe.sample()[0].error == "body lacks 'ok'"


# -- the math, on canned scrapes -----------------------------------------------------------------


class Canned:
    """A MockTransport serving the next body of a list on each request."""

    def __init__(self, *bodies: str) -> None:
        self.bodies = list(bodies)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=self.bodies.pop(0))


def scrape_all(clock: FixedClock, queries: list[MetricQuery], *bodies: str) -> list[Sample]:
    source = ScrapeSource(
        ScrapeOptions(url="http://svc/metrics", metrics=queries),
        clock=clock,
        transport=httpx.MockTransport(Canned(*bodies)),
    )
    result: list[Sample] = []
    for _ in bodies:
        result = source.sample()
        clock.advance(10)
    return result


def counters(ok: float, errors: float) -> str:
    return (
        "# TYPE http_requests_total counter\n"
        f'http_requests_total{{status="200"}} {ok}\n'
        f'http_requests_total{{status="500"}} {errors}\n'
    )


RATE = MetricQuery(name="rps", kind="rate", family="http_requests_total")
RATIO = MetricQuery(
    name="error_rate",
    kind="ratio",
    family="http_requests_total",
    labels={"status": "500"},
    denominator_family="http_requests_total",
    scale=100,
)


def test_rate_is_delta_over_clock_seconds() -> None:
    (rps,) = scrape_all(FixedClock(), [RATE], counters(100, 0), counters(1100, 500))
    assert rps.value == pytest.approx(150.0)  # 1500 requests in 10 s


def test_counter_reset_counts_the_new_value() -> None:
    (rps,) = scrape_all(FixedClock(), [RATE], counters(5000, 50), counters(90, 10))
    assert rps.value == pytest.approx(10.0)


def test_ratio_sums_the_denominator_over_all_series() -> None:
    (ratio,) = scrape_all(FixedClock(), [RATIO], counters(1000, 10), counters(1950, 60))
    assert ratio.value == pytest.approx(5.0)  # 50 errors of 1000 requests


def test_ratio_without_requests_has_no_value() -> None:
    (ratio,) = scrape_all(FixedClock(), [RATIO], counters(1000, 10), counters(1000, 10))
    assert ratio.value is None
    assert ratio.error == "no requests since last scrape"


def histogram(counts: list[float]) -> str:
    bounds = ["0.1", "0.2", "0.5", "+Inf"]
    lines = ["# TYPE latency_seconds histogram"]
    lines += [
        f'latency_seconds_bucket{{le="{le}"}} {count}'
        for le, count in zip(bounds, counts, strict=True)
    ]
    lines += [f"latency_seconds_count {counts[-1]}", "latency_seconds_sum 1.0"]
    return "\n".join(lines) + "\n"


P95 = MetricQuery(
    name="p95", kind="histogram_quantile", family="latency_seconds", quantile=0.95, scale=1000
)


def test_quantile_interpolates_within_the_bucket_of_the_deltas() -> None:
    # Deltas: 50 under 0.1, 40 in (0.1, 0.2], 10 in (0.2, 0.5]; rank 95 is half-way in the last.
    (p95,) = scrape_all(
        FixedClock(),
        [P95],
        histogram([1000, 1000, 1000, 1000]),
        histogram([1050, 1090, 1100, 1100]),
    )
    assert p95.value == pytest.approx(350.0)


def test_quantile_without_observations_has_no_value() -> None:
    same = histogram([10, 20, 30, 30])
    (p95,) = scrape_all(FixedClock(), [P95], same, same)
    assert (p95.value, p95.error) == (None, "no observations since last scrape")


def test_histogram_quantile_follows_prometheus() -> None:
    buckets = [(0.1, 50.0), (0.2, 90.0), (0.5, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.05)  # lowest bucket starts at 0
    assert histogram_quantile(0.99, [(0.1, 50.0), (0.2, 90.0), (math.inf, 100.0)]) == 0.2
    assert math.isnan(histogram_quantile(0.9, [(0.1, 0.0), (math.inf, 0.0)]))
    assert math.isnan(histogram_quantile(0.9, [(0.1, 5.0), (0.2, 10.0)]))  # no +Inf
    assert histogram_quantile(1.5, buckets) == math.inf


def test_gauge_invert_and_scale() -> None:
    body = "# TYPE auth_check_up gauge\nauth_check_up 0\n"
    queries = [
        MetricQuery(name="auth_check_failed", kind="gauge", family="auth_check_up", invert=True),
        MetricQuery(name="auth_pct", kind="gauge", family="auth_check_up", scale=100),
    ]
    failed, pct = scrape_all(FixedClock(), queries, body)
    assert (failed.value, pct.value) == (1.0, 0.0)


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="denominator_family"):
        MetricQuery(name="x", kind="ratio", family="a")
    with pytest.raises(ValidationError, match="quantile"):
        MetricQuery(name="x", kind="histogram_quantile", family="a")
    with pytest.raises(ValidationError, match="extra"):
        ScrapeOptions.model_validate({"url": "http://x/metrics", "tiemout_seconds": 1})


# -- discovery -----------------------------------------------------------------------------------


def test_provider_names_include_the_builtins() -> None:
    assert {"prometheus_scrape", "http_health"} <= set(provider_names())


def test_load_provider() -> None:
    assert load_provider("prometheus_scrape") is ScrapeSource
    assert load_provider("http_health") is HealthProbe


def test_unknown_provider_lists_the_installed_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        load_provider("nagios")
    message = str(raised.value)
    assert message.startswith("unknown provider 'nagios'; installed: ")
    assert "prometheus_scrape" in message
    assert "http_health" in message
