"""What the HTTP metric sources share: a client, one way to read an answer, failure wording.

They word network failures alike ("connection refused", "no complete answer within 2 s"), read
every answer through `providers.http_read` (one total deadline per poll, a cap on the body),
back off when the server says so (429, or 503 with Retry-After: `RateLimited`), never emit a
number that is not finite, and take an injectable clock and httpx transport. The query-driven
ones (/metrics scrape, Prometheus API, JSON endpoint) also share their queries' base: one cockpit
metric name each, unique per source.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Self, cast

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cockpit.core.clock import Clock, SystemClock
from cockpit.core.errors import ProviderTimeout, ProviderUnavailable, RateLimited
from cockpit.core.metrics import Sample
from providers.base import MetricSource, ProviderOptions
from providers.http_read import (
    AnswerTooLarge,
    Deadline,
    MiB,
    deadline_mounts,
    deadline_transport,
    read,
    retry_after_seconds,
)


def http_failure_reason(exc: httpx.HTTPError, timeout_seconds: float) -> str:
    """A short reason for a failed request: "connection refused", "no complete answer ..."."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no complete answer within {timeout_seconds:g} s"
    if isinstance(exc, AnswerTooLarge):
        return str(exc)
    if isinstance(exc, httpx.ConnectError):
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused"
            cause = cause.__cause__ or cause.__context__
        text = str(exc)
        return "connection refused" if "refused" in text.lower() else f"cannot connect: {text}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"broken answer: {exc}" if str(exc) else "broken answer"
    if isinstance(exc, httpx.DecodingError):
        return f"unreadable answer: {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def make_client(
    timeout_seconds: float, transport: httpx.BaseTransport | None, **settings: Any
) -> httpx.Client:
    """An httpx client with a timeout on every phase, no redirects followed, and sockets that
    obey `read()`'s total deadline (unless a transport is injected)."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_seconds),
        transport=transport or deadline_transport(),
        mounts=None if transport else deadline_mounts(),
        follow_redirects=False,
        **settings,
    )


def show(value: float) -> str:
    """A number as Prometheus writes it: NaN, +Inf, -Inf, or its shortest form."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:g}"


def finite_sample(
    name: str, value: float | None, at: datetime, source: str, error: str = ""
) -> Sample:
    """The Sample for a computed value; a NaN or infinite one becomes no data with its reason.

    The last guard, after scale and invert: 1e308 * 10 is +Inf and 0 * Inf is NaN.
    """
    if value is None or math.isfinite(value):
        return Sample(name, value, at, source, error)
    return Sample(name, None, at, source, f"{name} is {show(value)}")


class HttpOptions(ProviderOptions):
    """Where an HTTP source reads, how long one poll may take, how much it may read."""

    url: str
    timeout_seconds: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    """For the whole poll: connecting, the headers and the body, every request of it."""
    max_body_bytes: int = Field(default=4 * MiB, gt=0)
    """Larger answers fail the poll; each source sets a default fit for what it reads."""


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
        self.http_options = options
        self._client = make_client(options.timeout_seconds, transport)

    def close(self) -> None:
        self._client.close()

    def deadline(self) -> Deadline:
        """A new poll's deadline: every request of one sample() shares it."""
        return Deadline(self.http_options.timeout_seconds)

    def get(self, url: str, deadline: Deadline, **kwargs: Any) -> httpx.Response:
        """One GET read whole; raises ProviderTimeout, ProviderUnavailable or RateLimited.

        The caller judges any other status: a Prometheus error envelope comes with a 4xx / 5xx.
        """
        try:
            response = read(
                self._client,
                "GET",
                url,
                deadline=deadline,
                max_bytes=self.http_options.max_body_bytes,
                **kwargs,
            )
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(
                f"GET {url}: no complete answer within {deadline.seconds:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            reason = http_failure_reason(exc, deadline.seconds)
            raise ProviderUnavailable(f"GET {url}: {reason}") from exc
        refuse_rate_limit(response, f"GET {url}")
        return response


def refuse_rate_limit(response: httpx.Response, what: str) -> None:
    """Raise RateLimited for a 429, or a 503 with Retry-After: the server asked us to wait.

    A 429 without a readable Retry-After still is one (retry_after None: wait one interval). A
    503 without one is an ordinary failure.
    """
    status = response.status_code
    header = response.headers.get("retry-after")
    if status == 429 or (status == 503 and header is not None):
        wait = retry_after_seconds(header)
        meaning = "rate limited" if status == 429 else "unavailable"
        raise RateLimited(f"{what}: {meaning} ({status})", wait)


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
