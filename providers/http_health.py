"""An HTTP health probe: one GET per sample, pass or fail with the reason, and its latency.

A failing target is data, not an error: the procedures count health-check failures ("> 3 in 5
minutes"), so a 503, a timeout or a refused connection each come back as
`health_check_failed = 1` with the reason in the sample's error.

`http_failure_reason` is shared with the scrape source so both word network failures alike.
"""

from __future__ import annotations

import httpx

from cockpit.core.clock import Clock, SystemClock
from cockpit.core.metrics import Sample
from providers.base import Capability, MetricSource, ProviderOptions


def http_failure_reason(exc: httpx.HTTPError, timeout_seconds: float) -> str:
    """A short reason for a failed request: "connection refused", "timeout after 2.0 s", ..."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout after {timeout_seconds} s"
    if isinstance(exc, httpx.ConnectError):
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused"
            cause = cause.__cause__ or cause.__context__
        text = str(exc)
        return "connection refused" if "refused" in text.lower() else f"cannot connect: {text}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def make_client(timeout_seconds: float, transport: httpx.BaseTransport | None) -> httpx.Client:
    """An httpx client with an explicit timeout on every phase and no redirects followed."""
    return httpx.Client(timeout=httpx.Timeout(timeout_seconds), transport=transport)


class HealthProbeOptions(ProviderOptions):
    """Where to probe and what counts as healthy."""

    url: str
    timeout_seconds: float = 2.0
    expect_status: int = 200
    body_contains: str | None = None
    metric: str = "health_check_failed"
    latency_metric: str = "health_latency_ms"


class HealthProbe(MetricSource):
    """GET a health endpoint; feeds `health_check_failed` (0/1) and `health_latency_ms`."""

    name = "http_health"
    title = "HTTP health check"
    capabilities = Capability.METRICS | Capability.HEALTH
    Options = HealthProbeOptions

    def __init__(
        self,
        options: HealthProbeOptions,
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(options)
        self.opts = options
        self.clock: Clock = clock or SystemClock()
        self._client = make_client(options.timeout_seconds, transport)

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

    def close(self) -> None:
        self._client.close()
