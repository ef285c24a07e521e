"""An HTTP health probe: one GET per sample, pass or fail with the reason, and its latency.

A failing target is data, not an error: the procedures count health-check failures ("> 3 in 5
minutes"), so a 503, a timeout or a refused connection each come back as
`health_check_failed = 1` with the reason in the sample's error.

"""

from __future__ import annotations

from typing import Any

import httpx

from cockpit.core.metrics import Sample
from providers.base import Capability
from providers.http import HttpOptions, HttpSource, http_failure_reason


class HealthProbeOptions(HttpOptions):
    """Where to probe and what counts as healthy."""

    expect_status: int = 200
    body_contains: str | None = None
    metric: str = "health_check_failed"
    latency_metric: str = "health_latency_ms"


class HealthProbe(HttpSource):
    """GET a health endpoint; feeds `health_check_failed` (0/1) and `health_latency_ms`."""

    name = "http_health"
    title = "HTTP health check"
    capabilities = Capability.METRICS | Capability.HEALTH
    Options = HealthProbeOptions

    def __init__(self, options: HealthProbeOptions, **seams: Any) -> None:
        super().__init__(options, **seams)
        self.opts = options

    @property
    def metric_names(self) -> list[str]:
        return [self.opts.metric, self.opts.latency_metric]

    def probe(self) -> tuple[str, float | None]:
        """One GET: ("", latency_ms) when healthy, (reason, None) when not."""
        started = self.clock.monotonic()
        try:
            response = self._client.get(self.opts.url)
        except httpx.HTTPError as exc:
            return http_failure_reason(exc, self.opts.timeout_seconds), None
        latency_ms = (self.clock.monotonic() - started) * 1000.0
        if response.status_code != self.opts.expect_status:
            return f"status {response.status_code}, expected {self.opts.expect_status}", None
        wanted = self.opts.body_contains
        if wanted is not None and wanted not in response.text:
            return f"body lacks {wanted!r}", None
        return "", latency_ms

    def sample(self) -> list[Sample]:
        reason, latency_ms = self.probe()
        at = self.clock.now()
        return [
            Sample(self.opts.metric, 1.0 if reason else 0.0, at, self.name, reason),
            Sample(self.opts.latency_metric, latency_ms, at, self.name, reason),
        ]
