"""An HTTP health probe: one GET per sample, pass or fail with the reason, and its latency.

A failing target is data, not an error: the procedures count health-check failures ("> 3 in 5
minutes"), so a 503, a timeout, a refused connection or an answer over `max_body_bytes` each
come back as `health_check_failed = 1` with the reason in the sample's error. The latency is the
time to the whole answer, within one deadline (`timeout_seconds`), so a target that trickles its
answer fails the check instead of holding the probe.

A 429 is the exception: it says the probe is asking too often, not that the target is down, so
it raises RateLimited and the poller waits out its Retry-After instead of counting failures.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import Field

from cockpit.core.errors import RateLimited
from cockpit.core.metrics import Sample
from providers.base import Capability
from providers.http import HttpOptions, HttpSource, finite_sample, http_failure_reason
from providers.http_read import MiB, read, retry_after_seconds


class HealthProbeOptions(HttpOptions):
    """Where to probe and what counts as healthy."""

    expect_status: int = 200
    body_contains: str | None = None
    metric: str = "health_check_failed"
    latency_metric: str = "health_latency_ms"
    max_body_bytes: int = Field(default=1 * MiB, gt=0)
    """A health page is a few bytes to a few KiB; only `body_contains` looks at it."""


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
        deadline = self.deadline()
        try:
            response = read(
                self._client,
                "GET",
                self.opts.url,
                deadline=deadline,
                max_bytes=self.opts.max_body_bytes,
            )
        except httpx.HTTPError as exc:
            return http_failure_reason(exc, deadline.seconds), None
        latency_ms = (self.clock.monotonic() - started) * 1000.0
        status = response.status_code
        if status == 429 and self.opts.expect_status != 429:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            raise RateLimited(f"GET {self.opts.url}: rate limited (429)", wait)
        if status != self.opts.expect_status:
            return f"status {status}, expected {self.opts.expect_status}", None
        wanted = self.opts.body_contains
        if wanted is not None and wanted not in response.text:
            return f"body lacks {wanted!r}", None
        return "", latency_ms

    def sample(self) -> list[Sample]:
        reason, latency_ms = self.probe()
        at = self.clock.now()
        return [
            Sample(self.opts.metric, 1.0 if reason else 0.0, at, self.name, reason),
            finite_sample(self.opts.latency_metric, latency_ms, at, self.name, reason),
        ]
