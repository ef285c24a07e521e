"""The demo's simulated production service: /metrics, /health, /version, /admin/rollback.

A standard-library ThreadingHTTPServer on 127.0.0.1, served from a daemon thread. It has no real
traffic: `VirtualTraffic` integrates the scenario over the clock (200 requests per second by
default), so between two scrapes the counter deltas carry exactly the scenario's error ratio and
the histogram bucket deltas follow its latency distribution. The cockpit's real providers read it
over HTTP, so the demo exercises the same code paths as production.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from cockpit.core.clock import iso_ms
from cockpit.demo.drill import Level
from cockpit.demo.scenario import Scenario

# The 0.0.4 text format; prometheus_client's CONTENT_TYPE_LATEST moved on to 1.0.0, but scrapers
# on old jump hosts (and the brief) expect the classic one, and the body is the same text.
CONTENT_TYPE_METRICS = "text/plain; version=0.0.4; charset=utf-8"

# Up to 30 s: a procedure that rolls back above 5 s of p95 needs buckets past it to see it.
BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, math.inf,
)  # fmt: skip

# Spread of the log-normal latency; with 0.5 the mean sits well below p95 as in real services.
LATENCY_SIGMA = 0.5
_Z95 = 1.6448536269514722

# Integrate in slices this long so ramps and kinks are followed closely whatever the scrape
# cadence (the midpoint rule is exact on the linear stretches).
_STEP_SECONDS = 0.25

CACHE_PATH = "/api/admin/cache"
"""The application's cache, cleared as the pitchey runbook clears it (DELETE)."""


def lognormal_cdf(x: float, p95: float, sigma: float = LATENCY_SIGMA) -> float:
    """P(latency <= x) for a log-normal whose 95th percentile is `p95`."""
    if x == math.inf:
        return 1.0
    if x <= 0:
        return 0.0
    mu = math.log(p95) - _Z95 * sigma
    return 0.5 * (1.0 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2.0))))


def lognormal_mean(p95: float, sigma: float = LATENCY_SIGMA) -> float:
    """Mean of that log-normal, for the histogram's _sum."""
    return math.exp(math.log(p95) - _Z95 * sigma + sigma * sigma / 2.0)


def _le(bound: float) -> str:
    """A bucket bound as Prometheus' Python client writes it: 0.05, 1.0, +Inf."""
    return "+Inf" if math.isinf(bound) else repr(bound)


class VirtualTraffic:
    """Cumulative counters of requests the service never received, integrated over the clock."""

    def __init__(self, scenario: Scenario, requests_per_second: float = 200.0) -> None:
        self.scenario = scenario
        self.requests_per_second = requests_per_second
        self.requests = 0.0
        self.errors = 0.0
        self.duration_sum = 0.0
        self.buckets = [0.0] * len(BUCKETS)
        self.db_failures = 0.0
        self._until = 0.0
        self._lock = threading.Lock()

    def advance(self) -> None:
        """Bring the counters up to the scenario's current time (never backwards)."""
        with self._lock:
            now = self.scenario.elapsed()
            while self._until < now:
                end = min(now, self._until + _STEP_SECONDS)
                self._accumulate(self._until, end)
                self._until = end

    def _accumulate(self, start: float, end: float) -> None:
        mid = (start + end) / 2.0
        dt = end - start
        n = self.requests_per_second * dt
        p95 = self.scenario.p95_seconds(mid)
        self.requests += n
        self.errors += n * self.scenario.error_ratio(mid)
        self.duration_sum += n * lognormal_mean(p95)
        for i, le in enumerate(BUCKETS):
            self.buckets[i] += n * lognormal_cdf(le, p95)
        # The scenario speaks per minute; the counter is per second like every Prometheus one.
        self.db_failures += self.scenario.db_failures_per_minute(mid) / 60.0 * dt


