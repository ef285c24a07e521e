"""What the HTTP metric sources share: a client with explicit timeouts, failure wording, seams.

Both the /metrics scrape and the health probe word network failures alike ("connection
refused", "timeout after 2.0 s"), and both take an injectable clock and httpx transport.
"""

from __future__ import annotations

import httpx
from pydantic import Field

from cockpit.core.clock import Clock, SystemClock
from providers.base import MetricSource, ProviderOptions


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


class HttpOptions(ProviderOptions):
    """Where an HTTP source reads, and how long it waits."""

    url: str
    timeout_seconds: float = Field(default=2.0, gt=0)


class HttpSource(MetricSource):
    """A metric source that talks HTTP."""

    def __init__(
        self,
        options: HttpOptions,
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(options)
        self.clock: Clock = clock or SystemClock()
        self._client = make_client(options.timeout_seconds, transport)

    def close(self) -> None:
        self._client.close()
