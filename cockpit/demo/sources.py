"""The metric sources the demo cockpit samples, wired to the demo service over real HTTP.

They feed the metrics the service has a real shape for (error_rate, p95_latency_ms,
db_connection_failures, auth_check_failed, critical_bug_reports_1h, health_check_failed and
health_latency_ms) and, in a drill, every other metric of the procedure as a plain gauge.
"""

from __future__ import annotations

from collections.abc import Iterable

from cockpit.core.clock import Clock
from providers.base import MetricSource
from providers.http_health import HealthProbe, HealthProbeOptions
from providers.prometheus.scrape import MetricQuery, ScrapeOptions, ScrapeSource

# Local, so a slow answer means the simulated service is wedged; keep the poller responsive.
TIMEOUT_SECONDS = 1.0

DEMO_QUERIES: tuple[MetricQuery, ...] = (
    # Percent of requests answered with 500; the denominator matches every status label.
    MetricQuery(
        name="error_rate",
        kind="ratio",
        family="http_requests_total",
        labels={"status": "500"},
        denominator_family="http_requests_total",
        scale=100.0,
    ),
    MetricQuery(
        name="p95_latency_ms",
        kind="histogram_quantile",
        family="http_request_duration_seconds",
        quantile=0.95,
        scale=1000.0,
    ),
    # The procedures count DB connection failures per minute while Prometheus rates are per
    # second, so ×60; the demo service paces its counter so this reads as failures per minute.
    MetricQuery(
        name="db_connection_failures",
        kind="rate",
        family="db_connection_failures_total",
        scale=60.0,
    ),
    # The service exports "auth is up"; the procedures trigger on "auth failed".
    MetricQuery(name="auth_check_failed", kind="gauge", family="auth_check_up", invert=True),
    MetricQuery(name="critical_bug_reports_1h", kind="gauge", family="support_critical_reports_1h"),
)


_PROBE = HealthProbeOptions.model_fields
SHAPED = frozenset(
    {query.name for query in DEMO_QUERIES}
    | {_PROBE["metric"].default, _PROBE["latency_metric"].default}
)
"""The metrics the service serves with their real shape; a drill serves any other as a gauge."""


def drill_query(name: str) -> MetricQuery:
    """A metric the service serves as a plain gauge (cockpit.demo.drill)."""
    return MetricQuery(name=name, kind="gauge", family="drill_metric", labels={"metric": name})


def demo_sources(
    base_url: str, clock: Clock, gauges: Iterable[str] = (), elsewhere: Iterable[str] = ()
) -> list[MetricSource]:
    """A scrape of `{base_url}/metrics` (with the drill's `gauges`, without the metrics read
    `elsewhere`, as a drill reads critical bug reports in Sentry) and a probe of
    `{base_url}/health`, on `clock`."""
    base = base_url.rstrip("/")
    skipped = set(elsewhere)
    queries = [q for q in DEMO_QUERIES if q.name not in skipped]
    queries += [drill_query(name) for name in gauges]
    scrape = ScrapeSource(
        ScrapeOptions(url=f"{base}/metrics", timeout_seconds=TIMEOUT_SECONDS, metrics=queries),
        clock=clock,
    )
    health = HealthProbe(
        HealthProbeOptions(
            url=f"{base}/health", timeout_seconds=TIMEOUT_SECONDS, body_contains='"status":"ok"'
        ),
        clock=clock,
    )
    return [scrape, health]