class _MetricsCollector:
    """Turns the virtual traffic and the scenario into metric families for the exposition."""

    def __init__(self, service: DemoService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        traffic = self.service.traffic
        scenario = self.service.scenario
        traffic.advance()
        requests = CounterMetricFamily(
            "http_requests", "HTTP requests served, by status.", labels=["status"]
        )
        requests.add_metric(["200"], traffic.requests - traffic.errors)
        requests.add_metric(["500"], traffic.errors)
        yield requests
        yield HistogramMetricFamily(
            "http_request_duration_seconds",
            "HTTP request latency.",
            buckets=[(_le(le), c) for le, c in zip(BUCKETS, traffic.buckets, strict=True)],
            sum_value=traffic.duration_sum,
        )
        yield CounterMetricFamily(
            "db_connection_failures",
            "Failed attempts to get a database connection.",
            value=traffic.db_failures,
        )
        yield GaugeMetricFamily(
            "auth_check_up",
            "1 when the authentication check passes.",
            value=float(scenario.auth_up()),
        )
        yield GaugeMetricFamily(
            "support_critical_reports_1h",
            "User-reported critical bugs in the last hour.",
            value=float(scenario.critical_reports_1h()),
        )
        version = GaugeMetricFamily("app_version_info", "The serving version.", labels=["version"])
        version.add_metric([scenario.version()], 1.0)
        yield version
        yield GaugeMetricFamily(
            "process_uptime_seconds", "Seconds since the service started.", value=scenario.elapsed()
        )
        if self.service.gauges:
            badness = scenario.badness()
            drill = GaugeMetricFamily(
                "drill_metric",
                "A procedure's metric the service has no shape for.",
                labels=["metric"],
            )
            for name, level in self.service.gauges.items():
                drill.add_metric([name], level.at(badness))
            yield drill


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    service: DemoService

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is normal here; a traceback on stderr would paint
        # over the TUI.
        return


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # One request per connection: after stop() no lingering keep-alive thread may keep
    # answering for a service that is meant to be down.
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        # Per-request logging to stderr would paint over the TUI.
        return

    def do_GET(self) -> None:
        service = self.server.service
        scenario = service.scenario
        if self.path in ("/metrics", "/health"):
            scenario.look()
        if self.path == "/metrics":
            body = generate_latest(service.registry)
            self._send(HTTPStatus.OK, body, CONTENT_TYPE_METRICS)
        elif self.path == "/health":
            result = scenario.health_probe()
            payload = {
                "status": "ok" if result.ok else "error",
                "database": result.database,
                "redis": result.redis,
            }
            status = HTTPStatus.OK if result.ok else HTTPStatus.SERVICE_UNAVAILABLE
            self._json(status, payload)
        elif self.path == "/version":
            self._json(
                HTTPStatus.OK,
                {"version": scenario.version(), "deployed_at": iso_ms(scenario.deployed_at())},
            )
        elif self.path == CACHE_PATH:
            self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "DELETE clears the cache"})
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found", "path": self.path})

    def do_DELETE(self) -> None:
        service = self.server.service
        if self.path == CACHE_PATH:
            service.cache_clears += 1
            self._json(HTTPStatus.OK, {"cleared": 128})
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found", "path": self.path})

    def do_POST(self) -> None:
        scenario = self.server.service.scenario
        if self.path == "/admin/rollback":
            version = scenario.rollback()
            self._json(
                HTTPStatus.OK,
                {"version": version, "deployed_at": iso_ms(scenario.deployed_at())},
            )
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found", "path": self.path})

    def _json(self, status: HTTPStatus, payload: Mapping[str, str | int]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._send(status, body, "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class DemoService:
    """The simulated production service, served on 127.0.0.1 from a daemon thread."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        gauges: Mapping[str, Level] | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the demo service binds to 127.0.0.1 only")
        self.scenario = scenario
        self.gauges = dict(gauges or {})
        self.cache_clears = 0
        """A drill's metrics served as drill_metric{metric=NAME} (cockpit.demo.drill)."""
        self.host = "127.0.0.1"
        self.port = port
        self.traffic = VirtualTraffic(scenario)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_MetricsCollector(self))
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` once started."""
        if self._server is None:
            raise RuntimeError("DemoService is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> str:
        """Bind and serve in a daemon thread; returns the base URL."""
        if self._server is not None:
            return self.base_url
        server = _Server((self.host, self.port), _Handler)
        server.service = self
        self._server = server
        # A short poll interval keeps stop() quick.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="demo-service",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=2.0)

    def __enter__(self) -> DemoService:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
