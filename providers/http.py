"""What the HTTP metric sources share: a client with explicit timeouts, failure wording, seams.

They word network failures alike ("connection refused", "timeout after 2.0 s") and take an
injectable clock and httpx transport. The query-driven ones (/metrics scrape, Prometheus API,
JSON endpoint) also share their queries' base: one cockpit metric name each, unique per source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self, cast

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class NoValue(Exception):
    """A reading answered but gives no usable number; the message becomes the Sample's error."""


class Query(BaseModel):
    """One cockpit metric a source computes; each source's query model extends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)


class QueryOptions(HttpOptions):
    """Options of a source that runs one query per cockpit metric."""

    metrics: Sequence[Query] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        # Two queries feeding one metric would double its samples and its trigger counts.
        names = [query.name for query in self.metrics]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"metric names must be unique: {', '.join(duplicated)}")
        return self


class QuerySource(HttpSource):
    """A source whose metrics are its options' queries."""

    @property
    def metric_names(self) -> list[str]:
        return [query.name for query in cast(QueryOptions, self.options).metrics]
